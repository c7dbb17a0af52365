"""Disputes in the cloud core: the shop's procedures beside the model's free text, in one run.

The 13 dispute rows of ``../shared/data/eval/dialogues_dev.jsonl`` (every row the edge escalates)
are sent over gRPC to two cloud cores in this process that share one ONNX backend: one runs the
demo procedures against a real demo shop over HTTP (``triage shop``, reset before each round, so
every round decides the same cases), the other answers with the built-in model in every language
(``answer_languages = "*"``: the old free-text path). Each request is what the edge sends: the
signed-in customer, the verified order, the shopper's language. The table gives time to the final
answer (p50, p99), how many answers came in the shopper's language's template or model text, how
many cases were resolved without a person (money or goods moved, or the facts were given) and how
many went to a person by policy (rules 6, 8-10, 13), and how many shop writes were made.

Usage: python bench/disputes.py [--rounds 5] [--max-tokens 120] [--out docs/disputes.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cloud_core.llm.build import build_model  # noqa: E402
from cloud_core.llm.onnx import OnnxBackend, OnnxLM  # noqa: E402
from cloud_core.memory import open_store  # noqa: E402
from cloud_core.procedures import open_procedures  # noqa: E402
from cloud_core.server import CloudServer  # noqa: E402
from commands.clients.dialogues import DialogueRow, read_dialogues  # noqa: E402
from protos.triage.v1 import escalation_pb2 as pb  # noqa: E402
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc  # noqa: E402
from triage.config import CloudConfig, ShopConfig  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402
from triage.progress import progress_bar  # noqa: E402
from triage.slots import SlotFinder  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SHOP_SECRET = "bench-disputes-shop-secret"
DISPUTES = ("dev06", "dev07", "dev08", "dev09", "dev10", "dev11", "dev12", "dev13", "dev16", "dev17", "dev18",
            "dev19", "dev22")
"""The rows the edge escalates (``bench/dialogues_stack.py`` routes the others at the edge)."""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Shop:
    def __init__(self, work: Path, port: int = 18391) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.db = work / "shop.db"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """A fresh shop: the seeded orders as orders.json has them, nothing refunded by an earlier round."""
        self.stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "commands", "shop", "--orders",
                                      str(DATA / "shop" / "orders.json"), "--port", str(self.port), "--db",
                                      str(self.db), "--secret", SHOP_SECRET, "--reset"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("the demo shop did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _request(row: DialogueRow, n: int, slots: SlotFinder, max_tokens: int) -> pb.EscalateRequest:
    text = row.turns[-1]
    request = pb.EscalateRequest(
        idempotency_key=f"bench-{row.id}-{n}", customer=pb.CustomerRef(tenant="demo", customer_id=row.customer or ""),
        lang=row.lang, message=text, use_memory=False, options=pb.GenerationOptions(max_tokens=max_tokens),
        context=pb.CaseContext(order_id=slots.order_id(row.turns), channel=pb.CHANNEL_CHAT, opened_by="edge",
                               identity=pb.IDENTITY_SIGNED_IN))
    request.conversation.extend(pb.Turn(role=pb.ROLE_SHOPPER, text=t) for t in row.turns[:-1])
    return request


async def _run(server: CloudServer, rows: list[DialogueRow], rounds: int, label: str, shop: Shop | None,
               max_tokens: int) -> list[tuple[float, pb.Final]]:
    await server.start()
    slots = SlotFinder(r"[0-9]{4,12}")
    out: list[tuple[float, pb.Final]] = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.EscalationStub(channel)
            with progress_bar() as progress:
                task = progress.add_task(label, total=rounds * len(rows))
                for n in range(rounds):
                    if shop is not None:
                        shop.start()
                    for row in rows:
                        start = time.perf_counter()
                        final = None
                        async for event in stub.Escalate(_request(row, n, slots, max_tokens), timeout=600):
                            if event.HasField("final"):
                                final = event.final
                        assert final is not None
                        out.append((time.perf_counter() - start, final))
                        progress.advance(task)
    finally:
        await server.stop()
    return out


def _summary(results: list[tuple[float, pb.Final]], rows: int) -> dict[str, float]:
    seconds = [s for s, _ in results]
    finals = [f for _, f in results]
    resolved = sum(f.outcome.kind in ("refunded", "replacement", "return_label", "info") for f in finals)
    to_person = sum(f.outcome.kind in ("human", "proposed") for f in finals)
    return {
        "answers": len(finals),
        "p50_ms": round(_percentile(seconds, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(seconds, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 1),
        "resolved_without_a_person": round(resolved / len(finals), 3),
        "to_a_person_by_policy": round(to_person / len(finals), 3),
        "flagged_for_human": round(sum(f.flagged_for_human for f in finals) / len(finals), 3),
        "mean_output_tokens": round(statistics.fmean(f.usage.output_tokens for f in finals), 1),
        "rows": rows,
    }


async def _both(backend: OnnxBackend, rows: list[DialogueRow], args: argparse.Namespace,
                work: Path) -> tuple[list[tuple[float, pb.Final]], list[tuple[float, pb.Final]]]:
    """Both cloud cores, made inside the running loop (grpc.aio binds a server to it)."""
    shop = Shop(work)
    try:
        tenant, runner = open_procedures(ROOT / "intents" / "storefront",
                                         ShopConfig(url=shop.url, secret=SHOP_SECRET, timeout_s=10.0))
        with_procedures = CloudServer(CloudConfig(port=0, memory=f"sqlite:///{work}/a.db", grace_s=1.0), backend,
                                      open_store(f"sqlite:///{work}/a.db"), procedures={tenant: runner})
        procedural = await _run(with_procedures, rows, args.rounds, "procedures", shop, args.max_tokens)
    finally:
        shop.stop()
    free = CloudServer(CloudConfig(port=0, memory=f"sqlite:///{work}/b.db", grace_s=1.0, answer_languages="*",
                                   max_concurrent=1), backend, open_store(f"sqlite:///{work}/b.db"))
    free_text = await _run(free, rows, args.rounds, "model free text", None, args.max_tokens)
    return procedural, free_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--show", action="store_true", help="print the first round's answers of both paths")
    args = parser.parse_args()
    rows = [r for r in read_dialogues(DATA / "eval" / "dialogues_dev.jsonl") if r.id in DISPUTES]
    backend = OnnxBackend(OnnxLM(build_model(), threads=args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        procedural, free_text = asyncio.run(_both(backend, rows, args, Path(tmp)))
    table = {"procedures": _summary(procedural, len(rows)), "model free text": _summary(free_text, len(rows))}
    out = Table(title=f"{len(rows)} dispute rows x {args.rounds} rounds, over gRPC, one process")
    out.add_column("path")
    for key in table["procedures"]:
        out.add_column(key.replace("_", " "), justify="right")
    for name, summary in table.items():
        out.add_row(name, *(str(v) for v in summary.values()))
    console = Console(width=200)
    console.print(out)
    ratio = table["model free text"]["p50_ms"] / max(table["procedures"]["p50_ms"], 0.001)
    console.print(f"free text p50 / procedure p50: {ratio:.0f}x")
    cpu = describe(cpu_info())
    console.print(cpu)
    if args.show:
        for (_, a), (_, b), row in zip(procedural, free_text, rows * args.rounds, strict=False):
            console.print(f"[bold]{row.id} ({row.lang})[/bold] {row.turns[-1]}\n  procedure: {a.text}\n"
                          f"  model: {b.text}")
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": cpu, "rounds": args.rounds, "max_tokens": args.max_tokens,
                                              "paths": table}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
