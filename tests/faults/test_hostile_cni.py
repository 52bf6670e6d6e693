"""Scenario 7 (CNI half) of issue 7: malformed CNI invocations (hypothesis) against a real agent.

Every invocation is malformed or hostile (random commands, environment, stdin bytes, JSON configs with
wrong types, bogus network namespaces such as /dev/null, never a real one).  PREWIRE_FAULTS_CNI_EXEC of
them run the installed plugin executable exactly as a runtime does; the rest call the same plugin code
in-process (`plugin.run`), which spares the interpreter start on this 2-core machine.  Invariants: no
crash (exit code 0/1, no signal, no traceback), every failure is spec error JSON, nothing wired, the
agent alive with the same ports and no binding, the controller with no bound endpoint, no kernel object
leaked; and afterwards a valid ADD/DEL still works.
"""

from __future__ import annotations

import collections
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from prewire.agent import nl
from prewire.cni import install, plugin
from tests.faults.cni_env import NETWORK, PREFIX, SERVER, AgentEnv, ours
from tests.faults.faults_support import env_int, report

pytestmark = [pytest.mark.faults, pytest.mark.root]

INVOCATIONS = env_int("PREWIRE_FAULTS_CNI_INVOCATIONS", 10_000)
EXEC = env_int("PREWIRE_FAULTS_CNI_EXEC", 1_000)
SEED = env_int("PREWIRE_FAULTS_SEED", 7)
Invocation = tuple[dict[str, str], bytes]


@pytest.fixture(scope="module")
def agent_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentEnv]:
    env = AgentEnv(tmp_path_factory.mktemp("hostilecni"))
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


def _safe_path(p: str) -> bool:
    """Never hand the agent a real network namespace (the host's, or anyone's)."""
    return ".." not in p and "/proc" not in p and "netns" not in p and "/ns/" not in p


def _mostly(valid: Any, bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid two times in three: most invocations get past the first checks and reach the agent."""
    return st.one_of(st.just(valid), st.just(valid), bad)


def _drop(pair: tuple[Mapping[str, Any], set[str]]) -> dict[str, Any]:
    """(mapping, keys) -> the mapping without those keys."""
    return {k: v for k, v in pair[0].items() if k not in pair[1]}


def invocations(sock: str, tmp: Path) -> st.SearchStrategy[Invocation]:
    """A well-formed invocation with a bogus namespace, then random fields broken, mistyped or dropped."""
    text = st.text(max_size=40)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=10,
    )
    netns = (
        st.sampled_from(
            ["/dev/null", str(tmp), str(tmp / "missing"), "", "relative/ns", "/", "/etc/hostname"]
        )
        | text.map(lambda s: str(tmp / s))
    ).filter(_safe_path)
    full_conf = st.fixed_dictionaries(
        {
            "cniVersion": _mostly(
                "1.1.0", st.sampled_from([*plugin.SUPPORTED, "0.2.0", "2.0.0", "", "1.0"]) | json_values
            ),
            "name": _mostly("pwxfa", json_values),
            "type": _mostly("prewire", json_values),
            "network": _mostly(
                NETWORK, st.sampled_from(["pwxfa-cni/nope", "x", "a/b/c", "/", "pwxfa-cni/"]) | json_values
            ),
            "agentSocket": _mostly(
                sock, st.sampled_from(["/nonexistent.sock", "rel.sock", "/tmp/{server}.sock"]) | json_values
            ),
        },
        optional={
            "server": st.sampled_from(["pwxfa-cni", "../x"]) | json_values,
            "timeout": st.floats(allow_nan=False) | st.integers() | json_values,
            "prevResult": json_values,
            "dns": json_values,
            "cni.dev/valid-attachments": json_values,
            "args": json_values,
        },
    )
    conf = st.tuples(
        full_conf, st.sets(st.sampled_from(["cniVersion", "name", "network", "agentSocket"]), max_size=1)
    )
    raw = st.binary(max_size=200)
    stdin = st.one_of(
        conf.map(lambda t: json.dumps(_drop(t)).encode()),
        conf.map(lambda t: json.dumps(_drop(t)).encode()),
        raw,
        st.tuples(conf, raw).map(lambda t: json.dumps(_drop(t[0])).encode()[: len(t[1]) * 2] + t[1]),
    )
    full_env = st.fixed_dictionaries(
        {
            "CNI_COMMAND": _mostly("ADD", st.sampled_from([*plugin.COMMANDS, "add", "", "ADD "]) | text),
            "CNI_CONTAINERID": _mostly("pwxfa-ct1", st.sampled_from(["a" * 300, "ct/1", "ct 1", ""]) | text),
            "CNI_NETNS": netns,
            "CNI_IFNAME": _mostly("eth0", st.sampled_from(["a" * 16, "../x", "e:0", "", "eth0\n"]) | text),
        },
        optional={
            "CNI_ARGS": st.sampled_from(
                ["PREWIRE_NETWORK=pwxfa-cni/net1", "PREWIRE_SERVER=../x", "K", "=v;;"]
            )
            | text,
            "CNI_PATH": text,
        },
    )
    env = st.tuples(
        full_env, st.sets(st.sampled_from(["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]), max_size=1)
    )
    clean = env.map(lambda t: {k: v.replace("\x00", "") for k, v in _drop(t).items()})
    return st.tuples(clean, stdin)


class Tally:
    def __init__(self, exe: Path) -> None:
        self.exe = exe
        self.codes: collections.Counter[str] = collections.Counter()
        self.violations: list[str] = []
        self.done = {"exec": 0, "in_process": 0}

    def judge(self, inv: Invocation, out: str, rc: int, err: str = "") -> None:
        env, data = inv
        where = f"{env} stdin={data[:80]!r}"
        if rc not in (0, 1) or err.strip():
            self.violations.append(f"crash rc={rc} stderr={err[-300:]!r}: {where}")
            return
        try:
            doc = json.loads(out) if out.strip() else None
        except ValueError:
            self.violations.append(f"stdout is not JSON {out[:200]!r}: {where}")
            return
        if rc == 1:
            if not (
                isinstance(doc, dict) and isinstance(doc.get("code"), int) and isinstance(doc.get("msg"), str)
            ):
                self.violations.append(f"error is not spec error JSON {out[:200]!r}: {where}")
                return
            self.codes[f"error {doc['code']}"] += 1
            if "internal error" in doc["msg"]:
                self.violations.append(f"internal error {doc['msg'][:200]!r}: {where}")
        else:
            command = env.get("CNI_COMMAND")
            self.codes[f"ok {command if command in plugin.COMMANDS else '?'}"] += 1
            if command == "ADD":
                self.violations.append(f"ADD succeeded with a bogus namespace {out[:200]!r}: {where}")

    def run_exec(self, inv: Invocation) -> None:
        env, data = inv
        env = {k: v for k, v in env.items() if "\x00" not in k}
        done = subprocess.run(
            [str(self.exe)], input=data, env=env, capture_output=True, timeout=60, check=False
        )
        self.done["exec"] += 1
        self.judge(
            inv, done.stdout.decode(errors="replace"), done.returncode, done.stderr.decode(errors="replace")
        )

    def run_in_process(self, inv: Invocation) -> None:
        out, rc = plugin.run(*inv)
        self.done["in_process"] += 1
        self.judge(inv, out, rc)


def _agent_view(env: AgentEnv) -> dict[str, Any]:
    """The agent's bindings, ports and local pool, the controller's record of the server, our objects."""
    status, listing = env.call("status"), env.call("list")
    headers = {"Authorization": f"Bearer {env.ctl.admin_token}"}
    servers = httpx.get(f"{env.ctl.url}/v1/servers", headers=headers, timeout=30).json()
    return {
        "bindings": len(listing["bindings"]),
        "ports_free": status["ports_free"],
        "ports_total": status["ports_total"],
        "profiles_free": status["profiles_free"],
        "controller": [(s["held"], s["bound"]) for s in servers if s["name"] == SERVER],
        "objects": sorted(ours()),
    }


def _settled_view(env: AgentEnv, timeout: float = 30.0) -> dict[str, Any]:
    """The view once two reads a second apart agree (reports and refills are asynchronous)."""
    deadline = time.monotonic() + timeout
    last = _agent_view(env)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _agent_view(env)
        if now == last:
            return now
        last = now
    return last


def _valid_add_del(env: AgentEnv, exe: Path) -> list[str]:
    """Positive control: a well-formed ADD then DEL through the plugin executable still works."""
    ns, bad = f"{PREFIX}ct0", []
    conf = json.dumps({"cniVersion": "1.0.0", "name": "pwxfa", "type": "prewire", "network": NETWORK,
                       "agentSocket": env.socket}).encode()  # fmt: skip
    base = {"CNI_CONTAINERID": "pwxfa-valid", "CNI_IFNAME": "eth0", "CNI_NETNS": nl.netns_path(ns)}
    nl.create_netns(ns)
    try:
        add = subprocess.run(
            [str(exe)], input=conf, env={**base, "CNI_COMMAND": "ADD"}, capture_output=True, timeout=60
        )
        if add.returncode != 0 or "ips" not in json.loads(add.stdout or b"{}"):
            bad.append(f"valid ADD failed: {add.stdout[:300]!r} {add.stderr[-300:]!r}")
        rm = subprocess.run(
            [str(exe)], input=conf, env={**base, "CNI_COMMAND": "DEL"}, capture_output=True, timeout=60
        )
        if rm.returncode != 0:
            bad.append(f"valid DEL failed: {rm.stdout[:300]!r}")
    finally:
        nl.remove_netns(ns)
    return bad


def test_malformed_cni_invocations(agent_env: AgentEnv, tmp_path: Path) -> None:
    exe = install.install_plugin(str(tmp_path / "bin"))
    control = _valid_add_del(agent_env, exe)  # also fills the local pool of the network
    before = _settled_view(agent_env)
    tally = Tally(exe)
    strategy = invocations(agent_env.socket, tmp_path / "ns")
    (tmp_path / "ns").mkdir()
    generated: list[Invocation] = []
    for attempt in range(20):  # hypothesis may end a run early (duplicates): run again until done
        if len(generated) >= INVOCATIONS:
            break

        @hypothesis.seed(SEED + attempt)
        @settings(
            max_examples=INVOCATIONS - len(generated),
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(inv=strategy)
        def collect(inv: Invocation) -> None:
            generated.append(inv)

        collect()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(tally.run_exec, generated[:EXEC]))
    for inv in generated[EXEC:]:
        tally.run_in_process(inv)
    after = _settled_view(agent_env)
    bound = sum(b for _held, b in after["controller"])
    control += _valid_add_del(agent_env, exe)
    final = _settled_view(agent_env)
    total = tally.done["exec"] + tally.done["in_process"]
    figures = {
        "invocations": total,
        **{f"invocations_{k}": v for k, v in tally.done.items()},
        "outcomes": dict(tally.codes),
        "violations": len(tally.violations),
        "agent_alive": agent_env.alive(),
        "agent_before": before,
        "agent_after": after,
        "controller_bound_endpoints": bound,
        "valid_add_del_before_and_after": not control,
    }
    report("scenario7-hostile-cni", figures)
    assert not tally.violations, "\n".join(tally.violations[:20])
    assert agent_env.alive(), agent_env.log_tail()
    assert after == before, f"the agent changed: {before} -> {after}"
    assert bound == 0
    assert not control, control
    assert final["bindings"] == 0
    assert total >= INVOCATIONS


@pytest.mark.parametrize("timeout", [-1, 1e308, "x", [], {}])
def test_bad_timeout_is_a_config_error(timeout: Any, tmp_path: Path) -> None:
    """Regression: a bad `timeout` once ended in 'prewire-cni internal error' (code 999)."""
    conf = {"cniVersion": "1.1.0", "name": "pwxfa", "type": "prewire", "network": NETWORK,
            "agentSocket": str(tmp_path / "agent.sock"), "timeout": timeout}  # fmt: skip
    env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "pwxfa-ct1", "CNI_IFNAME": "eth0"}
    out, rc = plugin.run(env, json.dumps(conf).encode())
    assert rc == 1
    assert json.loads(out)["code"] == plugin.E_CONFIG, out
