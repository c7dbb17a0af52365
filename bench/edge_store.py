"""The edge store alone: what recording one answered message costs, SQLite and PostgreSQL side by side.

``bench/edge_load.py`` measures the whole edge under websocket load, where the store is one part
and a shared 2-core VM moves a run's p99 by 2-5x. This isolates the store's part: the same
``record_message`` calls (message, ledger row and numbered answer frame, as an answered FAQ
writes them) one after another and from 8 coroutines at once (different sessions, as
concurrent shoppers), on a fresh SQLite file and a fresh PostgreSQL schema, in one run.

Usage: python bench/edge_store.py [--messages 2000] [--out docs/edge_store.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.edge_load import _fresh_store  # noqa: E402
from edge_node.frames import answer_encoder  # noqa: E402
from edge_node.store import LedgerEntry, MessageOutcome, open_edge_store  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402


def _outcome(session: str, n: int) -> MessageOutcome:
    client_id = f"m{n}"
    return MessageOutcome(session=session, client_id=client_id, text="How much is shipping?", lang="en",
                          lang_changed=n == 0, intent="shipping_cost", decision="answer",
                          entry=LedgerEntry(session, client_id, "answer", "edge", 1.0),
                          answer=answer_encoder(client_id, "Shipping is free from 50 EUR.", "en", "shipping_cost",
                                                "edge", 0.93, "answer"))


async def _record(location: str, messages: int, concurrency: int) -> list[float]:
    store = open_edge_store(location)
    await store.open()
    latencies: list[float] = []
    try:
        sessions = [(await store.open_session("demo", None)).session for _ in range(concurrency)]

        async def shopper(session: str) -> None:
            for n in range(messages // concurrency):
                started = time.perf_counter()
                await store.record_message(_outcome(session, n))
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(shopper(s) for s in sessions))
    finally:
        await store.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    table = Table(title=f"record_message: one answered message's bookkeeping, {args.messages} per row")
    for col in ("store", "at once", "p50 ms", "p99 ms", "messages/s", "p50 ratio to SQLite"):
        table.add_column(col, justify="right")
    rows = []
    for concurrency in (1, 8):
        base = 0.0
        for kind in ("sqlite", "postgresql"):
            started = time.perf_counter()
            latencies = asyncio.run(_record(_fresh_store(kind), args.messages, concurrency))
            rate = len(latencies) / (time.perf_counter() - started)
            p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
            base = base or p50
            rows.append({"store": kind, "concurrency": concurrency, "p50_ms": p50, "p99_ms": p99,
                         "messages_per_s": rate})
            table.add_row(kind, str(concurrency), f"{p50:.3f}", f"{p99:.3f}", f"{rate:.0f}", f"{p50 / base:.2f}")
    Console(width=160).print(table)
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
