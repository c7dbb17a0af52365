"""An edge node with several worker processes on one port behaves as one node.

The workers share the listening socket and the store: a session resumes on whichever worker the
reconnect lands on, and a bundle swapped through any worker is served by all of them soon after.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import EdgeProcess
from tests.e2e.test_escalation import Shopper

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

ADMIN = "workers-admin-token"


@pytest.fixture(scope="module")
def two_workers(demo_bundle: Path):
    process = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__WORKERS": "2", "TRIAGE_EDGE__ADMIN_TOKEN": ADMIN,
                                        "TRIAGE_EDGE__BUNDLE_POLL_S": "0.2"})
    yield process
    process.stop()


def _workers_seen(edge: EdgeProcess, tries: int = 40) -> dict[int, str]:
    """Worker pid -> bundle it serves, over fresh connections (each may land on either worker)."""
    seen: dict[int, str] = {}
    for _ in range(tries):
        ready = httpx.get(edge.url + "/readyz", headers={"Connection": "close"}, timeout=5).json()
        seen[ready["worker"]] = ready["bundle"]
    return seen


def test_both_workers_accept_connections_on_the_one_port(two_workers: EdgeProcess) -> None:
    assert len(_workers_seen(two_workers)) == 2


async def test_every_session_is_answered_and_resumes_on_any_worker(two_workers: EdgeProcess) -> None:
    shoppers = [Shopper(two_workers.ws_url) for _ in range(12)]
    await asyncio.gather(*(s.connect() for s in shoppers))
    for s in shoppers:
        await s.send("m1", "How much is shipping?")
    answers = await asyncio.gather(*(s.until(lambda f: f["type"] == "answer") for s in shoppers))
    assert all(a["source"] == "edge" and a["reply_to"] == "m1" for a in answers)
    for s in shoppers:  # reconnect: the kernel may hand each one to the other worker
        await s.close()
        s.last_seq = 0
        s.frames.clear()
        await s.connect()
    replayed = await asyncio.gather(*(s.until(lambda f: f["type"] == "answer") for s in shoppers))
    assert [r["text"] for r in replayed] == [a["text"] for a in answers]
    await asyncio.gather(*(s.close() for s in shoppers))


def _answered(metrics: str) -> float:
    line = next(x for x in metrics.splitlines() if x.startswith('triage_edge_messages_total{outcome="answered"}'))
    return float(line.rsplit(" ", 1)[1])


async def test_metrics_on_any_worker_count_the_messages_of_the_whole_node(two_workers: EdgeProcess) -> None:
    before = _answered(httpx.get(two_workers.url + "/metrics").text)
    shoppers = [Shopper(two_workers.ws_url) for _ in range(10)]
    await asyncio.gather(*(s.connect() for s in shoppers))
    for s in shoppers:
        await s.send("m1", "Do you sell gift cards?")
    await asyncio.gather(*(s.until(lambda f: f["type"] == "answer") for s in shoppers))
    await asyncio.gather(*(s.close() for s in shoppers))
    for _ in range(6):  # each scrape may land on either worker
        scraped = httpx.get(two_workers.url + "/metrics", headers={"Connection": "close"}).text
        assert _answered(scraped) == before + 10


def test_a_bundle_swapped_through_one_worker_is_followed_by_all(two_workers: EdgeProcess, tmp_path: Path) -> None:
    new_bundle = shutil.copytree(two_workers.bundle, tmp_path / "bundle-2")
    swapped = httpx.post(two_workers.url + "/admin/bundle", json={"path": str(new_bundle)},
                         headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    assert swapped.status_code == 200, swapped.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = _workers_seen(two_workers, tries=10)
        if len(seen) == 2 and set(seen.values()) == {swapped.json()["path"]}:
            return
        time.sleep(0.2)
    raise AssertionError(f"workers did not all follow the swap: {seen}")
