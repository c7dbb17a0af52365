"""A local fleet (`deploy up|status|down`) and health-gated rolling updates (`deploy rollout`).

`up` writes a plan (every process with its command line and environment), starts the supervisor
detached, and waits until every edge answers ``/readyz`` and every cloud replica's gRPC health
check says SERVING. Edges of one region share one store, so a shopper can resume on any replica.

It lives with the commands, above both tiers, because it starts both: it builds the cloud model
(``cloud_core``) and runs edge and cloud processes through ``python -m commands``. What it needs
from the shared core (region bundles, the regions file, the supervisor) imports neither tier.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from triage.bundle.manifest import read_manifest
from triage.deploy.bundles import build_region_bundle
from triage.deploy.regions import Fleet, RegionsError

if TYPE_CHECKING:
    from triage.bundle.signing import SigningKey

__all__ = ["FleetError", "ReplicaStatus", "RolloutResult", "cloud_ready", "down", "rollout", "signing_key", "status",
           "up"]


class FleetError(RuntimeError):
    """The fleet could not be started, found or changed; the message says what to do."""


class ReplicaStatus(msgspec.Struct):
    """One replica as `deploy status` reports it: what the plan says it is and whether it answers."""

    name: str
    kind: str
    region: str
    address: str
    pid: int | None
    restarts: int
    ready: bool
    bundle: str = ""
    build_key: str = ""


class RolloutResult(msgspec.Struct):
    """What a rollout did: the replicas moved, and where and why it stopped, if it did."""

    region: str
    bundle: str
    updated: list[str]
    failed: str | None = None
    reason: str = ""
    rolled_back: bool = False


def _state_dir(fleet: Fleet) -> Path:
    return Path(fleet.fleet.state_dir)


def _plan_path(fleet: Fleet) -> Path:
    return _state_dir(fleet) / "plan.json"


def _read_plan(fleet: Fleet) -> dict[str, Any]:
    path = _plan_path(fleet)
    if not path.is_file():
        raise FleetError(f"no fleet plan at {path}: start one with `triage deploy up`")
    plan: dict[str, Any] = json.loads(path.read_text())
    return plan


def _write_plan(fleet: Fleet, plan: dict[str, Any]) -> None:
    path = _plan_path(fleet)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan, indent=2))
    tmp.chmod(0o600)  # it holds the admin and cloud tokens
    tmp.replace(path)


def signing_key(fleet: Fleet, configured: str) -> tuple[SigningKey, str]:
    """The signer's key and what the edges trust for it: ``[deploy] signing_key`` or, for a local
    fleet, an Ed25519 pair generated once in the state dir (edges get the public half only)."""
    from triage.bundle.signing import generate_ed25519, parse_signing_key, trusted_spec

    if not configured:
        path = _state_dir(fleet) / "signing.key"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate_ed25519(f"local-{secrets.token_hex(4)}")[0])
        configured = path.read_text().strip()
    key = parse_signing_key(configured)
    return key, trusted_spec(key)


def _edge_ready(address: str, status_token: str = "") -> dict[str, Any] | None:
    """The edge's /readyz; its details (bundle, build) need loopback or the fleet's status token."""
    headers = {"Authorization": f"Bearer {status_token}"} if status_token else {}
    try:
        response = httpx.get(f"http://{address}/readyz", headers=headers, timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def cloud_ready(address: str) -> bool:
    """Whether the cloud replica's standard gRPC health check says SERVING (the demo waits on it too)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def up(fleet: Fleet, regions: list[str], configured_key: str = "", model_dir: str = "",
       timeout_s: float = 180.0) -> list[ReplicaStatus]:
    """Plan the fleet, start the supervisor detached and wait until every replica is ready."""
    state = _state_dir(fleet)
    if (state / "state.json").is_file():
        raise FleetError(f"a fleet is already running from {state}: `triage deploy down` first")
    for name in regions:
        fleet.region(name)
    key, key_spec = signing_key(fleet, configured_key)
    if not model_dir:
        from cloud_core.llm.build import build_model

        model_dir = str(build_model())
    cloud_token, admin_token, status_token = (secrets.token_urlsafe(24) for _ in range(3))
    python = sys.executable
    children: list[dict[str, Any]] = []
    pool = fleet.cloud
    for i in range(pool.replicas):
        children.append({
            "name": f"cloud-{i}", "kind": "cloud", "region": "", "address": f"{pool.host}:{pool.port + i}",
            "argv": [python, "-m", "commands", "cloud", "--host", pool.host, "--port", str(pool.port + i),
                     "--memory", pool.memory],
            "env": {"TRIAGE_CLOUD__AUTH_TOKENS": cloud_token, "TRIAGE_CLOUD__MODEL_DIR": model_dir,
                    "TRIAGE_CLOUD__TLS_CERT": pool.tls_cert, "TRIAGE_CLOUD__TLS_KEY": pool.tls_key}})
    for name in regions:
        region = fleet.region(name)
        bundle = build_region_bundle(fleet, name, key)
        for i, port in enumerate(region.ports()):
            children.append({
                "name": f"{name}-{i}", "kind": "edge", "region": name, "address": f"{region.host}:{port}",
                "bundle": str(bundle.resolve()),
                "argv": [python, "-m", "commands", "edge", "--bundle", str(bundle.resolve()), "--host", region.host,
                         "--port", str(port), "--cloud", region.cloud[0]],
                "env": {"TRIAGE_EDGE__STORE": str((state / f"{name}-edge.db").resolve()),
                        "TRIAGE_EDGE__CLOUD_TOKEN": cloud_token, "TRIAGE_EDGE__CLOUD_TLS_CA": region.tls_ca,
                        "TRIAGE_EDGE__BUNDLE_KEYS": key_spec, "TRIAGE_EDGE__ADMIN_TOKEN": admin_token,
                        "TRIAGE_EDGE__STATUS_TOKEN": status_token}})
    state.mkdir(parents=True, exist_ok=True)
    _write_plan(fleet, {"regions": regions, "admin_token": admin_token, "status_token": status_token,
                        "children": children})
    log = (state / "supervisor.log").open("ab")
    subprocess.Popen([python, "-m", "triage.deploy.supervisor", str(_plan_path(fleet).resolve())], stdout=log,
                     stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = status(fleet)
        if statuses and all(s.ready for s in statuses):
            return statuses
        time.sleep(0.5)
    raise FleetError(f"the fleet did not become ready within {timeout_s:.0f} s; see {state}/logs/, "
                     "then `triage deploy down`")


def status(fleet: Fleet) -> list[ReplicaStatus]:
    """Every replica of the plan, asked live (``/readyz`` or gRPC health), not read from a cache."""
    plan = _read_plan(fleet)
    state_file = _state_dir(fleet) / "state.json"
    running = json.loads(state_file.read_text())["children"] if state_file.is_file() else {}
    out = []
    for child in plan["children"]:
        info = running.get(child["name"], {})
        if child["kind"] == "edge":
            ready = _edge_ready(child["address"], plan.get("status_token", ""))
            seen = ready or {}
            out.append(ReplicaStatus(child["name"], "edge", child["region"], child["address"], info.get("pid"),
                                     info.get("restarts", 0), ready is not None,
                                     bundle=seen.get("bundle", ""), build_key=seen.get("build_key", "")))
        else:
            out.append(ReplicaStatus(child["name"], "cloud", "", child["address"], info.get("pid"),
                                     info.get("restarts", 0), cloud_ready(child["address"])))
    return out


def down(fleet: Fleet, timeout_s: float = 30.0) -> None:
    """Stop the supervisor, which stops its children; returns once its state file is gone."""
    state_file = _state_dir(fleet) / "state.json"
    if not state_file.is_file():
        raise FleetError(f"no running fleet found ({state_file} missing)")
    pid = int(json.loads(state_file.read_text())["supervisor_pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state_file.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + timeout_s
    while state_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    if state_file.is_file():
        raise FleetError(f"the supervisor (pid {pid}) did not stop within {timeout_s:.0f} s")


def _swap(address: str, admin_token: str, bundle: str) -> tuple[bool, str]:
    try:
        response = httpx.post(f"http://{address}/admin/bundle", json={"path": bundle},
                              headers={"Authorization": f"Bearer {admin_token}"}, timeout=120)
    except httpx.HTTPError as exc:
        return False, f"cannot reach {address}: {exc}"
    if response.status_code != 200:
        return False, str(response.json().get("error", response.text))
    return True, ""


def _health_gate(address: str, build_key: str, probe: str, timeout_s: float,
                 status_token: str = "") -> tuple[bool, str]:
    """Ready, serving the new build, and answering a real question at the edge."""
    import asyncio

    import websockets

    deadline = time.monotonic() + timeout_s
    ready: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        ready = _edge_ready(address, status_token)
        if ready is not None and ready.get("build_key") == build_key:
            break
        time.sleep(0.2)
    else:
        return False, f"/readyz did not report build {build_key[:12]} within {timeout_s:.0f} s (got {ready})"

    async def ask() -> dict[str, Any]:
        async with websockets.connect(f"ws://{address}/v1/chat", open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "hello", "storefront": ready["storefront"]}))
            json.loads(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(json.dumps({"type": "message", "id": "health-probe", "text": probe}))
            while True:
                frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("type") in ("answer", "error"):
                    return frame

    try:
        frame = asyncio.run(ask())
    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
        return False, f"probe question failed: {exc}"
    if frame.get("type") != "answer" or frame.get("source") != "edge":
        return False, f"probe question was not answered at the edge: {frame}"
    return True, ""


def rollout(fleet: Fleet, region: str, bundle: Path, key: SigningKey | None = None,
            probe: str = "Do you ship to the UK?", gate_timeout_s: float = 60.0) -> RolloutResult:
    """Replace the region's bundle replica by replica; stop and roll back at the first failed gate.

    A replica that took the new bundle refuses the old one as a downgrade, so rolling back signs the
    old build again with ``key`` (the fleet's signer) as a newer release first.
    """
    plan = _read_plan(fleet)
    edges = [c for c in plan["children"] if c["kind"] == "edge" and c["region"] == region]
    if not edges:
        raise RegionsError(f"region {region!r} is not running in this fleet (running: {plan['regions']})")
    bundle_path = str(Path(bundle).resolve())
    try:
        build_key = read_manifest(Path(bundle_path)).build_key
    except Exception as exc:
        return RolloutResult(region, bundle_path, [], failed=edges[0]["name"], reason=str(exc))
    result = RolloutResult(region, bundle_path, [])
    for child in edges:
        old = child["bundle"]
        ok, reason = _swap(child["address"], plan["admin_token"], bundle_path)
        if ok:
            ok, reason = _health_gate(child["address"], build_key, probe, gate_timeout_s,
                                      plan.get("status_token", ""))
        if not ok:
            if key is not None:
                from triage.bundle.signing import sign_bundle

                sign_bundle(Path(old), key)
            back, _ = _swap(child["address"], plan["admin_token"], old)
            result.failed, result.reason, result.rolled_back = child["name"], reason, back
            return result
        child["bundle"] = bundle_path
        child["argv"][child["argv"].index("--bundle") + 1] = bundle_path
        _write_plan(fleet, plan)  # a replica restarted later comes back on the new bundle
        result.updated.append(child["name"])
    return result
