"""The ``triage`` command: build, serve, import, evaluate and talk to the product."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from triage import cli_ops

if TYPE_CHECKING:
    from triage.catalog.model import Catalog

__all__ = ["main"]

_err = Console(stderr=True)


def _cmd_build(args: argparse.Namespace) -> int:
    from triage.bundle.build import build_bundle
    from triage.catalog import load_catalog

    out = build_bundle(Path(args.catalog), Path(args.out))
    _err.print(f"[green]bundle ready[/green] at {out}")
    _err.print(_coverage(load_catalog(Path(args.catalog))))
    return 0


def _coverage(catalog: Catalog) -> str:
    """Which languages the regression scores on its own, so a shop sees what more examples would buy."""
    counts = catalog.example_counts()
    own = catalog.well_covered_languages()
    most = max(counts.values(), default=0)
    thin = [f"{lang} {count}" for lang, count in counts.items() if lang not in own]
    line = "intent examples: " + ", ".join(f"{lang} {counts[lang]}" for lang in counts if lang in own)
    if thin:
        line += (f"; scored by the class-mean vote, checked by the regression (under "
                 f"{catalog.storefront.thin_language_share:g}x of {most}): " + ", ".join(thin))
    return line


def _cmd_import(args: argparse.Namespace) -> int:
    from triage.catalog import write_catalog
    from triage.catalog.importers import import_catalog

    catalog = import_catalog(args.format, Path(args.file), args.storefront or Path(args.out).name)
    write_catalog(catalog, Path(args.out))
    n_examples = sum(len(v) for i in catalog.intents for v in i.examples.values())
    _err.print(f"[green]imported[/green] {len(catalog.intents)} intents, {n_examples} examples into {args.out}")
    return 0


def _serve_edge(bundle: Path, host: str, port: int, cloud: str | None = None, workers: int | None = None) -> None:
    import os

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
    _err.print(f"edge node for storefront [bold]{edge.storefront}[/bold] on http://{host}:{port}/ "
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


def _cmd_eval(args: argparse.Namespace) -> int:
    from edge_node.evaluate import evaluate, format_report, read_rows
    from edge_node.knowledge import load_knowledge
    from edge_node.router import Router
    from edge_node.understanding import Understanding

    knowledge = load_knowledge(Path(args.bundle))
    report = evaluate(Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration),
                      read_rows(Path(args.data)))
    if args.json:
        print(format_report(report))
    else:
        from rich.table import Table

        table = Table(title=f"triage eval {args.data}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in json.loads(format_report(report)).items():
            table.add_row(key, json.dumps(value))
        Console().print(table)
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from edge_node.chat_client import ask

    async def run() -> None:
        async for frame in ask(args.url, args.text, args.storefront):
            if frame["type"] == "error":
                print(f"! {frame['code']}: {frame['message']}")
            else:
                print(f"[{frame['lang']} {frame['source']} {frame.get('intent') or '-'}] {frame['text']}")

    asyncio.run(run())
    return 0


def _cmd_cloud(args: argparse.Namespace) -> int:
    if args.action == "build-model":
        from cloud_core.llm.build import build_model

        folder = build_model(graph=args.graph)
        _err.print(f"[green]model ready[/green] at {folder}")
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


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from edge_node.calibrate import analyse, calibrate_bundle, choose, expected_tiers, sweep
    from edge_node.evaluate import read_rows
    from edge_node.knowledge import load_knowledge
    from edge_node.understanding import Understanding

    bundle = Path(args.bundle)
    knowledge = load_knowledge(bundle)
    rows = read_rows(Path(args.data))
    expected = expected_tiers(rows, knowledge.catalog)
    if "cloud" not in expected:
        raise ValueError(f"{args.data} has no row that should escalate: add \"expect\": \"cloud\" rows or use "
                         "labels of the catalog's cloud-tier intents")
    points = sweep(knowledge, analyse(Understanding(knowledge), rows), expected)
    best = choose(points, args.target_escalation_recall)
    calibrate_bundle(bundle, knowledge, best.cost_quality)
    if args.json:
        import msgspec

        print(msgspec.json.encode({"chosen": best, "curve": points}).decode())
    else:
        from rich.table import Table

        table = Table(title=f"router trade-off on {args.data} ({len(rows)} rows)")
        for col in ("cost_quality", "threshold", "edge share", "escalation recall", "escalation precision"):
            table.add_column(col, justify="right")
        for p in points[::5] if best in points[::5] else [*points[::5], best]:
            mark = " <" if p == best else ""
            table.add_row(f"{p.cost_quality:.2f}{mark}", f"{p.threshold:.3f}", f"{p.edge_share:.3f}",
                          f"{p.escalation_recall:.3f}", f"{p.escalation_precision:.3f}")
        Console().print(table)
    met = best.escalation_recall >= args.target_escalation_recall
    _err.print(f"[{'green' if met else 'yellow'}]cost_quality = {best.cost_quality:.2f}[/] written into {bundle}: "
               f"edge share {best.edge_share:.1%}, escalation recall {best.escalation_recall:.1%}"
               + ("" if met else f" (target {args.target_escalation_recall:.0%} not reachable)"))
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from triage.config import load_config
    from triage.session_token import mint_token

    secret = args.secret or load_config().edge.session_secret
    if not secret:
        raise ValueError("no session secret: set TRIAGE_EDGE__SESSION_SECRET (the edge's) or pass --secret")
    print(mint_token(secret, args.storefront, args.customer, args.ttl))
    return 0


def _start_demo_cloud(port: int, token: str) -> subprocess.Popen[bytes]:
    """The cloud core as a child process on loopback, waited on until its health check says SERVING."""
    import os
    import time

    from cloud_core.llm.build import build_model
    from triage.deploy.fleet import cloud_ready

    model = build_model()  # first run: minutes (model export), then cached
    env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": token, "TRIAGE_CLOUD__MODEL_DIR": str(model)}
    proc = subprocess.Popen([sys.executable, "-m", "triage.cli", "cloud", "--host", "127.0.0.1", "--port", str(port),
                             "--memory", "sqlite:///var/memory.db"], env=env)
    deadline = time.monotonic() + 120
    with _err.status("starting the cloud core"):
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
        import os

        os.environ["TRIAGE_EDGE__CLOUD_TOKEN"] = token
    _err.print(f"[bold green]demo[/bold green]: open http://{args.host}:{args.port}/ and chat with the widget; "
               f"disputes go to the cloud core on 127.0.0.1:{args.cloud_port} (Ctrl-C to stop)")
    try:
        _serve_edge(bundle, args.host, args.port, None if cloud is None else f"127.0.0.1:{args.cloud_port}")
    finally:
        if cloud is not None:
            cloud.terminate()
            cloud.wait(15)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build an edge bundle from a catalog")
    p.add_argument("--catalog", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser("import", help="turn labelled utterances into a catalog")
    p.add_argument("--format", required=True, choices=["bitext-csv", "clinc-json", "jsonl"])
    p.add_argument("file")
    p.add_argument("--out", required=True)
    p.add_argument("--storefront", default=None)
    p.set_defaults(run=_cmd_import)

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

    p = sub.add_parser("eval", help="evaluate a bundle on a labelled JSONL file")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("deploy", help="regional bundles, a local fleet, rolling updates")
    p.add_argument("action", choices=["build", "up", "status", "down", "rollout"])
    p.add_argument("--file", default=None, help="regions file (default [deploy] regions: deploy/regions.toml)")
    p.add_argument("--region", default=None, help="build/rollout: one region")
    p.add_argument("--regions", default=None, help="up: comma-separated regions (default: all)")
    p.add_argument("--bundle", default=None, help="rollout: the new bundle")
    p.add_argument("--gate-timeout", type=float, default=60.0, help="rollout: seconds a replica has to pass")
    p.add_argument("--model-dir", default=None, help="up: cloud model folder (default: the cached build)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cli_ops.cmd_deploy)

    p = sub.add_parser("distill", help="turn resolved escalations into catalog changes and a new bundle")
    p.add_argument("--from", required=True, help="cloud core host:port")
    p.add_argument("--catalog", required=True)
    p.add_argument("--tenant", default=None, help="default: the catalog's storefront id")
    p.add_argument("--token", default=None, help="cloud bearer token (default [edge] cloud_token)")
    p.add_argument("--apply", action="store_true", help="write the changes (default: print the diff only)")
    p.add_argument("--out", default=None, help="with --apply: build the new bundle here")
    p.set_defaults(run=cli_ops.cmd_distill)

    p = sub.add_parser("token", help="mint a customer session token for the widget (development)")
    p.add_argument("--storefront", default="demo")
    p.add_argument("--customer", required=True)
    p.add_argument("--ttl", type=int, default=3600, help="seconds")
    p.add_argument("--secret", default=None, help="default: [edge] session_secret")
    p.set_defaults(run=_cmd_token)

    p = sub.add_parser("calibrate", help="fit the router's cost_quality knob on labelled data into a bundle")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True, help="JSONL rows {text, label[, expect]}")
    p.add_argument("--target-escalation-recall", type=float, default=0.98)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_calibrate)

    p = sub.add_parser("report", help="cost per 1,000 conversations, edge share and savings from an edge store")
    p.add_argument("--store", default="var/edge.db")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cli_ops.cmd_report)

    p = sub.add_parser("replay", help="drive a running stack with a traffic file and report cost and latency")
    p.add_argument("--url", default="ws://127.0.0.1:8080/v1/chat")
    p.add_argument("--data", required=True, help="JSONL rows {text[, conversation]}")
    p.add_argument("--turns", type=int, default=3, help="messages per conversation when rows carry no conversation")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--limit", type=int, default=0, help="play only the first N conversations")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one final answer")
    p.add_argument("--storefront", default="demo")
    p.add_argument("--json", action="store_true")
    p.add_argument("--then-distill", action="store_true",
                   help="after the first pass: distill resolutions into --catalog, reload the edge, replay again")
    p.add_argument("--cloud", default=None, help="--then-distill: cloud core host:port")
    p.add_argument("--cloud-token", default=None, help="--then-distill: default [edge] cloud_token")
    p.add_argument("--catalog", default=None, help="--then-distill: the catalog folder to distill into")
    p.add_argument("--bundle-out", default="var/bundle-distilled", help="--then-distill: where the new bundle goes")
    p.add_argument("--admin-token", default=None, help="--then-distill: the edge's [edge] admin_token")
    p.add_argument("--agent-from-labels", action="store_true",
                   help="--then-distill: resolve open escalations with the traffic's labels (measurement runs)")
    p.add_argument("--answers-from", default=None, help="catalog with the shop's written answers (default --catalog)")
    p.set_defaults(run=cli_ops.cmd_replay)

    p = sub.add_parser("chat", help="send messages to a running edge and print the replies")
    p.add_argument("--url", default="ws://127.0.0.1:8080/v1/chat")
    p.add_argument("--storefront", default="demo")
    p.add_argument("text", nargs="+")
    p.set_defaults(run=_cmd_chat)

    p = sub.add_parser("demo", help="build what is missing and serve the demo storefront")
    p.add_argument("--catalog", default="intents/storefront")
    p.add_argument("--bundle", default="var/bundle")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--cloud-port", type=int, default=50051)
    p.add_argument("--no-cloud", action="store_true", help="edge only: escalations stay queued in the outbox")
    p.set_defaults(run=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
