"""Names, network references and the profile state machine."""

from __future__ import annotations

import pytest

from prewire.domain.model import (
    ProfileEvent as E,
)
from prewire.domain.model import (
    ProfileState as S,
)
from prewire.domain.model import (
    check_name,
    split_network_ref,
    transition,
)
from prewire.errors import Conflict, InvalidInput


@pytest.mark.parametrize("name", ["a", "acme", "t-1", "x" * 32])
def test_valid_names(name: str) -> None:
    assert check_name("tenant", name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a/b", "x" * 33, "a b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid tenant name"):
        check_name("tenant", name)


def test_network_ref() -> None:
    assert split_network_ref("acme/web") == ("acme", "web")
    for bad in ["acme", "acme/web/x", "/web", "Acme/web"]:
        with pytest.raises(InvalidInput):
            split_network_ref(bad)


def test_lifecycle() -> None:
    st = transition(S.FREE, E.TAKE)
    assert st is S.SERVER
    st = transition(st, E.BIND)
    assert st is S.BOUND
    assert transition(st, E.BIND) is S.BOUND
    st = transition(st, E.RELEASE)
    assert st is S.SERVER
    assert transition(st, E.RELEASE) is S.SERVER
    assert transition(st, E.RETURN) is S.FREE


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.FREE, E.BIND),
        (S.FREE, E.RELEASE),
        (S.FREE, E.RETURN),
        (S.SERVER, E.TAKE),
        (S.BOUND, E.TAKE),
        (S.BOUND, E.RETURN),
    ],
)
def test_never_in_two_places(state: S, event: E) -> None:
    with pytest.raises(Conflict, match="cannot"):
        transition(state, event, "02:00:00:00:00:01")
