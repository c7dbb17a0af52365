"""``triage replay``: drive a running stack with a traffic file, like real shoppers, and report cost.

Rows are grouped into conversations (by a ``conversation`` field, else ``--turns`` consecutive
rows), each played over its own websocket, several at once. Costs come from the edge's own
Prometheus counters read before and after the run, so the report prices exactly this traffic.

A client, like a shopper's browser: it speaks only the websocket schema and reads ``/metrics``, so
it sits with the commands and the edge service never imports it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import numpy as np
import websockets
from prometheus_client.parser import text_string_to_metric_families

from edge_node.report import CostReport, cost_report

if TYPE_CHECKING:
    from triage.config import CostConfig

__all__ = ["ReplayRow", "edge_http_base", "read_traffic", "replay"]


class ReplayRow(msgspec.Struct):
    """One line of a traffic file; ``label`` (the true intent) lets the replay score accuracy."""

    text: str
    label: str | None = None
    lang: str | None = None
    expect: str | None = None
    conversation: str | None = None


def read_traffic(path: Path, turns: int) -> list[list[ReplayRow]]:
    """Conversations from a JSONL file: grouped by ``conversation`` if rows carry one, else ``turns`` at a time."""
    rows = [msgspec.json.decode(line, type=ReplayRow) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    if any(r.conversation for r in rows):
        groups: dict[str, list[ReplayRow]] = {}
        for row in rows:
            groups.setdefault(row.conversation or "", []).append(row)
        return list(groups.values())
    return [rows[i:i + turns] for i in range(0, len(rows), turns)]


def _counters(metrics_url: str) -> dict[tuple[str, str], float]:
    text = httpx.get(metrics_url, timeout=10).text
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                label = next(iter(sample.labels.values()), "")
                out[(sample.name, label)] = sample.value
    return out


class _Timings:
    def __init__(self) -> None:
        self.edge: list[float] = []
        self.first_cloud: list[float] = []
        self.final_cloud: list[float] = []
        self.unanswered = 0
        self.escalated = 0
        self.labelled = 0
        self.correct = 0
        """Labelled rows handled right: answered at the edge with the labelled intent, or sent to the cloud."""


async def _conversation(url: str, storefront: str, rows: list[ReplayRow], timings: _Timings, timeout: float) -> None:
    async with websockets.connect(url, open_timeout=10, max_size=1 << 20) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": storefront}))
        json.loads(await ws.recv())
        for n, row in enumerate(rows):
            msg_id = f"r{n}"
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": row.text}))
            first_cloud = False
            while True:
                try:
                    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                except TimeoutError:
                    timings.unanswered += 1
                    break
                if frame.get("reply_to") != msg_id:
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                kind = frame["type"]
                if kind == "typing":
                    timings.escalated += 1
                elif kind == "delta" and not first_cloud:
                    first_cloud = True
                    timings.first_cloud.append(elapsed)
                elif kind == "answer" and frame["source"] == "edge":
                    timings.edge.append(elapsed)
                    if row.label is not None:
                        timings.labelled += 1
                        timings.correct += frame.get("intent") == row.label
                    break
                elif kind == "answer" and frame["source"] == "cloud":
                    if not first_cloud:
                        timings.first_cloud.append(elapsed)
                    timings.final_cloud.append(elapsed)
                    if row.label is not None:
                        timings.labelled += 1
                        timings.correct += 1
                    break
                elif kind == "error":
                    timings.unanswered += 1
                    break


def edge_http_base(url: str) -> str:
    """The edge's HTTP root (``/metrics``, ``/admin``) from its websocket URL, ``ws://host:port/v1/chat``."""
    return url.replace("ws://", "http://").replace("wss://", "https://").rsplit("/v1/", 1)[0]


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 2), "p99": round(float(np.percentile(arr, 99)), 2),
            "n": len(values)}


async def replay(url: str, traffic: list[list[ReplayRow]], cost: CostConfig, storefront: str = "demo",
                 concurrency: int = 8, timeout: float = 120.0) -> tuple[CostReport, int]:
    """Play every conversation; returns the report and the number of messages left unanswered."""
    base = edge_http_base(url)
    before = _counters(f"{base}/metrics")
    timings = _Timings()
    gate = asyncio.Semaphore(concurrency)

    async def one(rows: list[ReplayRow]) -> None:
        async with gate:
            await _conversation(url, storefront, rows, timings, timeout)

    await asyncio.gather(*(one(rows) for rows in traffic))
    after = _counters(f"{base}/metrics")

    def delta(name: str, label: str) -> float:
        return after.get((name, label), 0.0) - before.get((name, label), 0.0)

    messages = sum(len(rows) for rows in traffic)
    report = cost_report(
        conversations=len(traffic), messages=messages, escalated=timings.escalated,
        edge_cost=delta("triage_edge_cost_usd_total", "edge"), cloud_cost=delta("triage_edge_cost_usd_total", "cloud"),
        cloud_answers=int(delta("triage_edge_escalations_total", "delivered")),
        tokens=(int(delta("triage_edge_cloud_tokens_total", "input")),
                int(delta("triage_edge_cloud_tokens_total", "cached_input")),
                int(delta("triage_edge_cloud_tokens_total", "output"))), cost=cost)
    report.accuracy = round(timings.correct / timings.labelled, 4) if timings.labelled else None
    report.latency_ms = {"edge_answer": _percentiles(timings.edge),
                         "first_cloud_token": _percentiles(timings.first_cloud),
                         "cloud_answer": _percentiles(timings.final_cloud)}
    return report, timings.unanswered
