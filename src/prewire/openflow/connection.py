"""An asyncio OpenFlow 1.3 connection: handshake, echo answers, xid-matched replies, barriers.

Asynchronous messages (packet-in, flow-removed, port-status, errors nobody waits for) go to the
`on_message(type, body)` callback, called in the reader task (it must not block).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence

from prewire.errors import KernelError, Unavailable
from prewire.openflow import codec

log = logging.getLogger(__name__)
AsyncHandler = Callable[[int, bytes], None]


class OFConnection:
    """One OpenFlow channel over a stream (unix socket to a bridge's mgmt socket, or from OVS)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_message: AsyncHandler | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.on_message = on_message
        self._xids = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[list[tuple[int, bytes]]]] = {}
        self._parts: dict[int, list[tuple[int, bytes]]] = {}
        self._errors: dict[int, codec.OFError] = {}
        self._hello = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self.features: codec.Features | None = None
        self.closed = asyncio.Event()

    @classmethod
    async def open_unix(
        cls, path: str, on_message: AsyncHandler | None = None, timeout: float = 5.0
    ) -> OFConnection:
        """Connect to `path` (e.g. /var/run/openvswitch/<bridge>.mgmt) and complete the handshake."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
        except (OSError, TimeoutError) as exc:
            raise Unavailable(f"cannot open OpenFlow socket {path}: {exc}; does the bridge exist?") from exc
        conn = cls(reader, writer, on_message)
        await conn.start(timeout)
        return conn

    async def start(self, timeout: float = 5.0) -> None:
        """Run the reader, exchange hellos and read the switch features."""
        self._task = asyncio.create_task(self._read_loop())
        self._writer.write(codec.hello())
        try:
            await asyncio.wait_for(asyncio.shield(self._hello), timeout)
            replies = await self.request(codec.features_request(), timeout)
        except TimeoutError as exc:
            await self.close()
            raise Unavailable("OpenFlow handshake timed out") from exc
        self.features = codec.parse_features(replies[0][1])

    # -- sending ---------------------------------------------------------------------------------------
    def send(self, msg: bytes) -> int:
        """Send one message without waiting; returns its xid."""
        if self.closed.is_set():
            raise Unavailable("OpenFlow connection is closed")
        xid = next(self._xids)
        self._writer.write(codec.with_xid(msg, xid))
        return xid

    async def request(self, msg: bytes, timeout: float = 10.0) -> list[tuple[int, bytes]]:
        """Send `msg` and wait for its reply (all parts of a multipart reply): [(type, body)]."""
        xid = self.send(msg)
        fut: asyncio.Future[list[tuple[int, bytes]]] = asyncio.get_running_loop().create_future()
        self._waiters[xid] = fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise Unavailable(f"no OpenFlow reply to xid {xid} within {timeout}s") from exc
        finally:
            self._waiters.pop(xid, None)

    async def transact(self, msgs: Sequence[bytes], timeout: float = 10.0) -> None:
        """Send `msgs` then a barrier; raise KernelError if the switch rejected any of them."""
        xids = [self.send(m) for m in msgs]
        await self.barrier(timeout)
        failed = [self._errors.pop(x) for x in xids if x in self._errors]
        if failed:
            raise KernelError(f"switch rejected {len(failed)} OpenFlow message(s): {failed[0]}")

    async def barrier(self, timeout: float = 10.0) -> None:
        await self.request(codec.barrier_request(), timeout)

    async def multipart(self, msg: bytes, timeout: float = 10.0) -> bytes:
        """Send a multipart request; return the concatenated payloads of the reply."""
        replies = await self.request(msg, timeout)
        return b"".join(codec.parse_multipart(body)[2] for _t, body in replies)

    # -- receiving -------------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                head = await self._reader.readexactly(8)
                _v, mtype, length, xid = codec.parse_header(head)
                body = await self._reader.readexactly(length - 8) if length > 8 else b""
                self._dispatch(mtype, xid, body)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for fut in self._waiters.values():
                if not fut.done():
                    fut.set_exception(Unavailable("OpenFlow connection lost"))
            if not self._hello.done():
                self._hello.set_exception(Unavailable("OpenFlow connection lost during handshake"))
                self._hello.exception()

    def _dispatch(self, mtype: int, xid: int, body: bytes) -> None:
        if mtype == codec.ECHO_REQUEST:
            self._writer.write(codec.with_xid(codec.echo_reply(body), xid))
            return
        if mtype == codec.HELLO:
            if not self._hello.done():
                self._hello.set_result(None)
            return
        if mtype == codec.ERROR:
            err = codec.parse_error(body)
            fut = self._waiters.get(xid)
            if fut is not None and not fut.done():
                fut.set_exception(KernelError(f"switch answered with {err}"))
            else:
                self._errors[xid] = err
                log.debug("OpenFlow error for xid %d: %s", xid, err)
            if self.on_message is not None:
                self.on_message(mtype, body)
            return
        fut = self._waiters.get(xid)
        if fut is not None and mtype != codec.PACKET_IN and mtype != codec.FLOW_REMOVED:
            parts = self._parts.setdefault(xid, [])
            parts.append((mtype, body))
            more = mtype == codec.MULTIPART_REPLY and codec.parse_multipart(body)[1] & codec.MP_REPLY_MORE
            if not more:
                self._parts.pop(xid, None)
                if not fut.done():
                    fut.set_result(parts)
            return
        if self.on_message is not None:
            self.on_message(mtype, body)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.closed.set()
