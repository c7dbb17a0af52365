"""A property of the resume protocol, against a real edge: whatever the disconnects, every frame
arrives exactly once in seq order, and every message gets exactly one answer.

The client follows the widget's rule: after resuming, it re-sends (same id) every message it has
no answer for, since a message sent just before a disconnect may never have reached the edge.
The edge answers a re-sent id from its store, so nothing is answered twice."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

TEXTS = ["Do you ship to the UK?", "Was kostet der Versand?", "Vendez-vous des cartes cadeaux ?",
         "¿Hacéis envoltorio para regalo?", "Avete un programma fedeltà?", "How do I reset my password?",
         "Hoe was ik mijn regenjas?", "Czy macie zniżkę dla studentów?", "Where is my order?"]

# A step: send n messages, then read k numbered frames (maybe fewer than sent) and drop the socket,
# optionally forgetting the last few seqs the client saw (a client that persisted its state late).
steps = st.lists(st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=5)


async def _recv_numbered(ws, count: int, timeout: float = 10.0) -> list[dict]:
    frames = []
    while len(frames) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if "seq" in frame:
            frames.append(frame)
    return frames


class _Client:
    """What the widget keeps across reconnects: its session, the last seq seen, every frame by seq."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.resume_key = ""
        self.last_seq = 0
        self.received: dict[int, dict] = {}
        self.texts: dict[str, str] = {}

    def take(self, frames: list[dict]) -> None:
        for frame in frames:
            assert frame["seq"] == self.last_seq + 1, f"expected seq {self.last_seq + 1}, got {frame['seq']}"
            self.last_seq = frame["seq"]
            assert self.received.setdefault(frame["seq"], frame) == frame, "a seq came back with other content"

    def unanswered(self) -> list[str]:
        answered = {f["reply_to"] for f in self.received.values() if f["type"] == "answer"}
        return [m for m in self.texts if m not in answered]

    async def resume(self, ws) -> int:
        """hello, the replay of what was missed, then the re-send of messages still without an answer."""
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": self.session,
                                  "resume_key": self.resume_key, "last_seq": self.last_seq}))
        welcome = json.loads(await ws.recv())
        self.session = self.session or welcome["session"]
        self.resume_key = welcome["resume_key"]
        assert welcome["session"] == self.session
        self.take(await _recv_numbered(ws, welcome["seq"] - self.last_seq))
        missing = self.unanswered()
        for msg_id in missing:
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": self.texts[msg_id]}))
        return len(missing)


async def _scenario(url: str, plan: list[tuple[int, int, int]]) -> None:
    client = _Client()
    for n_send, n_read, forget in plan:
        async with websockets.connect(url) as ws:
            resent = await client.resume(ws)
            for _ in range(n_send):
                msg_id = f"m{len(client.texts)}"
                client.texts[msg_id] = TEXTS[len(client.texts) % len(TEXTS)]
                await ws.send(json.dumps({"type": "message", "id": msg_id, "text": client.texts[msg_id]}))
            client.take(await _recv_numbered(ws, min(n_read, n_send + resent)))
        client.last_seq = max(0, client.last_seq - forget)
    async with websockets.connect(url) as ws:  # the final reconnect collects everything still owed
        client.take(await _recv_numbered(ws, await client.resume(ws)))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong", "a frame arrived twice"
    assert sorted(client.received) == list(range(1, len(client.received) + 1))
    answers = [f["reply_to"] for f in client.received.values() if f["type"] == "answer"]
    assert sorted(answers) == sorted(client.texts), "a message lost or answered twice"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_any_pattern_of_disconnects_delivers_each_frame_once_in_order(edge, plan):
    asyncio.run(_scenario(edge.ws_url, plan))
