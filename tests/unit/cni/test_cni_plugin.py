"""CNI spec conformance of the plugin that needs no real agent: the runtime's view (env + stdin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prewire import errors
from prewire.cni import plugin

WIRED = {
    "mac": "02:aa:00:00:00:05",
    "ip": "10.1.0.5",
    "prefix": 24,
    "gateway": "10.1.0.1",
    "vlan": 101,
    "network": "acme/web",
    "port": "pwh0x3",
    "ifname": "eth0",
    "netns": "/proc/1/ns/net",
    "timings": {},
}


def conf(version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "acme-web", "type": "prewire", "network": "acme/web", **extra}


def attach(**extra: str) -> dict[str, str]:
    return {
        "CNI_CONTAINERID": "c0ffee",
        "CNI_NETNS": "/proc/self/ns/net",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        **extra,
    }


def assert_error(rc: int, out: Any, err: str, code: int) -> None:
    assert rc != 0
    assert out["code"] == code, out
    assert out["msg"] and set(out) <= {"cniVersion", "code", "msg", "details"}
    assert err == "", "nothing on stderr, never a traceback"


def test_version_lists_supported_versions(cni: Any) -> None:
    rc, out, err = cni("VERSION", {"cniVersion": "1.0.0"})
    assert (rc, err) == (0, "")
    assert out == {"cniVersion": "1.0.0", "supportedVersions": list(plugin.SUPPORTED)}
    assert "1.1.0" in out["supportedVersions"]


@pytest.mark.parametrize("stdin", [b"{bad json", b"", b"[1, 2]", b'{"a": 1} trailing'])
def test_malformed_config_is_error_6(cni: Any, stdin: bytes) -> None:
    assert_error(*cni("ADD", stdin, **attach()), code=6)


def test_unknown_cni_version_is_error_1(cni: Any) -> None:
    rc, out, err = cni("ADD", conf("2.0.0"), **attach())
    assert_error(rc, out, err, code=1)
    assert "2.0.0" in out["msg"]


@pytest.mark.parametrize(("command", "version"), [("GC", "1.0.0"), ("STATUS", "0.4.0"), ("CHECK", "0.3.1")])
def test_command_newer_than_config_version_is_error_1(cni: Any, command: str, version: str) -> None:
    assert_error(*cni(command, conf(version), **attach()), code=1)


@pytest.mark.parametrize("missing", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"])
def test_add_with_missing_env_is_error_4(cni: Any, missing: str) -> None:
    env = attach()
    del env[missing]
    rc, out, err = cni("ADD", conf(), **env)
    assert_error(rc, out, err, code=4)
    assert missing in out["msg"]


@pytest.mark.parametrize("command", [None, "", "add", "FROB"])
def test_missing_or_unknown_command_is_error_4(cni: Any, command: str | None) -> None:
    assert_error(*cni(command, conf(), **attach()), code=4)


@pytest.mark.parametrize(
    "env",
    [
        attach(CNI_IFNAME="a/b"),
        attach(CNI_IFNAME="x" * 16),
        attach(CNI_CONTAINERID="bad id!"),
        attach(CNI_NETNS="/nonexistent/netns"),
        attach(CNI_ARGS="novalue"),
    ],
)
def test_invalid_env_is_error_4(cni: Any, env: dict[str, str]) -> None:
    assert_error(*cni("ADD", conf(), **env), code=4)


@pytest.mark.parametrize(
    "bad",
    [
        {"network": "no-slash"},
        {"network": "a/b/c"},
        {"network": 5},
        {"name": ""},
        {"agentSocket": "rel.sock"},
        {"agentSocket": "/run/{server}/agent.sock"},
        {"cni.dev/valid-attachments": "x"},
    ],
)
def test_invalid_network_config_is_error_7(cni: Any, bad: dict[str, Any]) -> None:
    command = "GC" if "cni.dev/valid-attachments" in bad else "ADD"
    assert_error(*cni(command, conf(**bad), **attach()), code=7)


def test_status_without_agent_is_error_50(cni: Any, tmp_path: Path) -> None:
    rc, out, err = cni("STATUS", conf(agentSocket=str(tmp_path / "none.sock")))
    assert_error(rc, out, err, code=50)


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC"])
def test_agent_down_is_error_11_try_again(cni: Any, tmp_path: Path, command: str) -> None:
    assert_error(*cni(command, conf(agentSocket=str(tmp_path / "none.sock")), **attach()), code=11)


def test_del_needs_no_netns(cni: Any, fake_agent: Any) -> None:
    fake_agent.answers["release"] = {"released": False}
    env = attach()
    del env["CNI_NETNS"]
    rc, out, err = cni("DEL", conf(agentSocket=fake_agent.path, network="broken"), **env)
    assert (rc, out, err) == (0, None, ""), "DEL gets through even with a broken network key"
    (req,) = fake_agent.requests
    assert req["op"] == "release" and req["container"] == "c0ffee" and req["ifname"] == "eth0"


@pytest.mark.parametrize("version", ["1.1.0", "1.0.0"])
def test_add_result_has_interfaces_ips_routes_dns(cni: Any, fake_agent: Any, version: str) -> None:
    fake_agent.answers["wire"] = WIRED
    rc, out, err = cni("ADD", conf(version, agentSocket=fake_agent.path), **attach())
    assert (rc, err) == (0, "")
    assert out == {
        "cniVersion": version,
        "interfaces": [{"name": "eth0", "mac": WIRED["mac"], "sandbox": WIRED["netns"]}],
        "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}],
        "dns": {},
    }
    (req,) = fake_agent.requests
    assert req == {
        "op": "wire",
        "network": "acme/web",
        "container": "c0ffee",
        "ifname": "eth0",
        "netns": "/proc/self/ns/net",
        "source": "cni:acme-web",
    }


def test_add_result_in_old_version_carries_ip_version(cni: Any, fake_agent: Any) -> None:
    fake_agent.answers["wire"] = WIRED
    rc, out, _ = cni("ADD", conf("0.4.0", agentSocket=fake_agent.path), **attach())
    assert rc == 0 and out["cniVersion"] == "0.4.0" and out["ips"][0]["version"] == "4"


def test_add_appends_to_prev_result_and_passes_dns(cni: Any, fake_agent: Any) -> None:
    fake_agent.answers["wire"] = WIRED
    prev = {"cniVersion": "1.1.0", "interfaces": [{"name": "lo"}], "ips": [], "routes": []}
    dns = {"nameservers": ["10.1.0.2"]}
    rc, out, _ = cni("ADD", conf(agentSocket=fake_agent.path, prevResult=prev, dns=dns), **attach())
    assert rc == 0
    assert [i["name"] for i in out["interfaces"]] == ["lo", "eth0"]
    assert out["ips"][0]["interface"] == 1 and out["dns"] == dns


@pytest.mark.parametrize(
    ("kind", "code"),
    [("exhausted", 11), ("unavailable", 11), ("not_found", 7), ("kernel", 999), ("conflict", 7)],
)
def test_agent_errors_keep_their_cni_code(cni: Any, fake_agent: Any, kind: str, code: int) -> None:
    fake_agent.answers["wire"] = errors.ERROR_KINDS[kind]("no profile left for acme/web", details="d")
    rc, out, err = cni("ADD", conf(agentSocket=fake_agent.path), **attach())
    assert_error(rc, out, err, code=code)
    assert out["msg"] == "no profile left for acme/web"


def test_agent_code_table_matches_the_error_tree() -> None:
    assert {kind: cls.cni_code for kind, cls in errors.ERROR_KINDS.items()} == plugin.AGENT_CODES


def test_server_selection_by_cni_args_or_config(cni: Any, fake_agent: Any, tmp_path: Path) -> None:
    template = fake_agent.path.replace(str(tmp_path), str(tmp_path) + "/{server}/..")
    (tmp_path / "srv7").mkdir()
    fake_agent.answers["wire"] = WIRED
    rc, _, _ = cni(
        "ADD", conf(agentSocket=template), **attach(CNI_ARGS="IgnoreUnknown=1;PREWIRE_SERVER=srv7")
    )
    assert rc == 0
    rc, _, _ = cni("ADD", conf(agentSocket=template, server="srv7"), **attach())
    assert rc == 0
    assert (
        plugin.agent_socket({"agentSocket": "/a/{server}.sock", "server": "s1"}, {"PREWIRE_SERVER": "s2"})
        == "/a/s2.sock"
    )


def test_gc_sends_valid_attachments(cni: Any, fake_agent: Any) -> None:
    valid = [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}]
    rc, out, err = cni("GC", conf(agentSocket=fake_agent.path, **{"cni.dev/valid-attachments": valid}))
    assert (rc, out, err) == (0, None, "")
    (req,) = fake_agent.requests
    assert req["op"] == "gc" and req["source"] == "cni:acme-web", "GC scoped to this network config"
    assert req["valid"] == [{"container": "c1", "ifname": "eth0"}, {"container": "c2", "ifname": "net1"}]


def test_check_reports_a_missing_interface(cni: Any, fake_agent: Any) -> None:
    fake_agent.answers["check"] = errors.NotFound("c0ffee/eth0: interface gone from its netns")
    assert_error(*cni("CHECK", conf(agentSocket=fake_agent.path), **attach()), code=7)
    fake_agent.answers["check"] = {"ok": False, "problem": "eth0 missing"}
    rc, out, err = cni("CHECK", conf(agentSocket=fake_agent.path), **attach())
    assert_error(rc, out, err, code=3)
    fake_agent.answers["check"] = {"network": "other/net", "mac": WIRED["mac"]}
    assert_error(*cni("CHECK", conf(agentSocket=fake_agent.path), **attach()), code=7)
    fake_agent.answers["check"] = WIRED
    assert cni("CHECK", conf(agentSocket=fake_agent.path), **attach()) == (0, None, "")


def test_status_ok_prints_nothing(cni: Any, fake_agent: Any) -> None:
    fake_agent.answers["status"] = {"server": "srv0"}
    assert cni("STATUS", conf(agentSocket=fake_agent.path)) == (0, None, "")


def test_run_never_raises_on_internal_bugs() -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    out, rc = plugin.run({"CNI_COMMAND": "STATUS"}, json.dumps(conf()).encode(), call=broken)
    assert rc == 1 and json.loads(out)["code"] == 999 and "boom" in json.loads(out)["msg"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(json_values)
def test_stdlib_free_json_round_trips_like_json(value: Any) -> None:
    text = plugin.dumps(value)
    assert json.loads(text) == value
    assert plugin.loads(json.dumps(value)) == value


@given(st.text(max_size=30))
def test_loads_rejects_what_json_rejects(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            plugin.loads(text)
        return
    assert plugin.dumps(plugin.loads(text)) == plugin.dumps(expected)  # NaN != NaN


def test_log_file_gets_one_line_per_call(cni: Any, fake_agent: Any, tmp_path: Path) -> None:
    log = tmp_path / "cni.log"
    fake_agent.answers["wire"] = WIRED
    assert cni("ADD", conf(agentSocket=fake_agent.path, logFile=str(log)), **attach())[0] == 0
    assert cni("ADD", conf("9.9.9", logFile=str(log)), **attach())[0] == 1  # not parsed: no log
    fake_agent.answers["release"] = errors.Unavailable("busy")
    assert cni("DEL", conf(agentSocket=fake_agent.path, logFile=str(log)), **attach())[0] == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and " ADD c0ffee eth0 code=0 " in lines[0] and "code=11" in lines[1]


def fake_call(path: str, op: str, timeout: float, **params: Any) -> Any:
    return dict(WIRED, netns=params.get("netns", "")) if op in ("wire", "check") else {}


junk = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.lists(st.integers(), max_size=2)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "cniVersion": st.sampled_from([*plugin.SUPPORTED, "0.2.0", ""]) | junk,
            "name": st.just("n") | junk,
            "network": st.just("a/b") | junk,
            "agentSocket": st.just("/s") | junk,
            "server": junk,
            "timeout": st.just(5) | junk,
            "dns": junk,
            "prevResult": junk
            | st.dictionaries(
                st.sampled_from(["interfaces", "ips", "routes"]), junk | st.lists(junk, max_size=2)
            ),
            "cni.dev/valid-attachments": junk
            | st.lists(st.dictionaries(st.text(max_size=3), junk), max_size=2),
        },
    ),
    st.sampled_from(plugin.COMMANDS),
    st.fixed_dictionaries(
        {},
        optional={
            "CNI_CONTAINERID": st.text(max_size=5),
            "CNI_IFNAME": st.text(max_size=17),
            "CNI_NETNS": st.just("/proc/self/ns/net") | st.text(max_size=5),
            "CNI_ARGS": st.text(max_size=12),
        },
    ),
)
def test_garbage_in_never_an_internal_error(conf: dict[str, Any], command: str, env: dict[str, str]) -> None:
    out, rc = plugin.run({"CNI_COMMAND": command, **env}, json.dumps(conf).encode(), call=fake_call)
    reply = json.loads(out) if out else None
    if rc != 0:
        assert reply["code"] in (1, 3, 4, 6, 7) and "internal error" not in reply["msg"], reply
