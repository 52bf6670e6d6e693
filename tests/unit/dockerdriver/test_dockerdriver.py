"""The libnetwork remote driver: protocol answers, agent calls, state, HTTP over a unix socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from prewire.dockerdriver.driver import DockerDriver
from prewire.dockerdriver.server import CONTENT_TYPE, DriverServer
from prewire.errors import Conflict, Exhausted, InvalidInput, NotFound

NID, EID = "n" * 64, "e" * 64
WIRED = {"mac": "02:aa:00:00:00:07", "ip": "10.1.0.7", "prefix": 24, "gateway": "10.1.0.1"}


class Recorder:
    """Agent and link seams recording the order of calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.wire_error: Exception | None = None

    def agent(self, op: str, **params: Any) -> Any:
        self.calls.append((op, params))
        if op == "wire":
            if self.wire_error:
                raise self.wire_error
            return dict(WIRED, ifname=params["ifname"], netns=params["netns"])
        return {"released": True}

    def ensure_scratch(self) -> str:
        return "/run/netns/pwxdrv"

    def to_root(self, ifname: str, mac: str) -> None:
        self.calls.append(("to_root", {"ifname": ifname, "mac": mac}))

    def remove_scratch(self) -> None:
        self.calls.append(("remove_scratch", {}))

    def delete(self, ifname: str, mac: str) -> bool:
        self.calls.append(("delete", {"ifname": ifname, "mac": mac}))
        return True


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def driver(rec: Recorder, tmp_path: Path) -> DockerDriver:
    return DockerDriver(rec.agent, rec, str(tmp_path / "prewire.json"))


def create_network(driver: DockerDriver, network: str = "acme/web") -> None:
    driver.handle(
        "NetworkDriver.CreateNetwork",
        {
            "NetworkID": NID,
            "Options": {"com.docker.network.generic": {"network": network}},
            "IPv4Data": [{"AddressSpace": "null", "Pool": "0.0.0.0/0"}],
            "IPv6Data": [],
        },
    )


def create_endpoint(driver: DockerDriver, **iface: str) -> dict[str, Any]:
    return driver.handle(
        "NetworkDriver.CreateEndpoint",
        {
            "NetworkID": NID,
            "EndpointID": EID,
            "Interface": {"Address": "", "AddressIPv6": "", "MacAddress": "", **iface},
            "Options": {},
        },
    )


def test_activate_and_capabilities(driver: DockerDriver) -> None:
    assert driver.handle("Plugin.Activate", {}) == {"Implements": ["NetworkDriver"]}
    assert driver.handle("NetworkDriver.GetCapabilities", {})["Scope"] == "local"


def test_create_network_needs_the_network_option_and_null_ipam(driver: DockerDriver) -> None:
    with pytest.raises(InvalidInput, match="--opt network="):
        create_network(driver, network="")
    with pytest.raises(InvalidInput, match="--ipam-driver null"):
        driver.handle(
            "NetworkDriver.CreateNetwork",
            {
                "NetworkID": NID,
                "Options": {"com.docker.network.generic": {"network": "a/b"}},
                "IPv4Data": [{"AddressSpace": "LocalDefault", "Pool": "172.18.0.0/16"}],
            },
        )


def test_endpoint_is_wired_by_the_agent_then_handed_to_docker(driver: DockerDriver, rec: Recorder) -> None:
    create_network(driver)
    reply = create_endpoint(driver)
    assert reply == {"Interface": {"Address": "10.1.0.7/24", "MacAddress": WIRED["mac"]}}
    ifname = ("pwd" + EID)[:15]
    assert rec.calls == [
        (
            "wire",
            {
                "network": "acme/web",
                "container": EID,
                "ifname": ifname,
                "netns": "/run/netns/pwxdrv",
                "source": "docker-driver",
            },
        ),
        ("to_root", {"ifname": ifname, "mac": WIRED["mac"]}),
    ]
    join = driver.handle("NetworkDriver.Join", {"NetworkID": NID, "EndpointID": EID, "SandboxKey": "/x"})
    assert join == {
        "InterfaceName": {"SrcName": ifname, "DstPrefix": "eth"},
        "Gateway": "10.1.0.1",
        "DisableGatewayService": True,
    }
    assert driver.handle("NetworkDriver.Leave", {"NetworkID": NID, "EndpointID": EID}) == {}


def test_delete_endpoint_frees_the_link_before_release_and_is_idempotent(
    driver: DockerDriver, rec: Recorder
) -> None:
    create_network(driver)
    create_endpoint(driver)
    rec.calls.clear()
    body = {"NetworkID": NID, "EndpointID": EID}
    assert driver.handle("NetworkDriver.DeleteEndpoint", body) == {}
    assert [op for op, _ in rec.calls] == ["delete", "release"]
    assert rec.calls[1][1] == {"container": EID, "ifname": ("pwd" + EID)[:15]}
    assert driver.handle("NetworkDriver.DeleteEndpoint", body) == {}
    assert len(rec.calls) == 2
    driver.shutdown()
    assert rec.calls[-1][0] == "remove_scratch", "no endpoint left: the scratch netns goes"


def test_state_survives_a_driver_restart(driver: DockerDriver, rec: Recorder, tmp_path: Path) -> None:
    create_network(driver)
    create_endpoint(driver)
    again = DockerDriver(rec.agent, rec, str(tmp_path / "prewire.json"))
    assert again.handle("NetworkDriver.Join", {"EndpointID": EID})["InterfaceName"]["SrcName"].startswith(
        "pwd"
    )
    assert again.networks[NID] == {"network": "acme/web"}


def test_errors_and_user_supplied_addresses(driver: DockerDriver, rec: Recorder) -> None:
    with pytest.raises(NotFound):
        create_endpoint(driver)
    create_network(driver)
    with pytest.raises(InvalidInput, match="ipam-driver null"):
        create_endpoint(driver, Address="10.9.9.9/24")
    rec.wire_error = Exhausted("no free profile for acme/web on srv0")
    with pytest.raises(Exhausted):
        create_endpoint(driver)
    rec.wire_error = None
    with pytest.raises(InvalidInput, match="--mac-address"):
        create_endpoint(driver, MacAddress="02:00:00:00:00:01")
    assert [op for op, _ in rec.calls][-2:] == ["delete", "release"], "nothing left wired"
    with pytest.raises(NotFound):
        driver.handle("NetworkDriver.Frobnicate", {})


def test_http_over_unix_socket(driver: DockerDriver, tmp_path: Path) -> None:
    server = DriverServer(driver, name="pwxtest", plugin_dir=str(tmp_path))
    server.start()
    try:
        transport = httpx.HTTPTransport(uds=server.socket_path)
        with httpx.Client(transport=transport, base_url="http://plugin") as client:
            ok = client.post("/Plugin.Activate", content=b"")
            assert ok.status_code == 200 and ok.json() == {"Implements": ["NetworkDriver"]}
            assert ok.headers["content-type"] == CONTENT_TYPE
            bad = client.post("/NetworkDriver.CreateNetwork", content=json.dumps({"NetworkID": NID}))
            assert bad.status_code == 500 and "--opt network=" in bad.json()["Err"]
            junk = client.post("/NetworkDriver.CreateNetwork", content=b"{nope")
            assert junk.status_code == 500 and junk.json()["Err"]
        with pytest.raises(Conflict, match="already serves"):
            DriverServer(driver, name="pwxtest", plugin_dir=str(tmp_path))
    finally:
        server.close()
    assert not Path(server.socket_path).exists()


def test_reconcile_releases_endpoints_docker_forgot(driver: DockerDriver, rec: Recorder) -> None:
    create_network(driver)
    create_endpoint(driver)
    assert driver.reconcile(lambda nid: {EID}) == [] and EID in driver.endpoints
    rec.calls.clear()
    assert driver.reconcile(lambda nid: set()) == [EID]
    assert [op for op, _ in rec.calls] == ["delete", "release"] and not driver.endpoints
    assert driver.reconcile(lambda nid: None) == [] and not driver.networks
