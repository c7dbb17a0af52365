"""A shopper who leaves while the edge is answering: the answer stays stored for the resume, the
connection closes quietly, and nothing is raised into the frame loop (which would log a traceback
and try to send an error frame to nobody).

The websocket is a stand-in for litestar's whose sends raise what uvicorn raises once the peer is
gone (``ClientDisconnected``, an ``OSError``, as ASGI asks); the edge, its bundle and its store are real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import msgspec
from uvicorn.protocols.utils import ClientDisconnected

from edge_node.frames import Hello, Message, answer_encoder
from edge_node.gateway.connection import Connection
from edge_node.gateway.ratelimit import KeyedBuckets
from edge_node.service import EdgeService
from triage.config import EdgeConfig


class GoneSocket:
    """Accepts sends until ``leave()``, then raises on every send, as uvicorn's protocols do."""

    def __init__(self) -> None:
        self.client = SimpleNamespace(host="127.0.0.1")
        self.headers: dict[str, str] = {}
        self.sent: list[str] = []
        self.gone = False

    def leave(self) -> None:
        self.gone = True

    async def send_text(self, data: str) -> None:
        if self.gone:
            raise ClientDisconnected()
        self.sent.append(data)


def test_an_answer_to_a_shopper_who_left_stays_stored_and_the_connection_closes_quietly(demo_bundle: Path) -> None:
    async def scenario() -> None:
        edge = EdgeService.from_bundle(demo_bundle, EdgeConfig(store=":memory:"))
        await edge.store.open()
        socket = GoneSocket()
        connection = Connection(socket, edge, KeyedBuckets(1000, 1000))  # type: ignore[arg-type]
        await connection.on_hello(Hello(storefront=edge.storefront))
        session = connection.session
        assert session is not None and len(socket.sent) == 1, "the welcome frame"

        socket.leave()
        await connection.on_message(Message(id="m1", text="How much is shipping?"))

        assert connection.closed and len(edge.live) == 0, "a shopper who is gone is no longer live here"
        stored = await edge.store.frames.after(session, 0)
        assert [f.reply_to for f in stored] == ["m1"], "the answer waits in the store for the resume"
        assert connection.sent_seq == 0, "nothing was delivered, so a resume replays it"
        await connection.error("internal", "nobody hears this")  # and an error frame to nobody raises nothing
        await edge.stop()

    asyncio.run(scenario())


async def _connected(demo_bundle: Path, store: str, socket: GoneSocket) -> tuple[EdgeService, Connection, str]:
    """A real edge on a store file, and a connection that said hello on ``socket``: (edge, it, its session)."""
    edge = EdgeService.from_bundle(demo_bundle, EdgeConfig(store=store))
    await edge.store.open()
    connection = Connection(socket, edge, KeyedBuckets(1000, 1000))  # type: ignore[arg-type]
    await connection.on_hello(Hello(storefront=edge.storefront))
    assert connection.session is not None
    return edge, connection, connection.session


def _cloud_answer(reply_to: str, text: str):
    return answer_encoder(reply_to, text, "en", None, "cloud", 1.0, "escalate")


def test_a_store_that_fails_once_does_not_end_the_poller_that_brings_cloud_answers(demo_bundle: Path,
                                                                                    tmp_path: Path) -> None:
    async def scenario() -> None:
        socket = GoneSocket()
        edge, connection, session = await _connected(demo_bundle, str(tmp_path / "edge.db"), socket)
        poller = asyncio.create_task(connection.poll())
        await edge.store.close()  # the store fails under the poller (a pool timeout, a locked file)
        connection.wake()
        await asyncio.sleep(0.2)
        assert not poller.done(), "the poller outlives a failed read"
        await edge.store.open()
        await edge.store.frames.append(session, "m1", True, _cloud_answer("m1", "The cloud's answer."))
        connection.wake()
        for _ in range(50):
            if len(socket.sent) == 2:
                break
            await asyncio.sleep(0.1)
        assert '"reply_to":"m1"' in socket.sent[-1], socket.sent
        poller.cancel()
        await edge.stop()

    asyncio.run(scenario())



class SlowSocket(GoneSocket):
    """Each send takes a while, as a congested network's does, so a pump is still running when the next
    frame from the shopper arrives."""

    async def send_text(self, data: str) -> None:
        await asyncio.sleep(0.02)
        await super().send_text(data)


def test_a_second_hello_on_a_socket_never_mixes_the_old_sessions_frames_into_the_new_one(demo_bundle: Path,
                                                                                         tmp_path: Path) -> None:
    async def scenario() -> None:
        socket = SlowSocket()
        edge, connection, old = await _connected(demo_bundle, str(tmp_path / "edge.db"), socket)
        for n in range(5):
            await edge.store.frames.append(old, f"o{n}", True, _cloud_answer(f"o{n}", "old"))
        pumping = asyncio.create_task(connection.pump())  # the poller, sending the old session's frames
        await asyncio.sleep(0.03)
        await connection.on_hello(Hello(storefront=edge.storefront))  # the same socket starts a new session
        new = connection.session
        assert new is not None and new != old
        await pumping
        for n in range(2):
            stored = await edge.store.frames.append(new, f"n{n}", True, _cloud_answer(f"n{n}", "new"))
            await connection.deliver(stored)
        frames = [msgspec.json.decode(data) for data in socket.sent]
        welcome = max(i for i, f in enumerate(frames) if f["type"] == "welcome")
        after = [f["reply_to"] for f in frames[welcome + 1:]]
        assert after == ["n0", "n1"], after
        assert connection.sent_seq == 2
        await edge.stop()

    asyncio.run(scenario())
