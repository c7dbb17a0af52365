"""Replies another process of the node stored wake this process's shoppers, whatever order the rows
commit in: each row's time comes from its host's clock before its commit, so a late commit carries an
earlier time than rows already seen."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from edge_node.escalation.deliveries import DeliveryReceiver
from edge_node.metrics import EdgeMetrics
from edge_node.store import open_edge_store


def _stored_by_another_host(path: Path, delivery_id: str, session: str, at: float) -> None:
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO deliveries VALUES (?, ?, 1, ?)", (delivery_id, session, at))


async def _woken_by(path: Path, rows: list[tuple[str, float]]) -> list[str]:
    """Sessions woken while another host stores ``rows`` (session, seconds from now) one after the other."""
    store = open_edge_store(str(path))
    await store.open()
    woken: list[str] = []
    receiver = DeliveryReceiver(store, EdgeMetrics(), "demo", "edge-1", woken.append)
    watching = asyncio.create_task(receiver.wake_for_others(interval_s=0.05))
    await asyncio.sleep(0.1)
    for n, (session, offset_s) in enumerate(rows):
        _stored_by_another_host(path, f"d{n}", session, time.time() + offset_s)
        await asyncio.sleep(0.25)
    watching.cancel()
    await store.close()
    return woken


def test_a_reply_committed_late_with_an_earlier_time_still_wakes_its_shopper(tmp_path: Path) -> None:
    rows = [("s-new", 0.0), ("s-late", -2.0)]  # a lagging host, or a slow commit
    assert asyncio.run(_woken_by(tmp_path / "edge.db", rows)) == ["s-new", "s-late"], "each wakes its shopper once"


def test_a_host_whose_clock_runs_ahead_does_not_hide_the_others_replies(tmp_path: Path) -> None:
    rows = [("s-ahead", 60.0), ("s-right", 0.0)]  # a clock a minute fast, then one on time
    assert asyncio.run(_woken_by(tmp_path / "edge.db", rows)) == ["s-ahead", "s-right"]
