"""OFConnection against a scripted switch on a socket pair: handshake, echo, barriers, errors, multipart."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from prewire.errors import KernelError, Unavailable
from prewire.openflow import OFConnection, codec


async def _read(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    head = await reader.readexactly(8)
    _v, mtype, length, xid = codec.parse_header(head)
    return mtype, xid, await reader.readexactly(length - 8)


async def _switch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: list[int]) -> None:
    """A tiny switch: hello, features, rejects flow mods with priority 666, 2-part multipart replies."""
    writer.write(codec.hello())
    while True:
        try:
            mtype, xid, body = await _read(reader)
        except asyncio.IncompleteReadError:
            return
        log.append(mtype)
        if mtype == codec.FEATURES_REQUEST:
            writer.write(
                codec.message(codec.FEATURES_REPLY, struct.pack("!QIBB2xII", 9, 0, 254, 0, 0, 0), xid)
            )
        elif mtype == codec.BARRIER_REQUEST:
            writer.write(codec.message(codec.BARRIER_REPLY, b"", xid))
        elif mtype == codec.FLOW_MOD and codec.parse_flow_mod(body).priority == 666:
            writer.write(codec.message(codec.ERROR, struct.pack("!HH", 5, 1), xid))
        elif mtype == codec.MULTIPART_REQUEST:
            part = struct.pack("!HH4x", codec.MP_PORT_DESC, 1) + b"a"
            last = struct.pack("!HH4x", codec.MP_PORT_DESC, 0) + b"b"
            writer.write(codec.message(codec.MULTIPART_REPLY, part, xid))
            writer.write(codec.message(codec.MULTIPART_REPLY, last, xid))
        elif mtype == codec.ECHO_REPLY:
            writer.write(codec.message(codec.PACKET_IN, b"async", 0))


async def _scenario() -> tuple[list[int], list[tuple[int, bytes]]]:
    a, b = socket.socketpair()
    log: list[int] = []
    seen: list[tuple[int, bytes]] = []
    sreader, swriter = await asyncio.open_connection(sock=b)
    switch = asyncio.create_task(_switch(sreader, swriter, log))
    reader, writer = await asyncio.open_connection(sock=a)
    conn = OFConnection(reader, writer, lambda t, body: seen.append((t, body)))
    await conn.start()
    assert conn.features is not None and conn.features.datapath_id == 9
    await conn.transact([codec.flow_mod(codec.ADD, codec.Match(), priority=1)])
    with pytest.raises(KernelError):
        await conn.transact([codec.flow_mod(codec.ADD, codec.Match(), priority=666)])
    assert await conn.multipart(codec.port_desc_request()) == b"ab"
    # the switch's echo request is answered by the connection itself
    swriter.write(codec.message(codec.ECHO_REQUEST, b"ping", 77))
    await asyncio.sleep(0.05)
    await conn.close()
    with pytest.raises(Unavailable):
        conn.send(codec.barrier_request())
    swriter.close()
    await switch
    return log, seen


def test_connection_handshake_barrier_errors_multipart_echo() -> None:
    log, seen = asyncio.run(_scenario())
    assert log[:2] == [codec.HELLO, codec.FEATURES_REQUEST]
    assert codec.ECHO_REPLY in log
    assert (codec.PACKET_IN, b"async") in seen


def test_unreachable_socket_is_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unavailable):
        asyncio.run(OFConnection.open_unix(str(tmp_path / "none.mgmt"), timeout=1))
