"""``triage edge | cloud | demo``: serve a tier, or both on one machine for the demo.

Starting a tier is a command's job, not the tier's: the edge and the cloud core stay unaware of
each other, and only this module (above both) starts the cloud as a child of the demo's edge.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commands._console import Subcommands, err

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add edge, cloud and demo to the ``triage`` parser."""
    p = sub.add_parser("edge", help="serve the edge node")
    p.add_argument("--bundle", default=None)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--cloud", default=None, help="cloud core host:port (else [edge] cloud); empty queues escalations")
    p.add_argument("--workers", type=int, default=None, help="processes serving the port (else [edge] workers)")
    p.set_defaults(run=_cmd_edge)

    p = sub.add_parser("cloud", help="serve the cloud core (gRPC), or build its model")
    p.add_argument("action", nargs="?", default="serve", choices=["serve", "build-model"])
    p.add_argument("--graph", default="fused", choices=["fused", "optimum"],
                   help="build-model: our fused graph (served) or optimum's export (the benchmark's peer)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--memory", default=None, help="sqlite:///var/memory.db or postgresql://host/db")
    p.add_argument("--model-dir", default=None, help="int4 ONNX model folder (default: the cached build)")
    p.set_defaults(run=_cmd_cloud)

    p = sub.add_parser("demo", help="build what is missing and serve the demo storefront")
    p.add_argument("--catalog", default="intents/storefront")
    p.add_argument("--bundle", default="var/bundle")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--cloud-port", type=int, default=50051)
    p.add_argument("--no-cloud", action="store_true", help="edge only: escalations stay queued in the outbox")
    p.set_defaults(run=_cmd_demo)


def _serve_edge(bundle: Path, host: str, port: int, cloud: str | None = None, workers: int | None = None) -> None:
    import uvicorn

    from edge_node.gateway import create_app
    from edge_node.gateway.worker import edge_from_config

    # Workers are separate processes that read their configuration from the environment.
    os.environ["TRIAGE_EDGE__BUNDLE"] = str(bundle)
    if cloud is not None:
        os.environ["TRIAGE_EDGE__CLOUD"] = cloud
    if workers is not None:
        os.environ["TRIAGE_EDGE__WORKERS"] = str(workers)
    edge = edge_from_config()  # in this process: a bad bundle or config fails here, with its message
    count = edge.config.workers
    err.print(f"edge node for storefront [bold]{edge.storefront}[/bold] on http://{host}:{port}/ "
              f"(websocket ws://{host}:{port}/v1/chat), {count} worker{'s' if count > 1 else ''}")
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "ws_max_size": 65536,
                               "ws_ping_interval": 20.0,
                               "ws_per_message_deflate": edge.config.ws_compression}
    if count > 1:
        del edge  # each worker process loads its own copy
        import tempfile

        with tempfile.TemporaryDirectory(prefix="triage-edge-metrics-") as metrics:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics  # /metrics sums the workers
            uvicorn.run("edge_node.gateway.worker:create_worker_app", factory=True, workers=count, **options)
    else:
        uvicorn.run(create_app(edge), **options)


def _cmd_edge(args: argparse.Namespace) -> int:
    from triage.config import load_config

    config = load_config().edge
    _serve_edge(Path(args.bundle or config.bundle), args.host or config.host, args.port or config.port, args.cloud,
                args.workers)
    return 0


def _cmd_cloud(args: argparse.Namespace) -> int:
    if args.action == "build-model":
        from cloud_core.llm.build import build_model

        folder = build_model(graph=args.graph)
        err.print(f"[green]model ready[/green] at {folder}")
        return 0
    import msgspec

    from cloud_core.server import run_cloud
    from triage.config import load_config

    config = load_config().cloud
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("memory", args.memory),
                                   ("model_dir", args.model_dir)) if v is not None}
    config = msgspec.structs.replace(config, **overrides)
    asyncio.run(run_cloud(config))
    return 0


def _start_demo_cloud(port: int, token: str) -> subprocess.Popen[bytes]:
    """The cloud core as a child process on loopback, waited on until its health check says SERVING."""
    import time

    from cloud_core.llm.build import build_model
    from commands.fleet import cloud_ready

    model = build_model()  # first run: minutes (model export), then cached
    env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": token, "TRIAGE_CLOUD__MODEL_DIR": str(model)}
    proc = subprocess.Popen([sys.executable, "-m", "commands", "cloud", "--host", "127.0.0.1", "--port", str(port),
                             "--memory", "sqlite:///var/memory.db"], env=env)
    deadline = time.monotonic() + 120
    with err.status("starting the cloud core"):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the cloud core exited with {proc.returncode}; see its output above")
            if cloud_ready(f"127.0.0.1:{port}"):
                return proc
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"the cloud core did not become healthy on port {port} within 120 s")


def _cmd_demo(args: argparse.Namespace) -> int:
    import secrets

    from triage.bundle.build import build_bundle

    bundle = Path(args.bundle)
    build_bundle(Path(args.catalog), bundle)
    cloud = None
    if not args.no_cloud:
        token = secrets.token_urlsafe(24)
        cloud = _start_demo_cloud(args.cloud_port, token)
        os.environ["TRIAGE_EDGE__CLOUD_TOKEN"] = token
    err.print(f"[bold green]demo[/bold green]: open http://{args.host}:{args.port}/ and chat with the widget; "
              f"disputes go to the cloud core on 127.0.0.1:{args.cloud_port} (Ctrl-C to stop)")
    try:
        _serve_edge(bundle, args.host, args.port, None if cloud is None else f"127.0.0.1:{args.cloud_port}")
    finally:
        if cloud is not None:
            cloud.terminate()
            cloud.wait(15)
    return 0
