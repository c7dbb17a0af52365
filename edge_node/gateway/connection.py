"""One websocket: frames in, frames out, the session it serves, and the limits it enforces.

Transport only. What a message means and what becomes of it is ``EdgeService.handle``'s call;
this module checks frames and limits, greets and resumes sessions, and delivers frames.

Numbered frames are never sent directly from elsewhere: they are appended to the store and then
pumped from it in seq order, so a live answer, a replay after resume and an answer another
replica stored all take the same path and each frame reaches the shopper once per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from edge_node.frames import (
    Delta,
    ErrorCode,
    ErrorFrame,
    FrameError,
    Hello,
    Message,
    Pong,
    ServerFrame,
    Typing,
    Welcome,
    decode_client_frame,
    encode_frame,
)
from edge_node.gateway.ratelimit import KeyedBuckets, TokenBucket
from edge_node.service import Turn
from edge_node.store.base import SessionGone
from triage.session_token import TokenError, verify_token

if TYPE_CHECKING:
    from litestar import WebSocket

    from edge_node.service import EdgeService
    from edge_node.store import PendingAction, StoredFrame

__all__ = ["Connection", "client_address"]

log = logging.getLogger("triage.edge")


def client_address(peer: str, forwarded_for: str, trusted_proxies: frozenset[str]) -> str:
    """The peer's address; behind a trusted proxy, the last address of ``X-Forwarded-For`` that is not one
    of the trusted proxies (a client can prepend anything to the header, not append)."""
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    while hops and hops[-1] in trusted_proxies:
        hops.pop()
    return hops[-1] if hops else peer


class Connection:
    def __init__(self, socket: WebSocket[Any, Any, Any], edge: EdgeService, limits: KeyedBuckets,
                 trusted_proxies: frozenset[str] = frozenset()) -> None:
        self.socket = socket
        self.edge = edge
        self.session: str | None = None
        self.lang: str | None = None
        self.customer = ""
        self.sent_seq = 0
        self.bucket = TokenBucket(edge.config.rate_per_s, edge.config.rate_burst)
        self.limits = limits
        """Per client address and per customer, shared by this process's connections."""
        peer = socket.client.host if socket.client is not None else ""
        self.address = client_address(peer, socket.headers.get("x-forwarded-for", ""), trusted_proxies)
        """Whom the per-address limit counts: the peer, or the client a trusted proxy names."""
        self.closed = False
        self.recent: list[str] = []
        """This session's earlier messages (loaded on hello), for the router's conversation signals."""
        self.pending: PendingAction | None = None
        """The session's action waiting for a detail (loaded on hello: it may come from another replica)."""
        self.awaiting: set[str] = set()
        """Escalated messages of this session still waiting for their final answer (polled for:
        another replica sharing the store may be the one that stores it)."""
        self._pump_lock = asyncio.Lock()
        self._woken = asyncio.Event()

    # Subscriber (edge_node.live_sessions) --------------------------------------------------------
    async def on_delta(self, reply_to: str, text: str) -> None:
        await self.send(Delta(reply_to=reply_to, text=text))

    def wake(self) -> None:
        self._woken.set()

    # sending -------------------------------------------------------------------------------------
    async def send(self, frame: ServerFrame) -> None:
        await self._write(encode_frame(frame).decode())

    async def _write(self, text: str) -> bool:
        """Send one frame; False when the shopper is gone. A shopper who leaves mid-answer is not an
        error: numbered frames stay stored and are replayed when the session resumes."""
        if self.closed:
            return False
        try:
            await self.socket.send_text(text)
        except OSError:  # ASGI: a send on a closed websocket raises one (uvicorn's ClientDisconnected)
            self.close()
            return False
        return True

    async def error(self, code: ErrorCode, message: str, reply_to: str | None = None) -> None:
        self.edge.metrics.messages.labels(code).inc()
        await self.send(ErrorFrame(code=code, message=message, reply_to=reply_to))

    async def pump(self) -> None:
        """Send every stored frame of this session after the last one this connection sent."""
        async with self._pump_lock:  # a hello switches session and sent_seq under this lock too
            if self.session is None:
                return
            for frame in await self.edge.store.frames.after(self.session, self.sent_seq):
                if self.closed:
                    return
                await self._send_stored(frame)

    async def _send_stored(self, frame: StoredFrame) -> None:
        if not await self._write(frame.data.decode()):
            return
        self.sent_seq = frame.seq
        if frame.final:
            self.awaiting.discard(frame.reply_to)

    async def deliver(self, stored: StoredFrame | None) -> None:
        """Send a frame just stored: directly when it is the next one, else through the pump."""
        async with self._pump_lock:
            if stored is not None and stored.seq == self.sent_seq + 1 and not self.closed:
                await self._send_stored(stored)
                return
        await self.pump()

    async def poll(self) -> None:
        """Send what the service or the relay stored for this session (they wake us), and pick up
        answers another replica sharing the store wrote, only while an answer is awaited."""
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=0.5 if self.awaiting else 30.0)
            woken = self._woken.is_set()
            self._woken.clear()
            if self.session is not None and not self.closed and (woken or self.awaiting):
                try:
                    await self.pump()
                except Exception:  # a store that failed once (a pool timeout, a locked file) must not end the
                    log.warning("sending stored frames of session %s failed; trying again", self.session,
                                exc_info=True)  # poller: cloud answers and people's replies come this way
                    await asyncio.sleep(0.5)
                    self._woken.set()

    # receiving -----------------------------------------------------------------------------------
    async def on_raw(self, event: dict[str, Any]) -> None:
        limit = self.edge.config.max_frame_bytes
        data = event.get("text")
        if data is None:
            raw = event.get("bytes") or b""
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                await self.error("bad_encoding", "frame is not valid UTF-8; send JSON text frames")
                return
            await self.error("bad_request", "binary frames are not supported; send JSON text frames")
            return
        if len(data.encode("utf-8", "surrogatepass")) > limit:
            await self.error("too_large", f"frame is larger than {limit} bytes; shorten the message")
            return
        try:
            frame = decode_client_frame(data)
        except FrameError as exc:
            await self.error(exc.code, str(exc), exc.reply_to)
            return
        if isinstance(frame, Message):
            await self.on_message(frame)
            return
        # Hellos and pings count like messages: each hello may make a session row.
        if not (self.bucket.take() and self.limits.take(self.address)):
            await self.error("rate_limited", "you are reconnecting or pinging too fast; wait a moment")
        elif isinstance(frame, Hello):
            await self.on_hello(frame)
        else:
            await self.send(Pong())

    def _customer(self, hello: Hello) -> str:
        secret = self.edge.config.session_secret
        if not (hello.token and secret):
            return ""
        try:
            return verify_token(secret, hello.token, self.edge.storefront)
        except TokenError as exc:  # the shopper still chats, anonymously and without memory
            self.edge.metrics.sessions.labels("bad_token").inc()
            log.info("anonymous session: %s", exc)
            return ""

    async def on_hello(self, hello: Hello) -> None:
        edge = self.edge
        if hello.storefront != edge.storefront:
            await self.error("unauthorized", f"unknown storefront {hello.storefront!r}")
            return
        if len(edge.live) >= edge.config.max_sessions and self.session is None:
            await self.error("overloaded", f"this edge serves {edge.config.max_sessions} sessions already; "
                             "try again in a moment")
            return
        customer = self._customer(hello)
        state = await edge.store.open_session(edge.storefront, hello.session, customer, hello.resume_key)
        awaiting: set[str] = set()
        pending: PendingAction | None = None
        recent: list[str] = []
        if state.resumed:  # a new session has nothing stored yet: three store reads saved per hello
            awaiting = set(await edge.store.outbox.pending_for(state.session))
            pending = await edge.store.pending_action(state.session)
            recent = [t for _, t in await edge.store.conversation(state.session, edge.config.conversation_turns)]
        # One switch, under the pump's lock: a second hello on this socket used to set the session before
        # these reads and sent_seq after them, while the poller's pump of the old session ran on; its
        # frames went out after the welcome and its last seq became the new session's, whose first
        # frames were then skipped (and the client, resuming from that seq, skipped them for good).
        async with self._pump_lock:
            if self.session is not None:
                edge.live.detach(self.session, self)
            self.session, self.customer = state.session, customer
            self.awaiting, self.pending, self.recent = awaiting, pending, recent
            self.lang = state.lang or hello.lang
            self.sent_seq = min(max(hello.last_seq, 0), state.seq) if state.resumed else 0
            edge.live.attach(state.session, self)
        edge.metrics.sessions.labels("resumed" if state.resumed else "new").inc()
        await self.send(Welcome(session=state.session, seq=state.seq, authenticated=bool(customer),
                                resume_key=state.resume_key))
        await self.pump()

    async def _refused(self, message: Message, text: str) -> bool:
        """Limits a message must pass before the service sees it; True when it was refused."""
        config = self.edge.config
        if self.session is None:
            await self.error("bad_request", "send a hello frame first", message.id)
        elif not (self.bucket.take() and self.limits.take(self.address)
                  and (not self.customer or self.limits.take(f"customer:{self.customer}"))):
            await self.error("rate_limited", "you are sending messages too fast; wait a moment", message.id)
        elif not text:
            await self.error("bad_request", "message text is empty", message.id)
        elif len(text) > config.max_text_chars:
            await self.error("too_large", f"message is longer than {config.max_text_chars} characters; "
                             "shorten it", message.id)
        else:
            return False
        return True

    async def on_message(self, message: Message) -> None:
        started = time.perf_counter()
        text = message.text.strip()
        if await self._refused(message, text):
            return
        assert self.session is not None
        earlier = tuple(self.recent[-self.edge.config.conversation_turns:])
        turn = Turn(self.session, self.customer, message.id, text, self.lang, earlier, self.pending)
        try:
            handled = await self.edge.handle(turn)
        except SessionGone:  # erased while connected (the customer was forgotten): nothing was kept
            self.edge.live.detach(self.session, self)
            self.session = None
            await self.error("bad_request", "this conversation was erased; send a hello to start a new one",
                             message.id)
            return
        if not handled.processed:
            await self.pump()  # a resend of a message already answered: the answer comes from the store
            return
        self.lang = handled.lang
        self.recent.append(text)
        if handled.pending_changed:
            self.pending = handled.pending
        if handled.escalated:
            self.awaiting.add(message.id)
        if handled.frame is not None or not handled.escalated:
            await self.deliver(handled.frame)
            self.edge.metrics.latency.observe(time.perf_counter() - started)
        if handled.escalated:
            await self.send(Typing(reply_to=message.id))
            self.wake()

    def close(self) -> None:
        self.closed = True
        if self.session is not None:
            self.edge.live.detach(self.session, self)
