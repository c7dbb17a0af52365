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


def test_a_reply_committed_late_with_an_earlier_time_still_wakes_its_shopper(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        path = tmp_path / "edge.db"
        store = open_edge_store(str(path))
        await store.open()
        woken: list[str] = []
        receiver = DeliveryReceiver(store, EdgeMetrics(), "demo", "edge-1", woken.append)
        watching = asyncio.create_task(receiver.wake_for_others(interval_s=0.05))
        await asyncio.sleep(0.1)
        now = time.time()
        _stored_by_another_host(path, "d-new", "s-new", now)
        await asyncio.sleep(0.2)
        _stored_by_another_host(path, "d-late", "s-late", now - 2.0)  # a lagging host, or a slow commit
        await asyncio.sleep(0.3)
        watching.cancel()
        await store.close()
        return woken

    assert asyncio.run(scenario()) == ["s-new", "s-late"], "each reply wakes its shopper once"


def test_a_host_whose_clock_runs_ahead_does_not_hide_the_others_replies(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        path = tmp_path / "edge.db"
        store = open_edge_store(str(path))
        await store.open()
        woken: list[str] = []
        receiver = DeliveryReceiver(store, EdgeMetrics(), "demo", "edge-1", woken.append)
        watching = asyncio.create_task(receiver.wake_for_others(interval_s=0.05))
        await asyncio.sleep(0.1)
        _stored_by_another_host(path, "d-ahead", "s-ahead", time.time() + 60.0)  # a clock a minute fast
        await asyncio.sleep(0.2)
        _stored_by_another_host(path, "d-right", "s-right", time.time())
        await asyncio.sleep(0.3)
        watching.cancel()
        await store.close()
        return woken

    assert asyncio.run(scenario()) == ["s-ahead", "s-right"]
