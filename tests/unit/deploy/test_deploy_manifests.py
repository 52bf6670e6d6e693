"""deploy/kubernetes validated against the official Kubernetes Python client models, strictly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml
from typer.testing import CliRunner

from prewire.cli import cni as cni_cli
from prewire.cni import plugin

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Pod"): "V1Pod",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def strict(data: Any, type_name: str, where: str) -> None:
    """Every key known to the model, every value of the model's type (the client itself ignores extras)."""
    if type_name.startswith("List["):
        assert isinstance(data, list), f"{where}: expected a list"
        for i, item in enumerate(data):
            strict(item, type_name[5:-1], f"{where}[{i}]")
        return
    if type_name.startswith("Dict["):
        assert isinstance(data, dict), f"{where}: expected a mapping"
        value_type = type_name[5:-1].split(", ", 1)[1]
        for key, value in data.items():
            strict(value, value_type, f"{where}.{key}")
        return
    if type_name in PRIMITIVES:
        assert isinstance(data, PRIMITIVES[type_name]), f"{where}: expected {type_name}, got {data!r}"
        return
    model = getattr(k8s, type_name)
    assert isinstance(data, dict), f"{where}: expected a {type_name} mapping"
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    unknown = sorted(set(data) - set(fields))
    assert not unknown, f"{where}: {type_name} has no field(s) {unknown}"
    for key, value in data.items():
        strict(value, model.openapi_types[fields[key]], f"{where}.{key}")


@pytest.mark.parametrize(("source", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_document_matches_its_schema(source: str, doc: dict[str, Any]) -> None:
    if doc["apiVersion"] == "k8s.cni.cncf.io/v1":
        assert doc["kind"] == "NetworkAttachmentDefinition"
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"} and set(doc["spec"]) == {"config"}
        strict(doc["metadata"], "V1ObjectMeta", f"{source}.metadata")
        return
    type_name = MODELS[(doc["apiVersion"], doc["kind"])]
    strict(doc, type_name, f"{source}:{doc['kind']}")
    # the client's own deserializer enforces required fields
    obj = k8s.ApiClient()._ApiClient__deserialize(doc, type_name)  # type: ignore[attr-defined]
    assert obj.metadata.name


def pod_specs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, pod template metadata, pod spec) of every workload."""
    out = [
        (d["metadata"]["name"], d["spec"]["template"]["metadata"], d["spec"]["template"]["spec"])
        for d in by_kind("Deployment") + by_kind("DaemonSet")
    ]
    out += [(d["metadata"]["name"], d["metadata"], d["spec"]) for d in by_kind("Pod")]
    return out


def test_workload_selectors_match_their_templates() -> None:
    for doc in by_kind("Deployment") + by_kind("DaemonSet"):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), doc["metadata"]["name"]


def test_service_selects_the_controller_and_its_named_port() -> None:
    (service,) = by_kind("Service")
    (deployment,) = by_kind("Deployment")
    template = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_mounts_name_declared_volumes_and_commands_use_defined_env() -> None:
    for name, _, spec in pod_specs():
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in spec.get("initContainers", []) + spec["containers"]:
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            assert mounts <= volumes, f"{name}/{container['name']}: undeclared volume(s) {mounts - volumes}"
            env = {e["name"] for e in container.get("env", [])}
            used = set(re.findall(r"\$\((\w+)\)", " ".join(container.get("command", []))))
            assert used <= env, f"{name}/{container['name']}: undefined env {used - env}"


def test_secrets_used_by_workloads_exist() -> None:
    secrets = {s["metadata"]["name"] for s in by_kind("Secret")}
    for name, _, spec in pod_specs():
        used = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for c in spec.get("initContainers", []) + spec["containers"]:
            used |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
            }
        assert used <= secrets, f"{name}: missing Secret(s) {used - secrets}"


def test_agent_shares_the_plugin_socket_dir_and_cni_bin_with_the_host() -> None:
    (ds,) = by_kind("DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] and spec["hostPID"]
    host_paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    agent = next(c for c in spec["containers"] if c["name"] == "agent")
    mounts = {m["name"]: m["mountPath"] for m in agent["volumeMounts"]}
    socket_dir = str(Path(plugin.DEFAULT_SOCKET).parent.parent)
    assert host_paths["run-prewire"] == mounts["run-prewire"] == socket_dir
    assert "/run/prewire/agent" in agent["command"]  # the agent's state dir holds agent.sock


def test_installer_command_runs(tmp_path: Path) -> None:
    (ds,) = by_kind("DaemonSet")
    (installer,) = ds["spec"]["template"]["spec"]["initContainers"]
    argv = installer["command"]
    assert argv[:3] == ["prewire", "cni", "install"]
    args = [str(tmp_path) if a == "/host" else a for a in argv[3:]]
    result = CliRunner().invoke(cni_cli.app, ["install", *args])
    assert result.exit_code == 0, result.output
    stub = (tmp_path / "opt/cni/bin/prewire").read_text()
    assert stub.startswith("#!/usr/bin/python3 -IS\n") and "'/opt/cni/bin/prewire.d'" in stub
    assert (tmp_path / "opt/cni/bin/prewire.d/prewire_cni.py").read_text() == Path(
        plugin.__file__
    ).read_text()
    mount = next(m for m in installer["volumeMounts"] if m["name"] == "cni-bin")
    assert mount["mountPath"] == "/host/opt/cni/bin"


def test_network_attachment_config_is_a_valid_prewire_conflist() -> None:
    (nad,) = by_kind("NetworkAttachmentDefinition")
    conf = json.loads(nad["spec"]["config"])
    assert conf["name"] == nad["metadata"]["name"]
    (entry,) = conf["plugins"]
    assert entry["type"] == "prewire"
    flat = {"cniVersion": conf["cniVersion"], "name": conf["name"], **entry}
    assert plugin.parse_config(json.dumps(flat).encode(), "ADD") == flat
    assert plugin.agent_socket(flat, {}) == plugin.DEFAULT_SOCKET
    pods = [
        p for p in by_kind("Pod") if "k8s.v1.cni.cncf.io/networks" in p["metadata"].get("annotations", {})
    ]
    assert pods and all(
        p["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == nad["metadata"]["name"] for p in pods
    )


def test_the_strict_check_catches_typos_and_wrong_types() -> None:
    (ds,) = by_kind("DaemonSet")
    typo = json.loads(json.dumps(ds))
    typo["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(AssertionError, match="has no field"):
        strict(typo, "V1DaemonSet", "ds")
    wrong = json.loads(json.dumps(ds))
    wrong["spec"]["template"]["spec"]["hostPID"] = "yes"
    with pytest.raises(AssertionError, match="expected bool"):
        strict(wrong, "V1DaemonSet", "ds")
