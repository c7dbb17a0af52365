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


async def _scenario(url: str, plan: list[tuple[int, int, int]]) -> None:
    session, last_seq, sent, received = None, 0, 0, {}
    texts: dict[str, str] = {}

    def unanswered() -> list[str]:
        answered = {f["reply_to"] for f in received.values() if f["type"] == "answer"}
        return [m for m in texts if m not in answered]

    for n_send, n_read, forget in plan:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": session,
                                      "last_seq": last_seq}))
            welcome = json.loads(await ws.recv())
            session = session or welcome["session"]
            assert welcome["session"] == session
            pending = welcome["seq"] - last_seq  # frames stored after what this client saw: replayed first
            for frame in await _recv_numbered(ws, pending):
                assert frame["seq"] == last_seq + 1
                last_seq = frame["seq"]
                assert received.setdefault(frame["seq"], frame) == frame
            resent = unanswered()
            for msg_id in resent:
                await ws.send(json.dumps({"type": "message", "id": msg_id, "text": texts[msg_id]}))
            for _ in range(n_send):
                msg_id = f"m{sent}"
                texts[msg_id] = TEXTS[sent % len(TEXTS)]
                await ws.send(json.dumps({"type": "message", "id": msg_id, "text": texts[msg_id]}))
                sent += 1
            frames = await _recv_numbered(ws, min(n_read, n_send + len(resent)))
            for frame in frames:
                assert frame["seq"] == last_seq + 1, f"expected seq {last_seq + 1}, got {frame['seq']}"
                last_seq = frame["seq"]
                assert received.setdefault(frame["seq"], frame) == frame, "a seq came back with other content"
        last_seq = max(0, last_seq - forget)
    async with websockets.connect(url) as ws:  # final reconnect collects everything still owed
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": session, "last_seq": last_seq}))
        welcome = json.loads(await ws.recv())
        for frame in await _recv_numbered(ws, welcome["seq"] - last_seq):
            assert frame["seq"] == last_seq + 1
            last_seq = frame["seq"]
            assert received.setdefault(frame["seq"], frame) == frame
        missing = unanswered()
        for msg_id in missing:
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": texts[msg_id]}))
        for frame in await _recv_numbered(ws, len(missing)):
            assert frame["seq"] == last_seq + 1
            last_seq = frame["seq"]
            assert received.setdefault(frame["seq"], frame) == frame
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong", "a frame arrived twice"
    assert sorted(received) == list(range(1, len(received) + 1))
    answers = [f["reply_to"] for f in received.values() if f["type"] == "answer"]
    assert sorted(answers) == sorted(f"m{i}" for i in range(sent)), "a message lost or answered twice"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_any_pattern_of_disconnects_delivers_each_frame_once_in_order(edge, plan):
    asyncio.run(_scenario(edge.ws_url, plan))
