"""REST client of the controller: one method per API call; errors come back as prewire.errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from prewire.errors import PrewireError, Unavailable, from_dict


class ControllerClient:
    """`ControllerClient(url, token)`; thread-safe (one httpx.Client with a connection pool)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> ControllerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"controller at {self.url} unreachable ({type(exc).__name__}): start it or check --url"
            ) from None
        if resp.is_success:
            return resp.json() if resp.content else None
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and "error" in data:
            raise from_dict(data)
        if resp.status_code >= 500:
            raise Unavailable(f"controller at {self.url} answered HTTP {resp.status_code}: retry later")
        err = PrewireError(f"controller answered HTTP {resp.status_code}: {resp.text[:200]}")
        err.status = resp.status_code
        raise err

    # -- health, tenants, networks -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/health"))

    def create_tenant(self, name: str) -> dict[str, Any]:
        """-> {name, token}"""
        return dict(self._call("POST", "/v1/tenants", {"name": name}))

    def list_tenants(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/tenants"))

    def delete_tenant(self, name: str) -> None:
        self._call("DELETE", f"/v1/tenants/{name}")

    def create_network(
        self, tenant: str, name: str, subnet: str, vlan: int | None = None, gateway: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"tenant": tenant, "name": name, "subnet": subnet}
        if vlan is not None:
            body["vlan"] = vlan
        if gateway is not None:
            body["gateway"] = gateway
        return dict(self._call("POST", "/v1/networks", body))

    def list_networks(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/networks"))

    def get_network(self, tenant: str, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/networks/{tenant}/{name}"))

    def delete_network(self, tenant: str, name: str) -> None:
        self._call("DELETE", f"/v1/networks/{tenant}/{name}")

    # -- servers, switches -------------------------------------------------------------------------------
    def register_server(
        self, name: str, switch: str | None = None, switch_port: str | None = None
    ) -> dict[str, Any]:
        return dict(
            self._call("POST", "/v1/servers", {"name": name, "switch": switch, "switch_port": switch_port})
        )

    def list_servers(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/servers"))

    def delete_server(self, name: str) -> None:
        self._call("DELETE", f"/v1/servers/{name}")

    def register_switch(
        self, name: str, driver: str, options: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return dict(
            self._call(
                "POST", "/v1/switches", {"name": name, "driver": driver, "options": dict(options or {})}
            )
        )

    def list_switches(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/switches"))

    def switch_status(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/switches/status"))

    def delete_switch(self, name: str) -> None:
        self._call("DELETE", f"/v1/switches/{name}")

    # -- pools, endpoints --------------------------------------------------------------------------------
    def pool_take(self, server: str, network: str, count: int) -> list[dict[str, Any]]:
        """-> [{mac, ip, prefix, gateway, vlan, network}], now held by `server` (all or none)."""
        return list(
            self._call("POST", f"/v1/servers/{server}/pool/take", {"network": network, "count": count})
        )

    def pool_return(self, server: str, macs: Iterable[str]) -> list[dict[str, Any]]:
        """-> per-MAC results [{mac, ok, error, message}]."""
        return list(self._call("POST", f"/v1/servers/{server}/pool/return", {"macs": list(macs)})["returned"])

    def pool(self, server: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/servers/{server}/pool"))

    def report_endpoints(
        self,
        server: str,
        bound: Sequence[Mapping[str, str]] = (),
        released: Sequence[str | Mapping[str, str]] = (),
    ) -> dict[str, list[dict[str, Any]]]:
        """bound: [{mac, container, ifname, port}]; released: [mac | {mac, container}] -> per-item results."""
        body = {
            "bound": [dict(b) for b in bound],
            "released": [r if isinstance(r, str) else dict(r) for r in released],
        }
        return dict(self._call("POST", f"/v1/servers/{server}/endpoints/report", body))

    def list_endpoints(self, server: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/endpoints" + (f"?server={server}" if server else "")))
