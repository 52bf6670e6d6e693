"""How the CLI finds the controller URL and token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prewire.cli import context
from prewire.errors import Unauthorized


def test_explicit_wins(tmp_path: Path) -> None:
    lab = tmp_path / "lab.json"
    lab.write_text(json.dumps({"controller_url": "http://lab:1", "admin_token_file": "/nope"}))
    assert context.resolve("http://x:1", "tok", lab) == ("http://x:1", "tok")


def test_lab_state_file(tmp_path: Path) -> None:
    tok = tmp_path / "admin.token"
    tok.write_text("labtoken\n")
    lab = tmp_path / "lab.json"
    lab.write_text(json.dumps({"controller_url": "http://127.0.0.1:9999", "admin_token_file": str(tok)}))
    assert context.resolve(None, None, lab) == ("http://127.0.0.1:9999", "labtoken")


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = tmp_path / "admin.token"
    tok.write_text("default\n")
    monkeypatch.setattr(context, "DEFAULT_TOKEN_FILE", tok)
    assert context.resolve(None, None, tmp_path / "absent.json") == (context.DEFAULT_URL, "default")
    (tmp_path / "bad.json").write_text("{not json")
    monkeypatch.setattr(context, "DEFAULT_TOKEN_FILE", tmp_path / "absent.token")
    assert context.resolve(None, None, tmp_path / "bad.json") == (context.DEFAULT_URL, None)


def test_no_token_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "LAB_STATE", tmp_path / "absent.json")
    monkeypatch.setattr(context, "DEFAULT_TOKEN_FILE", tmp_path / "absent.token")
    monkeypatch.delenv("PREWIRE_TOKEN", raising=False)
    with pytest.raises(Unauthorized, match="--token"):
        context.client(None, None)
    with context.client("http://127.0.0.1:1", "t") as c:
        assert c.url == "http://127.0.0.1:1"
