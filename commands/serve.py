"""``triage edge | cloud``: serve a tier.

Starting a tier is a command's job, not the tier's: the edge and the cloud core stay unaware of
each other (``commands.demo`` runs both, and the demo shop, on one machine).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commands._console import Subcommands, err

if TYPE_CHECKING:
    import argparse

__all__ = ["register", "serve_agent", "serve_edge"]


def register(sub: Subcommands) -> None:
    """Add edge and cloud to the ``triage`` parser."""
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
    p.add_argument("--catalog", default=None,
                   help="catalog folder whose procedures/ decide disputes against [shop] (else [cloud] catalog)")
    p.set_defaults(run=_cmd_cloud)

    p = sub.add_parser("agent", help="serve the reference agent console (a web page on the cloud's Cases API)")
    p.add_argument("--host", default=None, help="interface (else [console] host)")
    p.add_argument("--port", type=int, default=None, help="port (else [console] port, 8081)")
    p.add_argument("--cloud", default=None, help="cloud core host:port (else [console] cloud)")
    p.set_defaults(run=_cmd_agent)


def serve_edge(bundle: Path, host: str, port: int, cloud: str | None = None, workers: int | None = None) -> None:
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
    from edge_node.gateway.deadline import DeadlineH11Protocol

    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "ws_max_size": 65536,
                               "http": DeadlineH11Protocol,
                               "ws_ping_interval": 20.0,
                               "ws_per_message_deflate": edge.config.ws_compression,
                               # uvicorn's "auto" still picks the legacy websockets protocol (tasks, futures and a
                               # queue per frame); the sans-I/O one parses in data_received and pauses reading
                               # until the app takes each message: 12% less edge CPU a message and half the p99
                               # at 200 paced sessions on an AVX2 EPYC, 4 alternating rounds (docs/benchmarks.md).
                               "ws": "websockets-sansio"}
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
    serve_edge(Path(args.bundle or config.bundle), args.host or config.host, args.port or config.port, args.cloud,
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

    loaded = load_config()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("memory", args.memory),
                                   ("model_dir", args.model_dir), ("catalog", args.catalog)) if v is not None}
    config = msgspec.structs.replace(loaded.cloud, **overrides)
    asyncio.run(run_cloud(config, shop=loaded.shop))
    return 0


def serve_agent(host: str | None = None, port: int | None = None, cloud: str | None = None) -> None:
    import msgspec
    import uvicorn

    from cloud_core.console import create_console
    from triage.config import load_config

    loaded = load_config().console
    overrides = {k: v for k, v in (("host", host), ("port", port), ("cloud", cloud)) if v is not None}
    config = msgspec.convert({**msgspec.to_builtins(loaded), **overrides}, type(loaded))  # validated like the file
    err.print(f"agent console on http://{config.host}:{config.port}/ (cases from the cloud core at {config.cloud}; "
              "sign in with a token of [cloud] agent_tokens)")
    uvicorn.run(create_console(config), host=config.host, port=config.port, log_level="warning")


def _cmd_agent(args: argparse.Namespace) -> int:
    serve_agent(args.host, args.port, args.cloud)
    return 0
