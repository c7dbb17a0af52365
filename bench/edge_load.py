"""Websocket load on a real edge: N concurrent shopper sessions, round trip per FAQ answer.

Starts ``triage edge`` on a loopback port (unless --url is given), opens N sessions with the
``websockets`` client, and has each send M messages one after another (the next once the
answer is back), as shoppers do. Peers side by side in one run: one and two worker processes,
50 and 200 sessions, and the in-process pipeline alone (no network) as the floor. Client and server share the machine's
two cores, so absolute numbers are pessimistic; compare rows, not runs. "edge CPU ms/msg" is the CPU
time of the edge's processes per message, and "node capacity/s" what the node's cores would serve at
that cost with the load generated elsewhere.

With ``--order-mix`` (on by default) one more run per worker count plays signed-in shoppers whose
every other message asks for one of their orders by number ("Where is my order 10234?"): the edge
answers it with an action against the demo shop (``triage shop``, started here on its own database),
and the table gives action answers and FAQ answers of that run side by side.

Usage: python bench/edge_load.py [--bundle var/bundle] [--workers 1 2] [--sessions 50 200] [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from triage.cpu import cpu_info, describe  # noqa: E402

QUESTIONS = ["How much is shipping?", "Was kostet der Versand?", "Vendez-vous des cartes cadeaux ?",
             "¿A qué países enviáis?", "Avete uno sconto per studenti?", "Hoe was ik mijn regenjas?",
             "Czy macie aplikację mobilną?", "Where is my order?"]


SESSION_SECRET = "bench-session-secret-0123456789"
SHOP_SECRET = "bench-shop-secret-0123456789"
ORDERS = ROOT.parent / "shared" / "data" / "shop" / "orders.json"


class Shopper(msgspec.Struct):
    token: str = ""
    orders: list[str] = []
    """Order numbers this signed-in shopper asks about on every other message (empty: FAQ only)."""

    def question(self, i: int) -> str:
        if self.orders and i % 2:
            return f"Where is my order {self.orders[(i // 2) % len(self.orders)]}?"
        return QUESTIONS[i % len(QUESTIONS)]


async def _session(url: str, n: int, latencies: dict[str, list[float]], think_s: float, shopper: Shopper) -> int:
    answered = 0
    if think_s:  # shoppers arrive over time: ramp up over one mean think time instead of all at once
        await asyncio.sleep(think_s * np.random.random())
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": shopper.token, "session": None,
                                  "last_seq": 0}))
        await ws.recv()
        for i in range(n):
            if think_s:
                await asyncio.sleep(think_s * (0.5 + np.random.random()))
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "id": str(i), "text": shopper.question(i)}))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] in ("answer", "error"):
                    break
            kind = "action" if frame.get("decision") == "action" else "faq"
            latencies.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
            answered += frame["type"] == "answer"
    return answered


async def _load(url: str, sessions: int, messages: int, think_s: float,
                shoppers: list[Shopper] | None = None) -> tuple[dict[str, list[float]], int, float]:
    latencies: dict[str, list[float]] = {}
    crowd = shoppers or [Shopper()]
    start = time.perf_counter()
    answered = await asyncio.gather(*(_session(url, messages, latencies, think_s, crowd[i % len(crowd)])
                                      for i in range(sessions)))
    return latencies, sum(answered), time.perf_counter() - start


def _signed_in_shoppers() -> list[Shopper]:
    from triage.session_token import mint_token

    data = json.loads(ORDERS.read_text())
    by_customer: dict[str, list[str]] = {}
    for order in data["orders"]:
        by_customer.setdefault(order["customer"], []).append(order["id"])
    return [Shopper(mint_token(SESSION_SECRET, "demo", c, 86400), ids) for c, ids in sorted(by_customer.items())]


def _start_shop(port: int) -> subprocess.Popen[bytes]:
    import httpx

    db = Path(tempfile.mkdtemp(prefix="edge-load-shop-")) / "shop.db"
    proc = subprocess.Popen([sys.executable, "-m", "commands", "shop", "--orders", str(ORDERS), "--port", str(port),
                             "--db", str(db), "--secret", SHOP_SECRET], stdout=subprocess.DEVNULL)
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the demo shop did not start; run `triage shop --orders ...` by hand to see why")


def _in_process(bundle: Path, n: int) -> list[float]:
    from edge_node.service import EdgeService
    from triage.config import EdgeConfig

    edge = EdgeService.from_bundle(bundle, EdgeConfig())
    out = []
    for i in range(n):
        start = time.perf_counter()
        edge.reply(QUESTIONS[i % len(QUESTIONS)], None)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit("edge exited; build the bundle first: "
                             "triage build --catalog intents/storefront --out var/bundle")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("edge did not become ready")


def _cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and all its descendants (the edge's worker processes)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


def _fresh_store(kind: str) -> str:
    """Every message is stored, as in production: a new SQLite file, or a new schema on PostgreSQL."""
    if kind == "sqlite":
        return str(Path(tempfile.mkdtemp(prefix="edge-load-")) / "edge.db")
    import uuid

    import psycopg

    base = os.environ.get("TRIAGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"edge_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    options = os.environ.get("TRIAGE_BENCH_PG_OPTIONS", "")
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}{options}"


def _start_edge(bundle: str, port: int, workers: int, deflate: bool, shop: str = "",
                store_kind: str = "sqlite") -> subprocess.Popen[bytes]:
    store = _fresh_store(store_kind)
    env = {**os.environ, "TRIAGE_EDGE__RATE_PER_S": "1000", "TRIAGE_EDGE__RATE_BURST": "1000",
           "TRIAGE_EDGE__ADDRESS_RATE_PER_S": "100000", "TRIAGE_EDGE__ADDRESS_RATE_BURST": "100000",
           "TRIAGE_EDGE__STORE": store, "TRIAGE_EDGE__WS_COMPRESSION": "true" if deflate else "false",
           "TRIAGE_EDGE__SESSION_SECRET": SESSION_SECRET, "TRIAGE_SHOP__URL": shop, "TRIAGE_SHOP__SECRET": SHOP_SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "commands", "edge", "--bundle", bundle, "--port", str(port),
                             "--workers", str(workers)], env=env)
    _wait_ready(port, proc)
    return proc


class Results:
    """The table and its JSON rows."""

    def __init__(self, messages: int) -> None:
        self.table = Table(title=f"Edge websocket round trip, {messages} messages per session")
        for col in ("peer", "messages", "answered", "p50 ms", "p99 ms", "messages/s", "edge CPU ms/msg",
                    "node capacity/s"):
            self.table.add_column(col, justify="right")
        self.rows: list[dict[str, object]] = []

    def add(self, peer: str, lat: list[float], answered: int, rate: float, cpu_ms: float | None = None) -> None:
        capacity = 1000.0 * (os.cpu_count() or 1) / cpu_ms if cpu_ms else None
        row = {"peer": peer, "messages": len(lat), "answered": answered, "p50_ms": float(np.percentile(lat, 50)),
               "p99_ms": float(np.percentile(lat, 99)), "messages_per_s": rate, "edge_cpu_ms_per_message": cpu_ms,
               "node_capacity_per_s": capacity}
        self.rows.append(row)
        self.table.add_row(peer, str(len(lat)), str(answered), f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
                           f"{rate:.0f}", f"{cpu_ms:.2f}" if cpu_ms else "-", f"{capacity:.0f}" if capacity else "-")


def _measure(results: Results, name: str, url: str, proc: subprocess.Popen[bytes] | None, sessions: int,
             messages: int, think: float, shoppers: list[Shopper] | None = None) -> None:
    cpu_before = _cpu_seconds(proc.pid) if proc is not None else 0.0
    by_kind, answered, elapsed = asyncio.run(_load(url, sessions, messages, think, shoppers))
    every = [x for lat in by_kind.values() for x in lat]
    cpu_ms = (_cpu_seconds(proc.pid) - cpu_before) * 1000 / len(every) if proc is not None else None
    pacing = f"think {think:.1f}s" if think else "saturating"
    if shoppers is None:
        results.add(f"{name}{sessions} sessions, {pacing}", every, answered, len(every) / elapsed, cpu_ms)
        return
    for kind, label in (("faq", "FAQ answers"), ("action", "order-status actions (demo shop over HTTP)")):
        results.add(f"{name}{sessions} signed-in sessions, {pacing}: {label}", by_kind.get(kind, [0.0]),
                    len(by_kind.get(kind, [])), len(every) / elapsed, cpu_ms)


def _run_edge(results: Results, args: argparse.Namespace, workers: int, deflate: bool, shop: str,
              store: str = "sqlite", round_label: str = "") -> None:
    port = 18080
    proc = _start_edge(args.bundle, port, workers, deflate, shop, store)
    url = f"ws://127.0.0.1:{port}/v1/chat"
    name = f"{workers} worker{'s' if workers != 1 else ''}{' deflate' if deflate else ''}, "
    if len(args.store) > 1:
        name = f"{store}, {name}"
    name = f"{round_label}{name}"
    try:
        if args.warmup:  # a replica takes traffic for days: its first messages are a row of their own
            latencies, answered, elapsed = asyncio.run(_load(url, args.warmup, 5, 0.0))
            every = [x for values in latencies.values() for x in values]
            results.add(f"{name}first {len(every)} messages after start (warm-up, not in the rows below)", every,
                        answered, len(every) / elapsed, None)
        for think in sorted({args.think, 0.0}, reverse=True):
            for sessions in args.sessions:
                _measure(results, name, url, proc, sessions, args.messages, think)
        if shop:  # at the smallest load: latency of the two paths, not of a saturated node
            _measure(results, name, url, proc, min(args.sessions), args.messages, args.think, _signed_in_shoppers())
    finally:
        proc.terminate()
        proc.wait(15)


def _medians(rows: list[dict[str, object]], stores: list[str]) -> Table:
    """Median p50/p99 of each configuration over the rounds, with each store's p99 over the first's."""
    by_peer: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        peer = str(row["peer"])
        if peer.startswith("round "):
            by_peer.setdefault(peer.split(": ", 1)[1], []).append(row)
    table = Table(title=f"Median over rounds; p99 ratio to {stores[0]}")
    for col in ("configuration", "rounds", "median p50 ms", "median p99 ms", "p99 ratio"):
        table.add_column(col, justify="right")
    for peer, runs in by_peer.items():
        p99 = float(np.median([float(r["p99_ms"]) for r in runs]))  # type: ignore[arg-type]
        p50 = float(np.median([float(r["p50_ms"]) for r in runs]))  # type: ignore[arg-type]
        base_peer = peer.replace(f"{peer.split(',')[0]},", f"{stores[0]},", 1) if len(stores) > 1 else peer
        base = by_peer.get(base_peer, runs)
        base_p99 = float(np.median([float(r["p99_ms"]) for r in base]))  # type: ignore[arg-type]
        table.add_row(peer, str(len(runs)), f"{p50:.2f}", f"{p99:.2f}", f"{p99 / base_p99:.2f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", default="var/bundle")
    parser.add_argument("--url", default=None, help="a running edge (else one is started per --workers value)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sessions", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--deflate", choices=("off", "on"), nargs="+", default=["off"],
                        help="edge negotiates permessage-deflate (the client always offers it, as browsers do)")
    parser.add_argument("--think", type=float, default=0.5,
                        help="mean seconds a shopper waits between messages (0 = saturate)")
    parser.add_argument("--order-mix", action=argparse.BooleanOptionalAction, default=True,
                        help="also play signed-in shoppers asking for their orders (starts the demo shop)")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), nargs="+", default=["sqlite"],
                        help="the edge store: SQLite file, PostgreSQL schema (TRIAGE_BENCH_POSTGRES; its server's "
                             "CPU is not in the edge's CPU column; TRIAGE_BENCH_PG_OPTIONS appends server settings "
                             "to the edge's connections, e.g. '%%20-csynchronous_commit%%3Doff')")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this often, the stores interleaved, and compare medians: "
                             "one run's p99 moves by 2-5x on a shared 2-core VM")
    parser.add_argument("--warmup", type=int, default=32,
                        help="sessions of 5 messages each through a new edge before measuring (0: none)")
    parser.add_argument("--out", default=None, help="write the rows as JSON")
    args = parser.parse_args()
    results = Results(args.messages)
    floor = _in_process(Path(args.bundle), 2000)
    results.add("in-process pipeline (no network, no store)", floor, len(floor), 1000 / float(np.mean(floor)))
    if args.url:
        for sessions in args.sessions:
            _measure(results, "", args.url, None, sessions, args.messages, args.think)
    else:
        shop = _start_shop(18090) if args.order_mix else None
        try:
            for n in range(args.rounds):
                label = f"round {n + 1}: " if args.rounds > 1 else ""
                for store in args.store:
                    for deflate in args.deflate:
                        for workers in args.workers:
                            _run_edge(results, args, workers, deflate == "on",
                                      "http://127.0.0.1:18090" if shop else "", store, label)
        finally:
            if shop is not None:
                shop.terminate()
                shop.wait(15)
    console = Console(width=200)
    console.print(results.table)
    medians = _medians(results.rows, args.store) if args.rounds > 1 else None
    if medians is not None:
        console.print(medians)
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "rows": results.rows},
                                             indent=2) + "\n")


if __name__ == "__main__":
    main()
