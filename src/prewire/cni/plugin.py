"""prewire CNI plugin (spec 0.3.0 .. 1.1.0): hands ADD/DEL/CHECK/GC/STATUS to the local prewire agent.

Installed by `prewire cni install` as a self-contained executable named `prewire` whose shebang is the
virtualenv's interpreter with `-IS`.  It imports only C modules (_json, _socket, posix): the interpreter
starts in a few ms and this file adds about one; `import json, socket` would add ~15 ms (re, enum, typing).
Config keys and the server selection are documented in docs/cni.md.  Never prints a traceback: every
failure is spec error JSON on stdout and exit code 1.
"""

from __future__ import annotations

import _json
import _socket
import posix
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST = "1.1.0"
DEFAULT_SOCKET = "/run/prewire/agent/agent.sock"
COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION")
# agent error kind -> CNI code; must equal prewire.errors (checked by tests/unit/cni).
AGENT_CODES = {
    "invalid_input": 7,
    "unauthorized": 7,
    "forbidden": 7,
    "not_found": 7,
    "conflict": 7,
    "exhausted": 11,
    "unavailable": 11,
    "incompatible_version": 1,
    "kernel": 999,
}
E_VERSION, E_ENV, E_IO, E_DECODE, E_CONFIG, E_UNKNOWN_CONTAINER = 1, 4, 5, 6, 7, 3
E_TRY_AGAIN, E_NOT_AVAILABLE = 11, 50


class CniError(Exception):
    """A spec error: code, msg, details."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details


# --- JSON through the C accelerator only (no re, no enum) -------------------------------------------


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    parse_constant = float  # NaN/Infinity, as Python's json (the agent's) writes them


_scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
_WS = " \t\n\r"


def loads(text: str) -> Any:
    """Strict JSON decode of one document."""
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except Exception:  # the C scanner needs json.decoder loaded to explain itself: error path only
        import json

        json.loads(text)
        raise ValueError("invalid JSON") from None
    if text[end:].strip(_WS):
        raise ValueError(f"extra data after the JSON document at character {end}")
    return value


def dumps(value: Any) -> str:
    """JSON encode dicts, lists, strings, numbers, booleans and None."""
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        items = (f"{_json.encode_basestring_ascii(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# --- agent socket --------------------------------------------------------------------------------


def agent_call(path: str, op: str, timeout: float, **params: Any) -> Any:
    """One JSON-lines request to the agent; errors become CniError with the agent's code."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            raise CniError(
                E_TRY_AGAIN,
                f"prewire agent not reachable at {path}: {exc.strerror or exc}",
                "start the agent (prewire agent run) or fix agentSocket in the network config",
            ) from None
        try:
            sock.sendall((dumps({"op": op, **params}) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise CniError(E_TRY_AGAIN, f"prewire agent at {path} closed the connection during {op}")
                buf += chunk
        except OSError as exc:
            raise CniError(E_TRY_AGAIN, f"lost the prewire agent at {path} during {op}: {exc}") from None
    finally:
        sock.close()
    try:
        reply = loads(buf.split(b"\n", 1)[0].decode())
    except ValueError as exc:
        raise CniError(E_IO, f"prewire agent sent a malformed reply to {op}: {exc}") from None
    if reply.get("ok"):
        return reply.get("result")
    err = reply.get("error") or {}
    kind = str(err.get("error", ""))
    raise CniError(
        AGENT_CODES.get(kind, 999), str(err.get("message", "agent error")), str(err.get("details", ""))
    )


# --- request parsing -----------------------------------------------------------------------------


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _valid_id(value: str) -> bool:
    return bool(value) and all(c.isascii() and (c.isalnum() or c in "_.-") for c in value)


def _valid_ifname(value: str) -> bool:
    bad = any(c in "/:" or c.isspace() for c in value)
    return 0 < len(value) <= 15 and value not in (".", "..") and not bad


def parse_cni_args(raw: str) -> dict[str, str]:
    """CNI_ARGS `K=V;K2=V2` -> dict."""
    out: dict[str, str] = {}
    for pair in filter(None, raw.split(";")):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CniError(E_ENV, f"CNI_ARGS entry {pair!r} is not KEY=VALUE")
        out[key] = value
    return out


def _env(env: dict[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise CniError(E_ENV, f"environment variable {name} is missing or empty")
    return value


def agent_socket(conf: dict[str, Any], args: dict[str, str]) -> str:
    """The agent socket: `agentSocket` with `{server}` taken from CNI_ARGS PREWIRE_SERVER or `server`."""
    path = conf.get("agentSocket", DEFAULT_SOCKET)
    if not isinstance(path, str) or not path.startswith("/"):
        raise CniError(E_CONFIG, "agentSocket must be an absolute path")
    if "{server}" in path:
        server = args.get("PREWIRE_SERVER") or conf.get("server")
        if not isinstance(server, str) or not _valid_id(server):
            raise CniError(E_CONFIG, 'agentSocket contains {server}: set "server" or CNI_ARGS PREWIRE_SERVER')
        path = path.replace("{server}", server)
    return path


def _network(conf: dict[str, Any], args: dict[str, str]) -> str:
    network = args.get("PREWIRE_NETWORK") or conf.get("network")
    if not isinstance(network, str) or network.count("/") != 1 or not all(network.split("/")):
        raise CniError(E_CONFIG, f'network config key "network" must be "tenant/net", got {network!r}')
    return network


def parse_config(stdin: bytes, command: str) -> dict[str, Any]:
    """Decode and validate the network config; checks cniVersion against the command."""
    text = stdin.decode("utf-8", "replace")
    if not text.strip(_WS):
        raise CniError(E_DECODE, "no network configuration on stdin")
    try:
        conf = loads(text)
    except ValueError as exc:
        raise CniError(E_DECODE, f"network configuration on stdin is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise CniError(E_DECODE, "network configuration on stdin must be a JSON object")
    version = conf.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniError(E_CONFIG, "network configuration has no cniVersion")
    if version not in SUPPORTED:
        raise CniError(E_VERSION, f"unsupported cniVersion {version!r}", "supported: " + ", ".join(SUPPORTED))
    minimum = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}.get(command, "0.3.0")
    if _vtuple(version) < _vtuple(minimum):
        raise CniError(E_VERSION, f"{command} needs cniVersion {minimum} or later, config has {version}")
    if not isinstance(conf.get("name"), str) or not conf["name"]:
        raise CniError(E_CONFIG, 'network configuration has no "name"')
    return conf


def _prev(conf: dict[str, Any]) -> dict[str, Any]:
    prev = conf.get("prevResult")
    return prev if isinstance(prev, dict) else {}


def _items(prev: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """prevResult's list `key`, objects only (a malformed prevResult must not break ADD)."""
    value = prev.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def build_result(version: str, wired: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """The ADD result (interfaces, ips, routes, dns) in the config's cniVersion, after any prevResult."""
    prev = _prev(conf)
    interfaces, ips, routes = _items(prev, "interfaces"), _items(prev, "ips"), _items(prev, "routes")
    interfaces.append({"name": wired["ifname"], "mac": wired["mac"], "sandbox": wired["netns"]})
    ip: dict[str, Any] = {"address": f"{wired['ip']}/{wired['prefix']}", "interface": len(interfaces) - 1}
    gateway = wired.get("gateway")
    if gateway:
        ip["gateway"] = gateway
    if _vtuple(version) < (1, 0, 0):
        ip["version"] = "4"
    ips.append(ip)
    if isinstance(wired.get("routes"), list):
        routes.extend(wired["routes"])
    elif gateway:
        routes.append({"dst": "0.0.0.0/0", "gw": gateway})
    dns = conf.get("dns") if isinstance(conf.get("dns"), dict) else prev.get("dns") or {}
    return {"cniVersion": version, "interfaces": interfaces, "ips": ips, "routes": routes, "dns": dns}


def _attachment(env: dict[str, str], need_netns: bool) -> tuple[str, str, str]:
    container, ifname = _env(env, "CNI_CONTAINERID"), _env(env, "CNI_IFNAME")
    if not _valid_id(container):
        raise CniError(E_ENV, "CNI_CONTAINERID may hold only letters, digits, '_', '.' and '-'")
    if not _valid_ifname(ifname):
        raise CniError(
            E_ENV, f"CNI_IFNAME {ifname!r} is not a valid interface name (1-15 chars, no '/', ':')"
        )
    netns = _env(env, "CNI_NETNS") if need_netns else env.get("CNI_NETNS", "")
    if need_netns:
        try:
            posix.stat(netns)
        except OSError:
            raise CniError(E_ENV, f"CNI_NETNS {netns} does not exist (container already gone?)") from None
    return container, ifname, netns


def _check(reply: Any, network: str, prev: dict[str, Any], container: str, ifname: str) -> None:
    """The agent found the attachment: it must be this network's, with prevResult's MAC."""
    if not isinstance(reply, dict) or reply.get("ok") is False:
        problem = reply.get("problem") if isinstance(reply, dict) else None
        raise CniError(E_UNKNOWN_CONTAINER, f"CHECK {container}/{ifname}: {problem or 'not as wired'}")
    if reply.get("network", network) != network:
        raise CniError(
            E_CONFIG, f"CHECK {container}/{ifname}: wired to {reply['network']}, config says {network}"
        )
    mac = reply.get("mac")
    for iface in _items(prev, "interfaces"):
        if iface.get("name") == ifname and iface.get("sandbox") and mac and iface.get("mac") != mac:
            raise CniError(
                E_CONFIG, f"CHECK {container}/{ifname}: MAC is {mac}, prevResult says {iface['mac']}"
            )


def dispatch(command: str, env: dict[str, str], conf: dict[str, Any], call: Any) -> Any:
    """Run one CNI command against the agent; returns the result object or None (no output)."""
    version = conf["cniVersion"]
    args = parse_cni_args(env.get("CNI_ARGS", ""))
    path = agent_socket(conf, args)
    timeout = conf.get("timeout", 30)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 3600:
        raise CniError(E_CONFIG, "timeout must be a number of seconds between 0 and 3600")
    source = "cni:" + conf["name"]  # the agent's GC scope: attachments made through this network config
    if command == "STATUS":
        try:
            call(path, "status", timeout)
        except CniError as exc:
            raise CniError(E_NOT_AVAILABLE, f"prewire is not available: {exc.msg}", exc.details) from None
        return None
    if command == "GC":
        valid = conf.get("cni.dev/valid-attachments", [])
        if not isinstance(valid, list) or not all(
            isinstance(a, dict) and isinstance(a.get("containerID"), str) and isinstance(a.get("ifname"), str)
            for a in valid
        ):
            raise CniError(E_CONFIG, "cni.dev/valid-attachments must be a list of {containerID, ifname}")
        keep = [{"container": a["containerID"], "ifname": a["ifname"]} for a in valid]
        call(path, "gc", timeout, valid=keep, source=source)
        return None
    container, ifname, netns = _attachment(env, need_netns=command != "DEL")
    if command == "DEL":  # needs no valid "network": a DEL must get through whatever the config says
        call(path, "release", timeout, container=container, ifname=ifname)
        return None
    network = _network(conf, args)
    if command == "ADD":
        wired = call(
            path,
            "wire",
            timeout,
            network=network,
            container=container,
            ifname=ifname,
            netns=netns,
            source=source,
        )
        return build_result(version, wired, conf)
    reply = call(path, "check", timeout, container=container, ifname=ifname)
    _check(reply, network, _prev(conf), container, ifname)
    return None


def _log(
    conf: dict[str, Any], env: dict[str, str], command: str, code: int, msg: str, started: float
) -> None:
    """One line per call to the config's `logFile`, if any; never fails the call."""
    path = conf.get("logFile")
    if not isinstance(path, str) or not path:
        return
    ms = (time.perf_counter() - started) * 1000
    line = f"{time.time():.3f} {command} {env.get('CNI_CONTAINERID', '-')} {env.get('CNI_IFNAME', '-')} "
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT, 0o644)
        try:
            posix.write(fd, f"{line}code={code} {ms:.2f}ms {msg}\n".encode())
        finally:
            posix.close(fd)
    except OSError:
        pass


def run(env: dict[str, str], stdin: bytes, call: Any = agent_call) -> tuple[str, int]:
    """One plugin invocation -> (stdout text, exit code).  Never raises."""
    started = time.perf_counter()
    version, command, conf = LATEST, env.get("CNI_COMMAND", ""), {}
    try:
        if command not in COMMANDS:
            raise CniError(E_ENV, f"CNI_COMMAND {command!r} is not one of " + ", ".join(COMMANDS))
        if command == "VERSION":
            try:
                asked = loads(stdin.decode("utf-8", "replace")).get("cniVersion")
            except (ValueError, AttributeError):
                asked = None
            version = asked if asked in SUPPORTED else LATEST
            return dumps({"cniVersion": version, "supportedVersions": list(SUPPORTED)}), 0
        conf = parse_config(stdin, command)
        version = conf["cniVersion"]
        result = dispatch(command, env, conf, call)
        _log(conf, env, command, 0, "", started)
        return ("" if result is None else dumps(result)), 0
    except CniError as exc:
        error = {"cniVersion": version, "code": exc.code, "msg": exc.msg}
        if exc.details:
            error["details"] = exc.details
        _log(conf, env, command, exc.code, exc.msg, started)
        return dumps(error), 1
    except Exception as exc:  # the runtime must never see a traceback
        return dumps({"cniVersion": version, "code": 999, "msg": f"prewire-cni internal error: {exc!r}"}), 1


def main() -> None:
    """Entry point: environment + stdin in, result or error JSON out."""
    env = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in posix.environ.items()}
    try:
        data = sys.stdin.buffer.read() if sys.stdin is not None else b""
    except OSError:
        data = b""
    out, code = run(env, data)
    if out:
        sys.stdout.write(out + "\n")
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
