"""The deployment manifests parse, and what they run is what the CLI and the servers really serve."""

from __future__ import annotations

import configparser
import json
import shlex
from pathlib import Path

import pytest
import yaml

from commands.main import build_parser
from triage.config import CloudConfig, load_config

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
EDGE_PATHS = {"/healthz", "/readyz", "/metrics", "/v1/chat", "/", "/widget.js", "/admin/bundle"}


def _cli(argv: list[str]):
    assert argv[0].endswith("triage"), argv
    return build_parser().parse_args(argv[1:])  # raises SystemExit on an unknown command or flag


def _k8s_docs():
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert {"apiVersion", "kind"} <= set(doc), f"{path.name}: a document without apiVersion/kind"
                docs.append(doc)
    return docs


def _by_kind(kind: str) -> list[dict]:
    return [d for d in _k8s_docs() if d["kind"] == kind]


def test_the_edge_serves_every_path_the_manifests_probe(demo_bundle):
    from edge_node.gateway import create_app
    from edge_node.service import EdgeService
    from triage.config import EdgeConfig

    app = create_app(EdgeService.from_bundle(demo_bundle, EdgeConfig(store=":memory:")))
    served = {route.path for route in app.routes}
    assert served >= EDGE_PATHS


@pytest.mark.parametrize("name", ["Dockerfile.edge", "Dockerfile.cloud"])
def test_dockerfiles_run_a_real_command_as_non_root_on_the_port_they_expose(name):
    lines = [line.strip() for line in (DEPLOY / "docker" / name).read_text().splitlines()]
    cmd = json.loads(next(line[len("CMD "):] for line in lines if line.startswith("CMD ")))
    args = _cli(cmd)
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    exposed = {int(line.split()[1]) for line in lines if line.startswith("EXPOSE ")}
    assert exposed == {args.port}
    assert args.host == "0.0.0.0"


@pytest.mark.parametrize("name", ["triage-edge@.service", "triage-cloud.service"])
def test_systemd_units_start_a_real_command_in_a_sandbox(name):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # keys are case-sensitive
    unit.read(DEPLOY / "systemd" / name)
    service = unit["Service"]
    _cli(shlex.split(service["ExecStart"])[0:1] + shlex.split(service["ExecStart"])[1:])
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == value, f"{name}: {key} should be {value!r}"
    assert service["User"] != "root" and "SystemCallFilter" in service
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_k8s_deployments_run_real_commands_and_probe_real_endpoints():
    deployments = {d["metadata"]["name"]: d for d in _by_kind("Deployment")}
    assert set(deployments) == {"triage-edge", "triage-cloud"}
    for name, deployment in deployments.items():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        container = spec["containers"][0]
        args = _cli(container["args"])
        port = container["ports"][0]["containerPort"]
        assert args.port == port
        assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"][
            "labels"].items()
        for probe in ("readinessProbe", "livenessProbe"):
            check = container[probe]
            if name == "triage-edge":
                assert check["httpGet"]["path"] in EDGE_PATHS and check["httpGet"]["port"] == port
            else:  # the standard grpc.health.v1 service, on the plaintext health port (the main one is TLS)
                env = {k: v for doc in _by_kind("ConfigMap") for k, v in doc["data"].items()}
                assert check["grpc"]["port"] == load_config(env=env).cloud.health_port != port
    assert deployments["triage-cloud"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == \
        CloudConfig().port


def test_edge_pods_keep_no_state_of_their_own():
    [edge] = [d for d in _by_kind("Deployment") if d["metadata"]["name"] == "triage-edge"]
    spec = edge["spec"]["template"]["spec"]
    env: dict[str, str] = {}
    for kind, field in (("ConfigMap", "data"), ("Secret", "stringData")):
        for doc in _by_kind(kind):
            env.update(doc[field])
    assert load_config(env=env).edge.store.startswith("postgresql://"), "the store is shared, not in the pod"
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts == {"/bundle", "/tmp", "/etc/triage/cloud-ca"}, "no volume holds sessions, frames or the outbox"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "secret" in volumes["cloud-ca"] and "emptyDir" in volumes["tmp"]
    assert spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    [service] = [s for s in _by_kind("Service") if s["metadata"]["name"] == "triage-edge"]
    assert "sessionAffinity" not in service["spec"], "any pod resumes any session"


def test_services_hpas_and_pdbs_point_at_the_deployments():
    deployments = {d["metadata"]["name"]: d for d in _by_kind("Deployment")}
    for service in _by_kind("Service"):
        target = deployments[service["metadata"]["name"]]
        labels = target["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        container_ports = {p["containerPort"] for p in target["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    for hpa in _by_kind("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["minReplicas"] >= 2
    for pdb in _by_kind("PodDisruptionBudget"):
        matched = [d for d in deployments.values()
                   if pdb["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"][
                       "labels"].items()]
        assert len(matched) == 1


def test_configmap_and_secret_keys_are_real_settings():
    env: dict[str, str] = {}
    for kind, field in (("ConfigMap", "data"), ("Secret", "stringData")):
        for doc in _by_kind(kind):
            env.update(doc[field])
    assert all(key.startswith("TRIAGE_") for key in env)
    config = load_config(env=env)  # an unknown field or a bad value fails here, naming it
    assert config.edge.cloud == "triage-cloud:50051" and config.cloud.max_queue == 16
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert {(DEPLOY / "k8s" / r).is_file() for r in kustomization["resources"]} == {True}


def test_each_tier_gets_only_its_own_secrets():
    secrets = {doc["metadata"]["name"]: set(doc["stringData"]) for doc in _by_kind("Secret")}
    for deployment in _by_kind("Deployment"):
        refs = [source["secretRef"]["name"] for container in deployment["spec"]["template"]["spec"]["containers"]
                for source in container.get("envFrom", []) if "secretRef" in source]
        keys = set().union(*(secrets[name] for name in refs))
        tier = "EDGE" if "edge" in deployment["metadata"]["name"] else "CLOUD"
        assert keys and all(key.startswith(f"TRIAGE_{tier}__") for key in keys), (deployment["metadata"]["name"], keys)
