"""JSON-lines request/response over a unix socket: the local control channel of the agent and the
switch agent.  One request per line, one reply per line:

    request  {"op": "wire", ...}
    reply    {"ok": true, "result": ...} | {"ok": false, "error": {"error": kind, "message": ...}}

The server side is asyncio (the daemons are asyncio); the client side is blocking and stdlib-only so that
the CNI shim and the CLI can use it without an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from prewire.errors import InvalidInput, PrewireError, Unavailable, from_dict

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
MAX_LINE = 16 * 1024 * 1024


async def serve(path: str, handler: Handler) -> asyncio.AbstractServer:
    """Listen on `path` (replacing a stale socket file) and answer each line with `handler`."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    break
                if not line:
                    break
                reply = await _answer(line, handler)
                writer.write(encode(reply) + b"\n")
                await writer.drain()
        except (ConnectionError, BrokenPipeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_unix_server(on_client, path=path, limit=MAX_LINE)
    os.chmod(path, 0o600)
    return server


def _finite(value: Any) -> Any:
    """NaN/inf (e.g. a percentile of an empty sample) become null: strict JSON parsers reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode(reply: Any) -> bytes:
    try:
        return json.dumps(reply, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(reply), separators=(",", ":")).encode()


async def _answer(line: bytes, handler: Handler) -> dict[str, Any]:
    try:
        request = json.loads(line)
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise InvalidInput("request must be a JSON object with a string 'op'")
        return {"ok": True, "result": await handler(request)}
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": InvalidInput(f"malformed JSON request: {exc}").to_dict()}
    except PrewireError as exc:
        return {"ok": False, "error": exc.to_dict()}
    except Exception as exc:  # a bug must not kill the daemon; report it to the caller
        return {"ok": False, "error": PrewireError(f"internal error: {type(exc).__name__}: {exc}").to_dict()}


class Client:
    """Blocking client: one connection, many requests."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                raise Unavailable(f"cannot reach {self.path}: {exc.strerror or exc}") from exc
            self._sock = sock
        return self._sock

    def call(self, op: str, **params: Any) -> Any:
        sock = self._connect()
        payload = json.dumps({"op": op, **params}, separators=(",", ":")).encode() + b"\n"
        try:
            sock.sendall(payload)
            while b"\n" not in self._buf:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise Unavailable(f"{self.path} closed the connection")
                self._buf += chunk
        except OSError as exc:
            self.close()
            raise Unavailable(f"lost {self.path}: {exc}") from exc
        line, self._buf = self._buf.split(b"\n", 1)
        reply = json.loads(line)
        if reply.get("ok"):
            return reply.get("result")
        raise from_dict(reply.get("error") or {})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call(path: str, op: str, timeout: float = 30.0, **params: Any) -> Any:
    """One request on a fresh connection."""
    with Client(path, timeout=timeout) as client:
        return client.call(op, **params)
