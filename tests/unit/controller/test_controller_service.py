"""Controller service on a real (temporary) SQLite: tenancy, networks, pools, endpoints, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from prewire.controller.service import Controller
from prewire.domain.model import ADMIN, BoundReport, Principal
from prewire.errors import Conflict, Exhausted, Forbidden, InvalidInput, NotFound, PrewireError, Unauthorized
from tests.unit.controller.ctl_helpers import ADMIN_TOKEN, NEVER_ALLOCATED, snapshot


def setup(ctl: Controller) -> str:
    _t, token = ctl.create_tenant(ADMIN, "acme")
    ctl.create_network(ADMIN, "acme", "web", "10.0.0.0/24", gateway="10.0.0.1")
    ctl.register_switch(ADMIN, "tor0", "fake", {})
    ctl.register_server(ADMIN, "srv0", "tor0", "p1")
    ctl.register_server(ADMIN, "srv1", "tor0", "p2")
    return token


def test_authenticate(ctl: Controller) -> None:
    token = setup(ctl)
    assert ctl.authenticate(ADMIN_TOKEN).is_admin
    assert ctl.authenticate(token) == Principal("acme")
    for bad in (None, "", "nope", "pwa_tést"):
        with pytest.raises(Unauthorized):
            ctl.authenticate(bad)


def test_overlapping_subnets_across_tenants(ctl: Controller) -> None:
    setup(ctl)
    ctl.create_tenant(ADMIN, "blue")
    net = ctl.create_network(ADMIN, "blue", "web", "10.0.0.0/24")
    assert net.vlan == 101
    a = ctl.take(ADMIN, "srv0", "acme/web", 3)
    b = ctl.take(ADMIN, "srv0", "blue/web", 3)
    assert {p.ip for p in a} & {p.ip for p in b}  # same addresses, different VLANs
    assert not {p.mac for p in a} & {p.mac for p in b}
    assert {p.vlan for p in a} == {100} and {p.vlan for p in b} == {101}


def test_pool_prefilled_and_refilled_below_low_watermark(ctl: Controller) -> None:
    setup(ctl)
    assert ctl.get_network(ADMIN, "acme", "web").profiles == {"free": 8, "server": 0, "bound": 0}
    ctl.take(ADMIN, "srv0", "acme/web", 3)  # 5 free left: above low (4)
    assert ctl.refill() == 0
    ctl.take(ADMIN, "srv0", "acme/web", 3)  # 2 free: below low
    assert ctl.refill() == 6
    assert ctl.get_network(ADMIN, "acme", "web").profiles == {"free": 8, "server": 6, "bound": 0}


def test_pool_trimmed_above_twice_the_target(ctl: Controller) -> None:
    setup(ctl)
    got = ctl.take(ADMIN, "srv0", "acme/web", 30)
    ctl.return_profiles(ADMIN, "srv0", [p.mac for p in got])  # 30 free > 2 x target (8)
    assert ctl.refill() == 14
    free = ctl.get_network(ADMIN, "acme", "web").profiles["free"]
    assert free == 16 and ctl.refill() == 0
    assert len(ctl.desired_profiles()) == 16  # switches will forget the trimmed MACs


def test_take_gives_unique_handable_addresses(ctl: Controller) -> None:
    setup(ctl)
    got = ctl.take(ADMIN, "srv0", "acme/web", 200)
    ips = [p.ip for p in got]
    assert len(set(ips)) == 200 and len({p.mac for p in got}) == 200
    assert not {"10.0.0.0", "10.0.0.1", "10.0.0.255"} & set(ips)
    assert all(p.prefix == 24 and p.gateway == "10.0.0.1" and p.network == "acme/web" for p in got)
    assert len(ctl.pool(ADMIN, "srv0")) == 200


def test_exhaustion_writes_nothing(ctl: Controller) -> None:
    setup(ctl)
    ctl.take(ADMIN, "srv0", "acme/web", 250)
    before = snapshot(ctl)
    with pytest.raises(Exhausted, match="free addresses"):
        ctl.take(ADMIN, "srv1", "acme/web", 5)  # 253 handable in a /24 with a gateway
    assert snapshot(ctl) == before
    assert len(ctl.take(ADMIN, "srv1", "acme/web", 3)) == 3


def test_report_idempotent_and_per_item(ctl: Controller) -> None:
    setup(ctl)
    mine = ctl.take(ADMIN, "srv0", "acme/web", 2)
    other = ctl.take(ADMIN, "srv1", "acme/web", 1)
    report = [BoundReport(mine[0].mac, "c1", "eth0", "pwh0x1"), BoundReport(other[0].mac, "c2")]
    out = ctl.report(ADMIN, "srv0", report, [NEVER_ALLOCATED, "bad-mac"])
    assert [r.ok for r in out["bound"]] == [True, False]
    assert out["bound"][1].error == "conflict"
    assert [r.error for r in out["released"]] == ["not_found", "invalid_input"]
    state = snapshot(ctl)
    again = ctl.report(ADMIN, "srv0", report[:1], [])
    assert again["bound"][0].message == "unchanged"
    assert snapshot(ctl) == state
    eps = ctl.list_endpoints(ADMIN)
    assert [(e.container, e.server, e.switch, e.switch_port, e.port) for e in eps] == [
        ("c1", "srv0", "tor0", "p1", "pwh0x1")
    ]
    # release naming another container (MAC reused meanwhile) is ignored; naming the right one releases
    out = ctl.report(ADMIN, "srv0", [], [(mine[0].mac, "old")])
    assert out["released"][0].ok and len(ctl.list_endpoints(ADMIN)) == 1
    ctl.report(ADMIN, "srv0", [], [(mine[0].mac, "c1")])
    assert ctl.list_endpoints(ADMIN) == []
    assert ctl.report(ADMIN, "srv0", [], [mine[0].mac])["released"][0].message == "unchanged"


def test_bound_then_released_in_one_batch(ctl: Controller) -> None:
    setup(ctl)
    (p,) = ctl.take(ADMIN, "srv0", "acme/web", 1)
    ctl.report(ADMIN, "srv0", [BoundReport(p.mac, "short")], [(p.mac, "short")])
    assert ctl.list_endpoints(ADMIN) == []


def test_reused_mac_in_one_batch(ctl: Controller) -> None:
    """A plain release concerns the earlier binding; the binding in the same batch is newer and stays."""
    setup(ctl)
    (p,) = ctl.take(ADMIN, "srv0", "acme/web", 1)
    ctl.report(ADMIN, "srv0", [BoundReport(p.mac, "a")], [])
    out = ctl.report(ADMIN, "srv0", [BoundReport(p.mac, "b")], [p.mac])
    assert out["bound"][0].ok and out["released"][0].ok
    assert [e.container for e in ctl.list_endpoints(ADMIN)] == ["b"]
    ctl.report(ADMIN, "srv0", [BoundReport(p.mac, "c")], [(p.mac, "b")])
    assert [e.container for e in ctl.list_endpoints(ADMIN)] == ["c"]


def test_return_profiles(ctl: Controller) -> None:
    setup(ctl)
    got = ctl.take(ADMIN, "srv0", "acme/web", 3)
    ctl.report(ADMIN, "srv0", [BoundReport(got[0].mac, "c1")], [])
    res = ctl.return_profiles(ADMIN, "srv1", [got[1].mac])
    assert not res[0].ok and res[0].error == "conflict"
    res = ctl.return_profiles(ADMIN, "srv0", [p.mac for p in got])
    assert [r.ok for r in res] == [False, True, True]  # a bound profile cannot be returned
    assert [r.ok for r in ctl.return_profiles(ADMIN, "srv0", [got[1].mac])] == [True]  # idempotent
    assert {p.mac for p in ctl.pool(ADMIN, "srv0")} == {got[0].mac}


def test_delete_network_refused_with_bound_endpoints(ctl: Controller) -> None:
    setup(ctl)
    (p,) = ctl.take(ADMIN, "srv0", "acme/web", 1)
    ctl.report(ADMIN, "srv0", [BoundReport(p.mac, "c1")], [])
    before = snapshot(ctl)
    with pytest.raises(Conflict, match="bound endpoints"):
        ctl.delete_network(ADMIN, "acme", "web")
    assert snapshot(ctl) == before
    with pytest.raises(Conflict, match="still has networks"):
        ctl.delete_tenant(ADMIN, "acme")
    ctl.report(ADMIN, "srv0", [], [p.mac])
    ctl.delete_network(ADMIN, "acme", "web")
    assert ctl.list_networks(ADMIN) == [] and ctl.pool(ADMIN, "srv0") == []
    ctl.delete_tenant(ADMIN, "acme")


def test_tenant_isolation(ctl: Controller) -> None:
    setup(ctl)
    ctl.create_tenant(ADMIN, "blue")
    blue = Principal("blue")
    ctl.create_network(blue, "blue", "db", "10.9.0.0/24")
    assert [n.ref for n in ctl.list_networks(blue)] == ["blue/db"]
    assert [t.name for t in ctl.list_tenants(blue)] == ["blue"]
    before = snapshot(ctl)
    calls: list[Callable[[], object]] = [
        lambda: ctl.create_network(blue, "acme", "x", "10.1.0.0/24"),
        lambda: ctl.get_network(blue, "acme", "web"),
        lambda: ctl.delete_network(blue, "acme", "web"),
        lambda: ctl.create_tenant(blue, "evil"),
        lambda: ctl.take(blue, "srv0", "blue/db", 1),
        lambda: ctl.register_switch(blue, "sw", "fake", {}),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert snapshot(ctl) == before


BAD: list[tuple[str, Callable[[Controller], object], type[PrewireError]]] = [
    ("bad cidr", lambda c: c.create_network(ADMIN, "acme", "n2", "10.0.0.0/40"), InvalidInput),
    ("host bits", lambda c: c.create_network(ADMIN, "acme", "n2", "10.0.0.5/24"), InvalidInput),
    ("vlan range", lambda c: c.create_network(ADMIN, "acme", "n2", "10.2.0.0/24", vlan=4000), InvalidInput),
    ("vlan taken", lambda c: c.create_network(ADMIN, "acme", "n2", "10.2.0.0/24", vlan=100), Conflict),
    ("dup network", lambda c: c.create_network(ADMIN, "acme", "web", "10.2.0.0/24"), Conflict),
    ("dup tenant", lambda c: c.create_tenant(ADMIN, "acme"), Conflict),
    ("bad name", lambda c: c.create_tenant(ADMIN, "Bad Name"), InvalidInput),
    ("unknown tenant", lambda c: c.create_network(ADMIN, "ghost", "n", "10.2.0.0/24"), NotFound),
    ("tiny subnet", lambda c: c.create_network(ADMIN, "acme", "n2", "10.2.0.0/30"), InvalidInput),
    (
        "bad gateway",
        lambda c: c.create_network(ADMIN, "acme", "n2", "10.2.0.0/24", gateway="10.3.0.1"),
        InvalidInput,
    ),
    ("unknown server", lambda c: c.take(ADMIN, "ghost", "acme/web", 1), NotFound),
    ("unknown network", lambda c: c.take(ADMIN, "srv0", "acme/ghost", 1), NotFound),
    ("bad count", lambda c: c.take(ADMIN, "srv0", "acme/web", 0), InvalidInput),
    ("huge count", lambda c: c.take(ADMIN, "srv0", "acme/web", 10**6), InvalidInput),
    ("too many", lambda c: c.take(ADMIN, "srv0", "acme/web", 300), Exhausted),
    ("bad ref", lambda c: c.take(ADMIN, "srv0", "acme", 1), InvalidInput),
    ("unknown switch", lambda c: c.register_server(ADMIN, "srv9", "ghost"), NotFound),
    ("no driver", lambda c: c.register_switch(ADMIN, "sw9", "", {}), InvalidInput),
]


@pytest.mark.parametrize(("label", "call", "error"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_writes_nothing(
    ctl: Controller, label: str, call: Callable[[Controller], object], error: type[PrewireError]
) -> None:
    setup(ctl)
    before = snapshot(ctl)
    with pytest.raises(error) as info:
        call(ctl)
    assert info.value.message and "\n" not in info.value.message
    assert snapshot(ctl) == before, label


def test_vlan_range_configurable(tmp_path: object) -> None:
    from tests.unit.controller.ctl_helpers import make_controller

    c = make_controller(f"sqlite:///{tmp_path}/v.db", vlans="10-11")
    c.create_tenant(ADMIN, "t")
    assert c.create_network(ADMIN, "t", "a", "10.0.0.0/24").vlan == 10
    assert c.create_network(ADMIN, "t", "b", "10.0.0.0/24").vlan == 11
    with pytest.raises(Exhausted, match="no free VLAN"):
        c.create_network(ADMIN, "t", "c", "10.0.0.0/24")
    c.store.dispose()


def test_servers_and_switches(ctl: Controller) -> None:
    setup(ctl)
    ctl.take(ADMIN, "srv0", "acme/web", 2)
    servers = {s.name: s for s in ctl.list_servers(ADMIN)}
    assert servers["srv0"].held == 2 and servers["srv1"].held == 0
    ctl.register_server(ADMIN, "srv0", "tor0", "p9")  # idempotent update
    assert {s.name: s.switch_port for s in ctl.list_servers(ADMIN)}["srv0"] == "p9"
    ctl.delete_server(ADMIN, "srv0")
    assert ctl.get_network(ADMIN, "acme", "web").profiles["free"] == 8
    assert [s.name for s in ctl.list_switches(ADMIN)] == ["tor0"]
    ctl.delete_switch(ADMIN, "tor0")
    assert ctl.list_switches(ADMIN) == []
