"""HTTP over a unix socket for the driver: docker discovers `/run/docker/plugins/<name>.sock` by itself."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

import httpx

from prewire import jsonline
from prewire.dockerdriver.driver import DockerDriver
from prewire.dockerdriver.links import Links
from prewire.errors import Conflict, PrewireError

log = logging.getLogger("prewire.dockerdriver")
PLUGIN_DIR = "/run/docker/plugins"
CONTENT_TYPE = "application/vnd.docker.plugins.v1+json"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        method = self.path.strip("/")
        status, reply = 200, {}
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
            reply = self.server.driver.handle(method, body)
        except PrewireError as exc:
            status, reply = 500, {"Err": exc.message}
            log.warning("%s: %s", method, exc.message)
        except Exception as exc:  # docker gets a message, the driver keeps serving
            status, reply = 500, {"Err": f"prewire driver internal error: {type(exc).__name__}: {exc}"}
            log.exception("%s failed", method)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    driver: DockerDriver


def _live(path: str) -> bool:
    """Does something answer on the unix socket `path`?"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


class DriverServer:
    """The driver listening on `<plugin_dir>/<name>.sock` (serve_forever in a thread or the caller)."""

    def __init__(self, driver: DockerDriver, name: str = "prewire", plugin_dir: str = PLUGIN_DIR) -> None:
        self.socket_path = os.path.join(plugin_dir, f"{name}.sock")
        os.makedirs(plugin_dir, exist_ok=True)
        if _live(self.socket_path):
            raise Conflict(f"a driver already serves {self.socket_path}: stop it or choose another --name")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        self._server = _Server(self.socket_path, _Handler)
        self._server.driver = driver
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="docker-driver", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)


def build(
    agent_socket: str, name: str, state_dir: str, scratch_netns: str = "", ifname_prefix: str = "pwd"
) -> DockerDriver:
    """A driver talking to the agent at `agent_socket`, state in `<state_dir>/<name>.json`."""

    def agent(op: str, **params: Any) -> Any:
        return jsonline.call(agent_socket, op, timeout=30.0, **params)

    links = Links(scratch_netns or f"pwdrv-{name}", ifname_prefix)
    return DockerDriver(agent, links, os.path.join(state_dir, f"{name}.json"), ifname_prefix)


def docker_endpoints(docker_socket: str = "/var/run/docker.sock") -> Callable[[str], set[str] | None]:
    """`live(network_id)` for `DockerDriver.reconcile`, from dockerd's API."""

    def live(network_id: str) -> set[str] | None:
        transport = httpx.HTTPTransport(uds=docker_socket)
        with httpx.Client(transport=transport, base_url="http://docker", timeout=10.0) as client:
            resp = client.get(f"/networks/{network_id}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return {str(c.get("EndpointID")) for c in (resp.json().get("Containers") or {}).values()}

    return live
