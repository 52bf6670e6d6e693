"""FastAPI application: bearer auth, routes under /v1, errors as {"error", "message", "details"}."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from prewire import __version__
from prewire.api.schemas import NetworkIn, ReportIn, ReturnIn, ServerIn, SwitchIn, TakeIn, TenantIn
from prewire.controller.predistribute import Predistributor
from prewire.controller.service import Controller
from prewire.domain.model import BoundReport, Principal
from prewire.errors import PrewireError

log = logging.getLogger("prewire.api")
_bearer = HTTPBearer(auto_error=False)


def _principal(
    request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    controller: Controller = request.app.state.controller
    return controller.authenticate(cred.credentials if cred else None)


Who = Annotated[Principal, Depends(_principal)]


def _out(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_out(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _out(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


def _error(status: int, kind: str, message: str, details: Any = "") -> JSONResponse:
    return JSONResponse({"error": kind, "message": message, "details": details}, status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return "malformed JSON body: send a valid JSON object", errors
    field = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
    return f"invalid {field}: {first.get('msg', 'bad value')}", errors


def create_app(controller: Controller, predistributor: Predistributor | None = None) -> FastAPI:
    """The API over one controller; the pre-distributor (if any) runs during the app's lifespan."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if predistributor is not None:
            predistributor.start()
        try:
            yield
        finally:
            if predistributor is not None:
                predistributor.stop()

    app = FastAPI(title="prewire controller", version=__version__, lifespan=lifespan)
    ctl = controller
    app.state.controller = controller

    @app.exception_handler(PrewireError)
    async def _prewire_error(_r: Request, exc: PrewireError) -> JSONResponse:
        return _error(exc.status, exc.kind, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        message, errors = _validation_message(exc)
        return _error(400, "invalid_input", message, json.dumps(errors))

    @app.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> JSONResponse:
        kind = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(exc.status_code, "invalid_input")
        return _error(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(_r: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(500, "error", f"internal error: {type(exc).__name__}: check the controller log")

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "database": ctl.store.dialect}

    @app.post("/v1/tenants", status_code=201)
    def create_tenant(body: TenantIn, who: Who) -> dict[str, Any]:
        tenant, token = ctl.create_tenant(who, body.name)
        return {"name": tenant.name, "token": token}

    @app.get("/v1/tenants")
    def list_tenants(who: Who) -> Any:
        return _out(ctl.list_tenants(who))

    @app.delete("/v1/tenants/{name}")
    def delete_tenant(name: str, who: Who) -> dict[str, str]:
        ctl.delete_tenant(who, name)
        return {"deleted": name}

    @app.post("/v1/networks", status_code=201)
    def create_network(body: NetworkIn, who: Who) -> Any:
        return _out(ctl.create_network(who, body.tenant, body.name, body.subnet, body.vlan, body.gateway))

    @app.get("/v1/networks")
    def list_networks(who: Who) -> Any:
        return _out(ctl.list_networks(who))

    @app.get("/v1/networks/{tenant}/{name}")
    def get_network(tenant: str, name: str, who: Who) -> Any:
        return _out(ctl.get_network(who, tenant, name))

    @app.delete("/v1/networks/{tenant}/{name}")
    def delete_network(tenant: str, name: str, who: Who) -> dict[str, str]:
        ctl.delete_network(who, tenant, name)
        return {"deleted": f"{tenant}/{name}"}

    @app.post("/v1/servers", status_code=201)
    def register_server(body: ServerIn, who: Who) -> Any:
        return _out(ctl.register_server(who, body.name, body.switch, body.switch_port))

    @app.get("/v1/servers")
    def list_servers(who: Who) -> Any:
        return _out(ctl.list_servers(who))

    @app.delete("/v1/servers/{name}")
    def delete_server(name: str, who: Who) -> dict[str, str]:
        ctl.delete_server(who, name)
        return {"deleted": name}

    @app.post("/v1/switches", status_code=201)
    def register_switch(body: SwitchIn, who: Who) -> Any:
        return _out(ctl.register_switch(who, body.name, body.driver, body.options))

    @app.get("/v1/switches")
    def list_switches(who: Who) -> Any:
        return _out(ctl.list_switches(who))

    @app.get("/v1/switches/status")
    def switch_status(who: Who) -> Any:
        return _out(ctl.switch_status(who))

    @app.delete("/v1/switches/{name}")
    def delete_switch(name: str, who: Who) -> dict[str, str]:
        ctl.delete_switch(who, name)
        return {"deleted": name}

    @app.post("/v1/servers/{server}/pool/take")
    def pool_take(server: str, body: TakeIn, who: Who) -> Any:
        return [
            {k: v for k, v in dataclasses.asdict(p).items() if k not in ("state", "server")}
            for p in ctl.take(who, server, body.network, body.count)
        ]

    @app.post("/v1/servers/{server}/pool/return")
    def pool_return(server: str, body: ReturnIn, who: Who) -> Any:
        return {"returned": _out(ctl.return_profiles(who, server, body.macs))}

    @app.get("/v1/servers/{server}/pool")
    def pool(server: str, who: Who) -> Any:
        return _out(ctl.pool(who, server))

    @app.post("/v1/servers/{server}/endpoints/report")
    def report(server: str, body: ReportIn, who: Who) -> Any:
        bound = [BoundReport(b.mac, b.container, b.ifname, b.port) for b in body.bound]
        released = [r if isinstance(r, str) else (r.mac, r.container) for r in body.released]
        return _out(ctl.report(who, server, bound, released))

    @app.get("/v1/endpoints")
    def endpoints(who: Who, server: str | None = None) -> Any:
        return _out(ctl.list_endpoints(who, server))

    return app
