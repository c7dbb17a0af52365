"""The repetition guard against the raw model, side by side on the demo shop's dispute escalations.

Each English cloud-tier example of ``intents/storefront`` (up to ``--per-intent`` per intent) is escalated
twice in the same run, greedy, ``--max-tokens`` each: once straight through the ONNX backend (the
peer: what the model says on its own) and once over gRPC through the real cloud core, whose guard
ends the answer at the first sentence that repeats an earlier one. The table gives how many answers
loop (a repeated sentence in the raw text; cut answers for the service), how many run to the token
limit, tokens decoded and seconds per answer. Both paths see the same prompts and share one backend
(and its prefix cache, warm after the first prompt).

Usage: python bench/repetition.py [--per-intent 3] [--max-tokens 200] [--out docs/repetition.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import msgspec  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cloud_core.llm.base import Finished, GenerationOptions  # noqa: E402
from cloud_core.llm.build import build_model  # noqa: E402
from cloud_core.llm.onnx import OnnxBackend, OnnxLM  # noqa: E402
from cloud_core.memory import open_store  # noqa: E402
from cloud_core.prompting import EscalationInput, build_prompt  # noqa: E402
from cloud_core.repetition import first_repeat  # noqa: E402
from cloud_core.server import CloudServer  # noqa: E402
from protos.triage.v1 import escalation_pb2 as pb  # noqa: E402
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc  # noqa: E402
from triage.catalog import load_catalog  # noqa: E402
from triage.config import CloudConfig  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402
from triage.progress import progress_bar  # noqa: E402


def _cases(per_intent: int) -> list[tuple[str, str, str]]:
    """(intent, lang, message): English examples of the demo shop's cloud-tier intents, the one language
    the built-in model writes (``[cloud] answer_languages``; other languages never reach it)."""
    catalog = load_catalog(ROOT / "intents" / "storefront")
    return [(intent.name, "en", text) for intent in catalog.intents if intent.tier == "cloud"
            for text in intent.examples.get("en", [])[:per_intent]]


class Answer(NamedTuple):
    seconds: float
    tokens: int
    at_limit: bool
    text: str

    @property
    def loops(self) -> bool:
        return first_repeat(self.text) is not None


def _raw(backend: OnnxBackend, cases: list[tuple[str, str, str]], max_tokens: int) -> list[Answer]:
    out = []
    with progress_bar() as progress:
        task = progress.add_task("raw model", total=len(cases))
        for intent, lang, message in cases:
            # The prompt the service builds for an anonymous shopper (no memory, no policy).
            prompt = build_prompt(EscalationInput(tenant="demo", lang=lang, message=message, intent=intent))
            start = time.perf_counter()
            final = [e for e in backend.generate(prompt, GenerationOptions(max_tokens=max_tokens))][-1]
            assert isinstance(final, Finished)
            out.append(Answer(time.perf_counter() - start, final.usage.output_tokens,
                              final.finish_reason == "length", final.text))
            progress.advance(task)
    return out


async def _served(backend: OnnxBackend, cases: list[tuple[str, str, str]], max_tokens: int,
                  work: Path) -> tuple[list[Answer], int]:
    config = CloudConfig(port=0, memory=f"sqlite:///{work}/memory.db", max_concurrent=1, grace_s=1.0)
    server = CloudServer(config, backend, open_store(config.memory))
    await server.start()
    out = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.EscalationStub(channel)
            with progress_bar() as progress:
                task = progress.add_task("cloud core (guarded)", total=len(cases))
                for i, (intent, lang, message) in enumerate(cases):
                    request = pb.EscalateRequest(
                        idempotency_key=f"bench-{i}", customer=pb.CustomerRef(tenant="demo"), lang=lang,
                        message=message, intent=intent, options=pb.GenerationOptions(max_tokens=max_tokens))
                    start = time.perf_counter()
                    final = None
                    async for event in stub.Escalate(request, timeout=300):
                        if event.HasField("final"):
                            final = event.final
                    assert final is not None
                    out.append(Answer(time.perf_counter() - start, final.usage.output_tokens,
                                      final.finish_reason == pb.FINISH_REASON_LENGTH, final.text))
                    progress.advance(task)
        cuts = int(server.metrics.repetition_cuts._value.get())
    finally:
        await server.stop()
    return out, cuts


def _summary(rows: list[Answer]) -> dict[str, float]:
    return {
        "answers": len(rows),
        "with_repeated_sentence": sum(r.loops for r in rows),
        "at_token_limit": sum(r.at_limit for r in rows),
        "mean_tokens": round(statistics.fmean(r.tokens for r in rows), 1),
        "mean_seconds": round(statistics.fmean(r.seconds for r in rows), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-intent", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--show", action="store_true", help="print each guarded answer")
    args = parser.parse_args()
    cases = _cases(args.per_intent)
    backend = OnnxBackend(OnnxLM(build_model(), threads=args.threads))
    raw = _summary(_raw(backend, cases, args.max_tokens))
    with tempfile.TemporaryDirectory() as tmp:
        served_rows, cuts = asyncio.run(_served(backend, cases, args.max_tokens, Path(tmp)))
    served = _summary(served_rows)
    if args.show:
        for (intent, lang, message), row in zip(cases, served_rows, strict=True):
            Console().print(f"[bold]{intent} ({lang})[/bold] {message}\n  -> {row.text}")
    table = Table(title=f"Dispute escalations of the demo shop, greedy, max {args.max_tokens} tokens")
    for col in ("path", "answers", "with a repeated sentence", "at token limit", "mean tokens", "mean s"):
        table.add_column(col, justify="right")
    for name, s in (("raw model (peer)", raw), (f"cloud core, guarded ({cuts} cut)", served)):
        table.add_row(name, *(str(s[k]) for k in ("answers", "with_repeated_sentence", "at_token_limit",
                                                   "mean_tokens", "mean_seconds")))
    Console().print(table)
    print(describe())
    if raw["mean_tokens"]:
        Console().print(f"tokens decoded, guarded / raw: {served['mean_tokens'] / raw['mean_tokens']:.2f}; "
                        f"seconds: {served['mean_seconds'] / raw['mean_seconds']:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "raw": raw, "guarded": served,
                                              "cuts": cuts, "max_tokens": args.max_tokens}, indent=2) + "\n")


if __name__ == "__main__":
    main()
