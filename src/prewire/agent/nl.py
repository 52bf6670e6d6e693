"""Minimal rtnetlink over a raw socket: the agent's kernel channel.

pyroute2 opens sockets in another netns through a child process and spends ~0.3 ms per request; the hot
path cannot afford either.  Here a socket is opened inside a netns by a brief `setns` of the calling thread
(no process), messages are packed with `struct`, and several requests go out in one `sendmsg`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from prewire.errors import KernelError

NETLINK_ROUTE = 0
CLONE_NEWNET = 0x40000000
MS_BIND, MNT_DETACH = 4096, 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_NEWROUTE = 20, 24
F_REQUEST, F_MULTI, F_ACK, F_DUMP = 0x1, 0x2, 0x4, 0x300
F_REPLACE, F_EXCL, F_CREATE = 0x100, 0x200, 0x400
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_LINK, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 5, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_MACVLAN_MODE, MACVLAN_MODE_PRIVATE = 1, 1
MACVLAN_MODE_BRIDGE = 4
IFLA_AF_SPEC, IFLA_INET6_ADDR_GEN_MODE = 26, 8
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY, RTA_OIF = 5, 4
_HDR = struct.Struct("=IHHII")
_IFI = struct.Struct("=BxHiII")

_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise KernelError(f"setns failed: {os.strerror(err)}")


def netns_path(netns: str) -> str:
    """A netns name (`/run/netns/<name>`) or a path (`/proc/<pid>/ns/net`, `/var/run/netns/x`)."""
    return netns if "/" in netns else f"/run/netns/{netns}"


def open_netns(netns: str) -> int:
    try:
        return os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError(f"netns {netns} is not there ({exc.strerror}); is the container running?") from exc


def create_netns(name: str) -> None:
    """Create the named netns `/run/netns/<name>` (like `ip netns add`) without spawning a process."""
    path = netns_path(name)
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    errors: list[str] = []

    def make() -> None:  # runs in a throwaway thread: unshare moves only that thread
        try:
            if _libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
            os.close(fd)
            src = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
            if _libc.mount(src, path.encode(), b"none", MS_BIND, None) != 0:
                raise OSError(ctypes.get_errno(), "mount")
        except OSError as exc:
            errors.append(f"{exc.strerror or os.strerror(exc.errno or 0)} ({exc.filename or ''})")

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if errors:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise KernelError(f"cannot create netns {name}: {errors[0]}")


def remove_netns(name: str) -> None:
    """Unmount and remove the named netns; absent is fine."""
    path = netns_path(name)
    _libc.umount2(path.encode(), MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def _attrs(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, pos)
        if length < 4:
            break
        yield kind & 0x3FFF, data[pos + 4 : pos + length]
        pos += (length + 3) & ~3


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: str
    flags: int
    peer_index: int


class Rtnl:
    """One rtnetlink socket, bound to the netns it was opened in."""

    def __init__(self, netns: str | None = None, netns_fd: int | None = None) -> None:
        if netns_fd is not None:
            self.sock = self._in_netns(netns_fd)
        elif netns is not None:
            target = open_netns(netns)
            try:
                self.sock = self._in_netns(target)
            finally:
                os.close(target)
        else:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self._seq = 0

    @staticmethod
    def _in_netns(target: int) -> socket.socket:
        # setns moves only the calling thread; the socket stays bound to the netns it was made in
        home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target)
            try:
                return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
            finally:
                setns(home)
        finally:
            os.close(home)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _msg(self, kind: int, flags: int, body: bytes) -> tuple[int, bytes]:
        self._seq += 1
        return self._seq, _HDR.pack(16 + len(body), kind, flags, self._seq, 0) + body

    def call(self, requests: list[tuple[int, int, bytes]], what: str) -> list[bytes]:
        """Send (type, flags, body) requests in one sendmsg; return their payloads; raise on error."""
        seqs, blob = [], b""
        for kind, flags, body in requests:
            seq, data = self._msg(kind, flags | F_REQUEST | F_ACK, body)
            seqs.append(seq)
            blob += data
        self.sock.send(blob)
        pending, out = set(seqs), []
        failure: int | None = None
        while pending:
            data = self.sock.recv(1 << 16)
            pos = 0
            while pos + 16 <= len(data):
                length, kind, flags, seq, _pid = _HDR.unpack_from(data, pos)
                payload = data[pos + 16 : pos + length]
                pos += (length + 3) & ~3
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    pending.discard(seq)
                    if code and failure is None:
                        failure = code
                elif kind == NLMSG_DONE:
                    pending.discard(seq)
                else:
                    out.append(payload)
                    if not flags & F_MULTI:
                        pass
        if failure is not None:
            raise KernelError(f"{what}: {os.strerror(failure)}", details=errno.errorcode.get(failure, ""))
        return out

    # -- links ----------------------------------------------------------------------------------------
    def links(self) -> list[Link]:
        result = []
        for payload in self.call([(RTM_GETLINK, F_DUMP, _IFI.pack(0, 0, 0, 0, 0))], "list links"):
            result.append(_parse_link(payload))
        return result

    def link(self, name: str) -> Link | None:
        try:
            replies = self.call(
                [(RTM_GETLINK, 0, _IFI.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)))], "get link"
            )
        except KernelError as exc:
            if exc.details == "ENODEV":
                return None
            raise
        return _parse_link(replies[0]) if replies else None

    @staticmethod
    def set_link_body(
        index: int,
        *,
        netns_fd: int | None = None,
        name: str | None = None,
        mac: str | None = None,
        up: bool | None = None,
        no_ipv6_ll: bool = False,
    ) -> bytes:
        """RTM_NEWLINK body moving/renaming/readdressing/upping link `index` in one request
        (`no_ipv6_ll`: IPv6 addrgenmode none, so a plumbing port never chatters ND/MLD into OVS)."""
        flags = IFF_UP if up else 0
        change = IFF_UP if up is not None else 0
        body = _IFI.pack(0, 0, index, flags, change)
        if netns_fd is not None:
            body += _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd))
        if name is not None:
            body += _attr(IFLA_IFNAME, _name(name))
        if mac is not None:
            body += _attr(IFLA_ADDRESS, mac_bytes(mac))
        if no_ipv6_ll:
            mode = _attr(IFLA_INET6_ADDR_GEN_MODE, struct.pack("=B", 1))
            body += _attr(IFLA_AF_SPEC, _attr(socket.AF_INET6, mode))
        return body

    @staticmethod
    def macvlan_body(name: str, lower_index: int, netns_fd: int, mac: str, up: bool = True) -> bytes:
        """RTM_NEWLINK body creating macvlan `name` (bridge mode: containers of one VLAN share the port) on `lower_index` inside `netns_fd`."""
        info = _attr(IFLA_INFO_KIND, b"macvlan\0") + _attr(
            IFLA_INFO_DATA, _attr(IFLA_MACVLAN_MODE, struct.pack("=I", MACVLAN_MODE_BRIDGE))
        )
        flags = IFF_UP if up else 0
        body = _IFI.pack(0, 0, 0, flags, flags) + _attr(IFLA_IFNAME, _name(name))
        body += _attr(IFLA_LINK, struct.pack("=I", lower_index))
        body += _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)) + _attr(IFLA_ADDRESS, mac_bytes(mac))
        return body + _attr(IFLA_LINKINFO, info)

    def add_veths(self, pairs: list[tuple[str, str]], peer_netns_fd: int) -> None:
        """Create veth pairs (both ends down; peer end in `peer_netns_fd`) in one sendmsg."""
        requests = []
        for host, peer in pairs:
            peer_info = _IFI.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(peer))
            peer_info += _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
            info = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_info))
            body = _IFI.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(host))
            body += _attr(IFLA_LINKINFO, info)
            requests.append((RTM_NEWLINK, F_CREATE | F_EXCL, body))
        if requests:
            self.call(requests, f"create {len(requests)} veth pair(s)")

    def del_links(self, names: list[str]) -> None:
        """Delete links by name, one request each; links already gone are fine."""
        for name in names:
            body = _IFI.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name))
            try:
                self.call([(RTM_DELLINK, 0, body)], f"delete link {name}")
            except KernelError as exc:
                if exc.details != "ENODEV":
                    raise

    @staticmethod
    def addr_body(index: int, ip: str, prefix: int) -> bytes:
        raw = socket.inet_aton(ip)
        return (
            struct.pack("=BBBBI", socket.AF_INET, prefix, 0, 0, index)
            + _attr(IFA_LOCAL, raw)
            + _attr(IFA_ADDRESS, raw)
        )

    @staticmethod
    def default_route_body(index: int, gateway: str) -> bytes:
        head = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
        return head + _attr(RTA_GATEWAY, socket.inet_aton(gateway)) + _attr(RTA_OIF, struct.pack("=I", index))


def _parse_link(payload: bytes) -> Link:
    _family, _type, index, flags, _change = _IFI.unpack_from(payload)
    name, mac, peer = "", "", 0
    for kind, value in _attrs(payload[_IFI.size :]):
        if kind == IFLA_IFNAME:
            name = value.rstrip(b"\0").decode()
        elif kind == IFLA_ADDRESS:
            mac = ":".join(f"{b:02x}" for b in value)
        elif kind == IFLA_LINK:
            peer = struct.unpack("=I", value[:4])[0]
    return Link(index=index, name=name, mac=mac, flags=flags, peer_index=peer)
