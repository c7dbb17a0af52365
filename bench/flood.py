"""Floods at the limits, and the shoppers who keep being served: quiet and flooded side by side.

A real ``triage cloud`` and ``triage edge`` (behind a trusted proxy, so each shopper has its own
address in ``X-Forwarded-For``). Shoppers ask FAQ questions the edge answers and disputes it
escalates to the cloud's model. The same shoppers run twice in one process: quiet, then while

- a websocket flood from one address opens connections and sends hellos as fast as it can
  (the per-address limit of ``[edge] address_rate_per_s`` / ``address_rate_burst`` covers hello);
- unauthenticated ``Health.Watch`` streams are held open on the cloud past ``[cloud]
  max_open_calls``, and new ones keep coming;
- unauthenticated ``Escalate`` calls (no token) arrive as fast as they are refused.

The table gives each phase's FAQ and escalation latency (p50 / p99) and errors, and what the
floods got (accepted and refused). What must hold: every shopper message is answered in both
phases, the flood's hellos are refused once past the burst, the health streams past the budget
get RESOURCE_EXHAUSTED and the tokenless calls UNAUTHENTICATED.

Usage: python bench/flood.py [--shoppers 10] [--messages 4] [--out docs/flood.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.fuzz import SERVICE_TOKEN, _stop, _tracebacks, start_cloud, start_edge  # noqa: E402
from bench.verdict import finish  # noqa: E402
from protos.triage.v1 import escalation_pb2 as pb  # noqa: E402
from triage.config import EdgeConfig  # noqa: E402

if TYPE_CHECKING:
    import subprocess

FAQ = "How much is shipping?"
DISPUTE = "My parcel never arrived and I want my money back now"
FLOOD_ADDRESS = "203.0.113.9"


def start_flood_edge(bundle: Path, cloud_port: int, work: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Behind a trusted proxy (this process), so each shopper has its own address in X-Forwarded-For."""
    return start_edge(bundle, work, {"TRIAGE_EDGE__CLOUD_TOKEN": SERVICE_TOKEN,
                                     "TRIAGE_EDGE__TRUSTED_PROXIES": "127.0.0.1",
                                     "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "60", "TRIAGE_EDGE__QUEUED_AFTER_S": "60"},
                      cloud=f"127.0.0.1:{cloud_port}")


class Phase(msgspec.Struct):
    name: str
    faq_ms: list[float] = []
    escalation_ms: list[float] = []
    unanswered: int = 0
    errors: dict[str, int] = {}


async def _shopper(url: str, n: int, messages: int, phase: Phase) -> None:
    headers = {"X-Forwarded-For": f"10.1.{n // 250}.{n % 250 + 1}"}
    async with websockets.connect(url, additional_headers=headers, open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
        await asyncio.wait_for(ws.recv(), 30)
        for i in range(messages):
            escalating = i % 2 == 1
            msg_id = f"{phase.name}-{n}-{i}"
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": DISPUTE if escalating else FAQ}))
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if frame.get("type") == "error":
                        phase.errors[frame["code"]] = phase.errors.get(frame["code"], 0) + 1
                        phase.unanswered += 1
                        break
                    if frame.get("type") == "answer" and frame.get("reply_to") == msg_id and (
                            frame["decision"] != "escalate" or frame["source"] == "cloud"):
                        elapsed = (time.perf_counter() - started) * 1000
                        (phase.escalation_ms if escalating else phase.faq_ms).append(elapsed)
                        break
            except TimeoutError:
                phase.unanswered += 1


async def shoppers(url: str, count: int, messages: int, name: str) -> Phase:
    phase = Phase(name)
    await asyncio.gather(*(_shopper(url, n, messages, phase) for n in range(count)))
    return phase


class Floods(msgspec.Struct):
    hellos_sent: int = 0
    hellos_welcomed: int = 0
    hellos_refused: int = 0
    connections_refused: int = 0
    watches_served: int = 0
    watches_refused: int = 0
    tokenless_refused: int = 0
    tokenless_other: dict[str, int] = {}
    seconds: float = 0.0


async def _hello_flood(url: str, floods: Floods, stop: asyncio.Event, sockets: int) -> None:
    headers = {"X-Forwarded-For": FLOOD_ADDRESS}

    async def one() -> None:
        while not stop.is_set():
            try:
                async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
                    while not stop.is_set():
                        await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
                        floods.hellos_sent += 1
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if frame.get("type") == "welcome":
                            floods.hellos_welcomed += 1
                        else:
                            floods.hellos_refused += 1
            except (websockets.WebSocketException, OSError, TimeoutError):
                floods.connections_refused += 1
                await asyncio.sleep(0.01)

    await asyncio.gather(*(one() for _ in range(sockets)))


async def _grpc_flood(cloud_port: int, floods: Floods, stop: asyncio.Event, watches: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cloud_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        escalate = channel.unary_stream("/triage.v1.Escalation/Escalate",
                                        request_serializer=pb.EscalateRequest.SerializeToString,
                                        response_deserializer=pb.EscalateEvent.FromString)
        held: list[Any] = []

        async def watch() -> None:
            call = health.Watch(health_pb2.HealthCheckRequest(service=""))
            held.append(call)
            try:
                await call.read()
                floods.watches_served += 1
            except grpc.aio.AioRpcError:
                floods.watches_refused += 1

        async def tokenless() -> None:
            while not stop.is_set():
                request = pb.EscalateRequest(idempotency_key=f"flood-{time.monotonic_ns()}",
                                             customer=pb.CustomerRef(tenant="demo"), lang="en", message="hi")
                try:
                    async for _ in escalate(request, timeout=10):
                        pass
                    floods.tokenless_other["OK"] = floods.tokenless_other.get("OK", 0) + 1
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                        floods.tokenless_refused += 1
                    else:
                        floods.tokenless_other[exc.code().name] = floods.tokenless_other.get(exc.code().name, 0) + 1

        try:
            await asyncio.gather(*(watch() for _ in range(watches)))
            callers = [asyncio.ensure_future(tokenless()) for _ in range(4)]
            while not stop.is_set():  # new unauthenticated streams keep coming, each refused past the budget
                await asyncio.gather(*(watch() for _ in range(20)))
                await asyncio.sleep(0.5)
            await asyncio.gather(*callers)
        finally:
            for call in held:
                call.cancel()


async def flooded(url: str, cloud_port: int, count: int, messages: int, sockets: int = 20,
                  watches: int = 200) -> tuple[Phase, Floods]:
    floods, stop = Floods(), asyncio.Event()
    flood = asyncio.gather(_hello_flood(url, floods, stop, sockets), _grpc_flood(cloud_port, floods, stop, watches))
    started = time.monotonic()
    await asyncio.sleep(2.0)  # the floods are at their limits before the shoppers come
    try:
        phase = await shoppers(url, count, messages, "flooded")
    finally:
        stop.set()
        floods.seconds = time.monotonic() - started
        with contextlib.suppress(Exception):
            await asyncio.wait_for(flood, 30)
    return phase, floods


def run(work: Path, bundle: Path, model_dir: Path, count: int, messages: int) -> dict[str, Any]:
    cloud, cloud_port, cloud_log = start_cloud(model_dir, work)
    try:
        edge, port, edge_log = start_flood_edge(bundle, cloud_port, work)
        try:
            url = f"ws://127.0.0.1:{port}/v1/chat"
            quiet = asyncio.run(shoppers(url, count, messages, "quiet"))
            under_flood, floods = asyncio.run(flooded(url, cloud_port, count, messages))
        finally:
            _stop(edge)
    finally:
        _stop(cloud)
    return {"quiet": msgspec.to_builtins(quiet), "flooded": msgspec.to_builtins(under_flood),
            "floods": msgspec.to_builtins(floods), "tracebacks": _tracebacks(edge_log) + _tracebacks(cloud_log)}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def failures(result: dict[str, Any], count: int, messages: int) -> list[str]:
    found = []
    for name in ("quiet", "flooded"):
        phase = result[name]
        answered = len(phase["faq_ms"]) + len(phase["escalation_ms"])
        if answered != count * messages or phase["unanswered"]:
            found.append(f"{name}: {answered} of {count * messages} shopper messages answered ({phase['errors']})")
    floods = result["floods"]
    # [edge] address_rate_burst at once, then address_rate_per_s for as long as it lasted
    limits = EdgeConfig()
    allowed = limits.address_rate_burst + limits.address_rate_per_s * (floods["seconds"] + 1)
    if not floods["hellos_refused"] or floods["hellos_welcomed"] > allowed:
        found.append(f"the hello flood was not held at the limit ({allowed:.0f} welcomes allowed): {floods}")
    if result["tracebacks"]:
        found.append(f"{result['tracebacks']} tracebacks in the edge's and the cloud's logs")
    if not floods["watches_refused"] or floods["tokenless_other"]:
        found.append(f"unauthenticated gRPC was not refused as it should be: {floods}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=10)
    parser.add_argument("--messages", type=int, default=4, help="per shopper, every other one escalated")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from bench.fuzz import _default_bundle
    from cloud_core.llm.build import build_model

    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        bundle = Path(args.bundle) if args.bundle else _default_bundle()
        result = run(Path(tmp), bundle, build_model(), args.shoppers, args.messages)
    table = Table(title=f"{args.shoppers} shoppers x {args.messages} messages (every other one escalated)")
    for col in ("phase", "FAQ p50 / p99 ms", "escalation p50 / p99 ms", "unanswered", "errors"):
        table.add_column(col, justify="right")
    for name in ("quiet", "flooded"):
        p = result[name]
        table.add_row(name, f"{_pct(p['faq_ms'], 50):.1f} / {_pct(p['faq_ms'], 99):.1f}",
                      f"{_pct(p['escalation_ms'], 50):.0f} / {_pct(p['escalation_ms'], 99):.0f}",
                      str(p["unanswered"]), str(p["errors"] or "-"))
    console = Console(width=160)
    console.print(table)
    console.print(f"floods: {result['floods']}")
    finish(failures(result, args.shoppers, args.messages),
           "every shopper message answered under the floods; the floods were refused", result, args.out)


if __name__ == "__main__":
    main()
