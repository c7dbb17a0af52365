"""A region of three edge hosts sharing one PostgreSQL: each host in its own network namespace with its
own address (veth pairs), shoppers spread over them, escalations flowing to a real cloud core. A host
SIGKILLed mid-escalation during a cloud outage, and a rolling bundle update across the three, lose
nothing and double nothing: every accepted message gets exactly one final answer, the outbox ends
empty, and the ledger holds one edge row per message and one cloud row per escalated message."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
import websockets

from edge_node.store.postgres import PostgresEdgeStore
from tests.conftest import CLOUD_TOKEN, DEMO_CATALOG, CloudProcess, EdgeProcess
from tests.hosts import TcpRelay, hosts
from triage.bundle.build import build_bundle

pytestmark = pytest.mark.slow

FAQ = "Do you ship to the UK?"
HARD = "My parcel never arrived and the tracking has not moved for two weeks, what now?"
RELAY_PORT = 15432
ADMIN = "region-admin-token-0123456789"


class Shopper:
    """A shopper that, like the widget, resumes where it stopped and re-sends what has no answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.session: str | None = None
        self.resume_key = ""
        self.seq = 0
        self.finals: dict[str, list[dict]] = {}
        self.sent: dict[str, str] = {}
        self.ws = None

    async def connect(self, url: str) -> None:
        self.ws = await websockets.connect(url, open_timeout=10)
        await self.ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": self.session,
                                       "resume_key": self.resume_key, "last_seq": self.seq}))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert welcome["type"] == "welcome"
        assert self.session in (None, welcome["session"]), "the session resumed on another host"
        self.session, self.resume_key = welcome["session"], welcome["resume_key"]
        for msg_id, text in self.sent.items():  # re-sent by id: never answered twice
            if msg_id not in self.finals:
                await self.ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))

    async def say(self, msg_id: str, text: str) -> None:
        self.sent[msg_id] = text
        await self.ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))

    async def read(self, until: float) -> None:
        """Frames until every sent message has its final answer (or the connection drops)."""
        while set(self.sent) - set(self.finals) and time.monotonic() < until:
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.1, until - time.monotonic())))
            except (TimeoutError, websockets.ConnectionClosed):
                return
            if frame.get("type") == "answer":
                self.seq = max(self.seq, frame["seq"])
                if (frame["source"] != "queued" and frame.get("decision") != "escalate") or frame["source"] == "cloud":
                    self.finals.setdefault(frame["reply_to"], []).append(frame)


@pytest.fixture
def region(demo_bundle, llm_folder, postgres_url, tmp_path):
    with hosts(3) as machines, TcpRelay([(h.gateway, RELAY_PORT) for h in machines], ("127.0.0.1", 5432)):
        cloud = CloudProcess(llm_folder, tmp_path / "memory.db", max_tokens=24,
                             # the veth links never leave this machine: plaintext is allowed explicitly
                             env={"TRIAGE_CLOUD__HOST": "0.0.0.0", "TRIAGE_CLOUD__ALLOW_PLAINTEXT": "true"}).start()
        edges = []
        try:
            for host in machines:
                store = postgres_url.replace("127.0.0.1:5432", f"{host.gateway}:{RELAY_PORT}")
                edges.append(EdgeProcess(demo_bundle, {
                    "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__NODE_ID": "region-a",
                    "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "20", "TRIAGE_EDGE__QUEUED_AFTER_S": "1",
                    "TRIAGE_EDGE__ADMIN_TOKEN": ADMIN, "TRIAGE_EDGE__BUNDLE_POLL_S": "0.5",
                    "TRIAGE_EDGE__CLOUD_ALLOW_PLAINTEXT": "true", "TRIAGE_EDGE__ADMIN_ALLOW_PLAINTEXT": "true",
                    "TRIAGE_EDGE__STATUS_TOKEN": ADMIN},
                    store=store, cloud=f"{host.gateway}:{cloud.port}", host=host.address, port=8080,
                    prefix=host.command([])))
            yield cloud, edges, postgres_url
        finally:
            for edge in edges:
                edge.stop()
            cloud.stop()


async def _check_region(shoppers: list[Shopper], postgres_url: str) -> None:
    for shopper in shoppers:
        for msg_id in shopper.sent:
            assert len(shopper.finals.get(msg_id, [])) == 1, (shopper.name, msg_id, shopper.finals.get(msg_id))
    store = PostgresEdgeStore(postgres_url)
    await store.open()
    try:
        deadline = time.monotonic() + 20
        while await store.outbox.depth() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await store.outbox.depth() == 0, "the outbox ends empty"
        for shopper in shoppers:  # what is stored: one final answer per message, numbered once
            frames = await store.frames.after(shopper.session, 0)
            assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
            finals = Counter(f.reply_to for f in frames if f.final)
            assert finals == dict.fromkeys(shopper.sent, 1), (shopper.name, finals)
        rows = Counter((e.session, e.client_id, e.source) for e in await store.ledger())
        sessions = {s.session for s in shoppers}
        mine = {k: v for k, v in rows.items() if k[0] in sessions}
        expected = {(s.session, m, "edge"): 1 for s in shoppers for m in s.sent}
        expected |= {(s.session, m, "cloud"): 1 for s in shoppers for m, t in s.sent.items() if t == HARD}
        assert mine == expected, "one edge row per message, one cloud row per escalated message"
    finally:
        await store.close()


async def test_a_host_killed_mid_escalation_during_a_cloud_outage_loses_and_doubles_nothing(region):
    cloud, edges, postgres_url = region
    shoppers = [Shopper(f"s{i}") for i in range(9)]
    for i, shopper in enumerate(shoppers):
        await shopper.connect(edges[i % 3].ws_url)
        await shopper.say("m1", FAQ)
    await asyncio.gather(*(s.read(time.monotonic() + 20) for s in shoppers))
    cloud.kill()  # the outage: escalations queue in the shared outbox
    for shopper in shoppers:
        await shopper.say("m2", HARD)
    await asyncio.gather(*(s.read(time.monotonic() + 2) for s in shoppers))
    edges[0].kill()  # SIGKILL host 1 with its escalations claimed or queued
    for i, shopper in enumerate(shoppers):
        if i % 3 == 0:  # its shoppers reconnect to the other hosts and re-send what has no answer
            await shopper.ws.close()
            await shopper.connect(edges[1 + i % 2].ws_url)
    cloud.start()
    await asyncio.gather(*(s.read(time.monotonic() + 120) for s in shoppers))
    for shopper in shoppers:
        await shopper.ws.close()
    await _check_region(shoppers, postgres_url)


async def test_a_rolling_bundle_update_across_the_three_hosts_loses_and_doubles_nothing(region, tmp_path):
    _, edges, postgres_url = region
    newer = build_bundle(DEMO_CATALOG, tmp_path / "bundle-v2")
    shoppers = [Shopper(f"s{i}") for i in range(6)]
    for i, shopper in enumerate(shoppers):
        await shopper.connect(edges[i % 3].ws_url)
        await shopper.say("m1", HARD)
    async with httpx.AsyncClient(timeout=30) as client:
        for edge in edges:  # one host after the other, while the escalations are in flight
            response = await client.post(f"{edge.url}/admin/bundle", json={"path": str(newer)},
                                         headers={"authorization": f"Bearer {ADMIN}"})
            assert response.status_code == 200, response.text
            for shopper in shoppers:
                if shopper.name == f"s{edges.index(edge)}":
                    await shopper.say("m2", FAQ)
        await asyncio.gather(*(s.read(time.monotonic() + 120) for s in shoppers))
        served = [(await client.get(f"{edge.url}/readyz", headers={"authorization": f"Bearer {ADMIN}"})).json()[
            "bundle"] for edge in edges]
    assert served == [str(newer)] * 3
    for shopper in shoppers:
        await shopper.ws.close()
    await _check_region(shoppers, postgres_url)
