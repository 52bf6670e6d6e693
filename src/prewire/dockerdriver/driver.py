"""libnetwork remote driver logic: one method per `NetworkDriver.*` call, state persisted in a JSON file.

    docker network create -d prewire --ipam-driver null --opt network=TENANT/NET NAME
    docker run --network NAME ...

CreateEndpoint takes a profile and a pre-wired port through the agent's one `wire` op (into the driver's
scratch netns, see links.py) and answers with the profile's MAC and IP; Join hands the interface to docker,
which moves it into the container's netns before the container's process starts; DeleteEndpoint deletes
it and `release`s it through the agent.  The endpoint ID is the agent's container key.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

from prewire.errors import InvalidInput, NotFound

Agent = Callable[..., Any]  # agent(op, **params) -> result; raises prewire.errors
GENERIC = "com.docker.network.generic"
IFNAME_PREFIX = "pwd"
SOURCE = "docker-driver"  # the agent's binding source: no watcher, released by DeleteEndpoint only


class LinkOps(Protocol):
    def ensure_scratch(self) -> str: ...
    def to_root(self, ifname: str, mac: str) -> None: ...
    def delete(self, ifname: str, mac: str) -> bool: ...
    def remove_scratch(self) -> None: ...


class DockerDriver:
    """The driver's calls; thread-safe (docker calls concurrently)."""

    def __init__(
        self, agent: Agent, links: LinkOps, state_file: str, ifname_prefix: str = IFNAME_PREFIX
    ) -> None:
        self.agent = agent
        self.ifname_prefix = ifname_prefix
        self.links = links
        self.state_file = state_file
        self._lock = threading.Lock()
        self.networks: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self._load()

    # -- state ----------------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            with open(self.state_file) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return
        self.networks = dict(data.get("networks", {}))
        self.endpoints = dict(data.get("endpoints", {}))

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.state_file) or ".", exist_ok=True)
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"networks": self.networks, "endpoints": self.endpoints}, fh)
        os.replace(tmp, self.state_file)

    def shutdown(self) -> None:
        """On exit: drop the scratch netns unless endpoints still live (their placeholders are in it).
        Never blocks exit behind a call in progress."""
        if not self._lock.acquire(timeout=5.0):
            return
        try:
            if not self.endpoints:
                self.links.remove_scratch()
        finally:
            self._lock.release()

    # -- dispatch -------------------------------------------------------------------------------------
    def handle(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """`Plugin.Activate`, `NetworkDriver.X` -> reply body; raises prewire.errors on bad calls."""
        simple: dict[str, dict[str, Any]] = {
            "Plugin.Activate": {"Implements": ["NetworkDriver"]},
            "NetworkDriver.GetCapabilities": {"Scope": "local", "ConnectivityScope": "local"},
            "NetworkDriver.Leave": {},
            "NetworkDriver.DiscoverNew": {},
            "NetworkDriver.DiscoverDelete": {},
            "NetworkDriver.ProgramExternalConnectivity": {},
            "NetworkDriver.RevokeExternalConnectivity": {},
            "NetworkDriver.AllocateNetwork": {"Options": {}},
            "NetworkDriver.FreeNetwork": {},
        }
        if method in simple:
            return simple[method]
        calls: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "NetworkDriver.CreateNetwork": self.create_network,
            "NetworkDriver.DeleteNetwork": self.delete_network,
            "NetworkDriver.CreateEndpoint": self.create_endpoint,
            "NetworkDriver.DeleteEndpoint": self.delete_endpoint,
            "NetworkDriver.Join": self.join,
            "NetworkDriver.EndpointOperInfo": self.endpoint_info,
        }
        if method not in calls:
            raise NotFound(f"prewire driver does not implement {method}")
        with self._lock:
            return calls[method](body)

    # -- networks -------------------------------------------------------------------------------------
    def create_network(self, body: dict[str, Any]) -> dict[str, Any]:
        options = (body.get("Options") or {}).get(GENERIC) or {}
        network = str(options.get("network", ""))
        tenant, _, name = network.partition("/")
        if not tenant or not name or "/" in name:
            raise InvalidInput("pass --opt network=TENANT/NET to docker network create -d prewire")
        for data in body.get("IPv4Data") or []:
            if data.get("AddressSpace") != "null":
                raise InvalidInput(
                    "create the network with --ipam-driver null: prewire assigns MAC and IP from "
                    "the tenant's pre-distributed profiles"
                )
        if body.get("IPv6Data"):
            raise InvalidInput("prewire networks are IPv4 only: drop --ipv6")
        self.networks[str(body["NetworkID"])] = {"network": network}
        self._save()
        return {}

    def delete_network(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.networks.pop(str(body.get("NetworkID")), None) is not None:
            self._save()
        return {}

    # -- endpoints ------------------------------------------------------------------------------------
    def create_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        nid, eid = str(body.get("NetworkID")), str(body.get("EndpointID"))
        net = self.networks.get(nid)
        if net is None:
            raise NotFound(f"network {nid[:12]} is not a prewire network known to this driver: re-create it")
        iface = body.get("Interface") or {}
        if iface.get("Address") or iface.get("AddressIPv6"):
            raise InvalidInput("prewire assigns the IP: create the network with --ipam-driver null, no --ip")
        ep = self.endpoints.get(eid)
        if ep is None:
            ifname = (self.ifname_prefix + eid)[:15]
            wired = self.agent(
                "wire",
                network=net["network"],
                container=eid,
                ifname=ifname,
                netns=self.links.ensure_scratch(),
                source=SOURCE,
            )
            ep = {
                "network_id": nid,
                "network": net["network"],
                "ifname": ifname,
                "mac": wired["mac"],
                "ip": wired["ip"],
                "prefix": wired["prefix"],
                "gateway": wired.get("gateway"),
            }
            self.endpoints[eid] = ep
            self._save()
        if iface.get("MacAddress") and str(iface["MacAddress"]).lower() != ep["mac"]:
            self._release(eid)
            raise InvalidInput("prewire sets the MAC from the tenant's profile: drop --mac-address")
        self.links.to_root(ep["ifname"], ep["mac"])
        reply: dict[str, Any] = {"Address": f"{ep['ip']}/{ep['prefix']}"}
        if not iface.get("MacAddress"):
            reply["MacAddress"] = ep["mac"]
        return {"Interface": reply}

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        eid = str(body.get("EndpointID"))
        ep = self.endpoints.get(eid)
        if ep is None:
            raise NotFound(f"endpoint {eid[:12]} unknown to the prewire driver")
        reply: dict[str, Any] = {
            "InterfaceName": {"SrcName": ep["ifname"], "DstPrefix": "eth"},
            "DisableGatewayService": True,  # no docker_gwbridge side door out of the tenant VLAN
        }
        if ep.get("gateway"):
            reply["Gateway"] = ep["gateway"]
        return reply

    def endpoint_info(self, body: dict[str, Any]) -> dict[str, Any]:
        ep = self.endpoints.get(str(body.get("EndpointID"))) or {}
        return {"Value": {k: ep[k] for k in ("network", "mac", "ip", "prefix") if k in ep}}

    def delete_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        self._release(str(body.get("EndpointID")))
        return {}

    def reconcile(self, live: Callable[[str], set[str] | None]) -> list[str]:
        """At start-up, before serving: release endpoints docker no longer has (a DeleteEndpoint missed
        while the driver was down).  `live(network_id)` -> endpoint IDs docker knows, None if the network
        is gone."""
        released = []
        with self._lock:
            for eid, ep in list(self.endpoints.items()):
                known = live(ep["network_id"])
                if known is None or eid not in known:
                    self._release(eid)
                    released.append(eid)
            for nid in [n for n in self.networks if live(n) is None]:
                del self.networks[nid]
            self._save()
        return released

    def _release(self, eid: str) -> None:
        ep = self.endpoints.get(eid)
        if ep is None:
            return
        self.links.delete(ep["ifname"], ep["mac"])  # frees the port before the agent hands it out again
        self.agent("release", container=eid, ifname=ep["ifname"])
        del self.endpoints[eid]
        self._save()
