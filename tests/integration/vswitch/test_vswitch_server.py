"""ServerVSwitch on real OVS bridges: containers in netns, two servers joined back to back by a trunk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from prewire.vswitch import Attachment, ServerVSwitch
from tests.integration.switchagent.pwxsw_fabric import Fabric, dump_flows, leftovers

pytestmark = pytest.mark.root


MAC = {"a": "02:5a:00:00:00:0a", "b": "02:5a:00:00:00:0b", "c": "02:5a:00:00:00:0c", "d": "02:5a:00:00:00:0d"}
IP = {"a": "10.231.0.1", "b": "10.231.0.2", "c": "10.231.0.3", "d": "10.231.0.4"}


@pytest.fixture
def setup() -> Iterator[tuple[Fabric, asyncio.AbstractEventLoop, dict[str, int], list[ServerVSwitch]]]:
    fab = Fabric("v")
    loop = asyncio.new_event_loop()
    switches: list[ServerVSwitch] = []
    try:
        s1, s2 = fab.bridge("s1"), fab.bridge("s2")
        # back-to-back trunk: the "ToR" is a plain veth pair between the two uplinks
        fab._veth(f"{fab.prefix}u1", f"{fab.prefix}u2")
        up1 = fab.db.add_ports(s1, [f"{fab.prefix}u1"])[f"{fab.prefix}u1"]
        up2 = fab.db.add_ports(s2, [f"{fab.prefix}u2"])[f"{fab.prefix}u2"]
        ports = {
            "a": fab.container("a", s1, MAC["a"], IP["a"] + ""),
            "c": fab.container("c", s1, MAC["c"], IP["c"]),
            "b": fab.container("b", s2, MAC["b"], IP["b"]),
            "d": fab.container("d", s2, MAC["d"], IP["d"]),
        }
        switches = [ServerVSwitch(s1, up1), ServerVSwitch(s2, up2)]
        for vs in switches:
            loop.run_until_complete(vs.connect())
            loop.run_until_complete(vs.install_base_flows())
        yield fab, loop, ports, switches
    finally:
        for vs in switches:
            loop.run_until_complete(vs.close())
        loop.close()
        fab.cleanup()
    assert leftovers("pwxswv") == []


@contextlib.contextmanager
def restarted(vs: ServerVSwitch, loop: asyncio.AbstractEventLoop) -> Iterator[ServerVSwitch]:
    """A second ServerVSwitch on `vs`'s bridge, as a restarted agent makes it (reads the flows back)."""
    again = ServerVSwitch(vs.bridge, vs.uplink)
    loop.run_until_complete(again.connect())
    try:
        yield again
    finally:
        loop.run_until_complete(again.close())


def test_same_vlan_reaches_across_servers_other_vlan_does_not(setup) -> None:  # type: ignore[no-untyped-def]
    fab, loop, ports, (vs1, vs2) = setup
    assert not fab.ping("a", IP["b"], count=2)  # nothing attached: everything dropped
    loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 100))
    loop.run_until_complete(vs2.attach(ports["b"], MAC["b"], 100))
    loop.run_until_complete(vs1.attach(ports["c"], MAC["c"], 100))
    loop.run_until_complete(vs2.attach(ports["d"], MAC["d"], 200))
    assert fab.ping("a", IP["b"])  # across the trunk, tagged on the wire
    assert fab.ping("a", IP["c"])  # same server, same VLAN
    assert not fab.ping("a", IP["d"], count=3)  # VLAN 200
    assert not fab.ping("d", IP["b"], count=3)

    loop.run_until_complete(vs1.detach(ports["a"], MAC["a"], 100))
    fab.flush_neigh("a")
    assert not fab.ping("a", IP["b"], count=3)
    assert fab.ping("c", IP["b"])


def test_reconnect_reads_attachments_back(setup) -> None:  # type: ignore[no-untyped-def]
    _fab, loop, ports, (vs1, _vs2) = setup
    loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 100))
    loop.run_until_complete(vs1.attach(ports["c"], MAC["c"], 300))
    with restarted(vs1, loop) as again:
        assert again.ports() == {ports["a"]: 100, ports["c"]: 300}  # the ports' VLANs, from the flows
        loop.run_until_complete(again.attach(ports["c"], MAC["c"], 300))  # the agent's reconcile
        assert again.attachments() == [Attachment(ports["c"], MAC["c"], 300)]
        loop.run_until_complete(again.detach(ports["c"], MAC["c"], 300))
        assert again.ports() == {ports["a"]: 100}


def test_prune_takes_the_vlan_off_ports_whose_containers_left_meanwhile(setup) -> None:  # type: ignore[no-untyped-def]
    """Agent restart: port a's container went away while the agent was down, port c's still runs."""
    fab, loop, ports, (vs1, vs2) = setup
    loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 100))
    loop.run_until_complete(vs1.attach(ports["c"], MAC["c"], 100))
    loop.run_until_complete(vs2.attach(ports["b"], MAC["b"], 100))
    with restarted(vs1, loop) as again:
        loop.run_until_complete(again.attach(ports["c"], MAC["c"], 100))  # reconcile: c is alive
        assert loop.run_until_complete(again.prune()) == [ports["a"]]
        assert again.ports() == {ports["c"]: 100}
        assert loop.run_until_complete(again.prune()) == []  # idempotent
        fab.flush_neigh("b")
        assert fab.ping("b", IP["c"])  # the live container keeps its VLAN
        assert not fab.ping("b", IP["a"], count=3)  # the pruned port gets nothing of the VLAN


def test_a_read_back_port_moved_to_another_vlan_leaves_the_old_vlans_flood(setup) -> None:  # type: ignore[no-untyped-def]
    """After a restart port a carries VLAN 100 by its flows but no MAC; a container of VLAN 200 gets it."""
    _fab, loop, ports, (vs1, _vs2) = setup
    loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 100))
    loop.run_until_complete(vs1.attach(ports["c"], MAC["c"], 100))
    with restarted(vs1, loop) as again:
        loop.run_until_complete(again.attach(ports["a"], MAC["a"], 200))
        assert again.ports() == {ports["a"]: 200, ports["c"]: 100}
        flood100 = [f for f in dump_flows(vs1.bridge) if "table=1" in f and "dl_vlan=100" in f]
        assert len(flood100) == 1 and f"output:{ports['a']}" not in flood100[0], flood100
        assert f"output:{ports['c']}" in flood100[0]


def test_attach_rejects_bad_vlan(setup) -> None:  # type: ignore[no-untyped-def]
    from prewire.errors import InvalidInput

    _fab, loop, ports, (vs1, _vs2) = setup
    with pytest.raises(InvalidInput):
        loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 4095))


def test_lost_channel_and_flows_are_restored(setup) -> None:  # type: ignore[no-untyped-def]
    from prewire.openflow import codec

    fab, loop, ports, (vs1, vs2) = setup
    loop.run_until_complete(vs1.attach(ports["a"], MAC["a"], 100))
    loop.run_until_complete(vs2.attach(ports["b"], MAC["b"], 100))
    assert fab.ping("a", IP["b"])

    async def wipe_and_drop() -> None:  # as if ovs-vswitchd restarted: every flow gone, channel lost
        conn = vs1._conn
        assert conn is not None
        await conn.transact([codec.flow_mod(codec.DELETE, codec.Match(), table_id=0xFF)])
        await conn.close()

    loop.run_until_complete(wipe_and_drop())
    fab.flush_neigh("a")
    assert not fab.ping("a", IP["b"], count=2)
    loop.run_until_complete(vs1.attach(ports["c"], MAC["c"], 100))  # reconnects, re-installs everything
    assert fab.ping("a", IP["b"]) and fab.ping("c", IP["b"])


def test_server_without_uplink_switches_locally(setup) -> None:  # type: ignore[no-untyped-def]
    fab, loop, ports, (vs1, _vs2) = setup
    local = ServerVSwitch(vs1.bridge, 0, announce_interval=0)
    loop.run_until_complete(vs1.close())
    loop.run_until_complete(local.connect())
    try:
        loop.run_until_complete(local.install_base_flows())
        loop.run_until_complete(local.attach(ports["a"], MAC["a"], 100))
        loop.run_until_complete(local.attach(ports["c"], MAC["c"], 100))
        assert fab.ping("a", IP["c"])
    finally:
        loop.run_until_complete(local.close())
