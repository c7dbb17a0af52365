"""litestar app: websocket ``/v1/chat`` plus health, readiness, metrics and the demo page."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, WebSocket, get, post, websocket

from edge_node.escalation.context import build_request
from edge_node.gateway.protocol import (
    Answer,
    Delta,
    ErrorCode,
    ErrorFrame,
    FrameError,
    Hello,
    Message,
    Ping,
    Pong,
    ServerFrame,
    Typing,
    Welcome,
    decode_client_frame,
)
from edge_node.gateway.ratelimit import TokenBucket
from edge_node.router import Decision
from edge_node.store import LedgerEntry, StoredFrame
from triage.bundle.manifest import BundleError
from triage.session_token import TokenError, verify_token

if TYPE_CHECKING:
    from collections.abc import Callable

    from edge_node.service import EdgeService, Reply
    from protos.triage.v1 import escalation_pb2 as pb

__all__ = ["create_app"]

log = logging.getLogger("triage.edge")

_encoder = msgspec.json.Encoder()


def _static(name: str) -> bytes:
    return files("edge_node").joinpath("static", name).read_bytes()


class _Connection:
    """State of one websocket: its session once greeted, its rate limiter, and what it has sent.

    Numbered frames are never sent directly: they are appended to the store and then pumped from
    it in seq order, so a live answer, a replay after resume and an answer another replica stored
    all take the same path and each frame reaches the shopper once per connection.
    """

    def __init__(self, socket: WebSocket[Any, Any, Any], edge: EdgeService) -> None:
        self.socket = socket
        self.edge = edge
        self.session: str | None = None
        self.lang: str | None = None
        self.sent_seq = 0
        self.bucket = TokenBucket(edge.config.rate_per_s, edge.config.rate_burst)
        self._pump_lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.closed = False
        self.customer = ""
        self.recent: list[str] = []
        """This session's earlier messages (loaded on hello), for the router's conversation signals."""
        self.awaiting: set[str] = set()
        """Escalated messages of this session still waiting for their cloud answer (polled for)."""

    async def send(self, frame: ServerFrame) -> None:
        if not self.closed:
            await self.socket.send_text(_encoder.encode(frame).decode())

    async def error(self, code: ErrorCode, message: str, reply_to: str | None = None) -> None:
        self.edge.metrics.messages.labels(code).inc()
        await self.send(ErrorFrame(code=code, message=message, reply_to=reply_to))

    async def pump(self) -> None:
        """Send every stored frame of this session after the last one this connection sent."""
        if self.session is None:
            return
        async with self._pump_lock:
            for frame in await self.edge.store.frames_after(self.session, self.sent_seq):
                if self.closed:
                    return
                await self.socket.send_text(frame.data.decode())
                self.sent_seq = frame.seq
                if self.awaiting and b'"source":"cloud"' in frame.data:
                    self.awaiting.discard(msgspec.json.decode(frame.data)["reply_to"])

    async def on_delta(self, reply_to: str, text: str) -> None:
        await self.send(Delta(reply_to=reply_to, text=text))

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
            await self.error(exc.code, str(exc))
            return
        if isinstance(frame, Hello):
            await self.on_hello(frame)
        elif isinstance(frame, Ping):
            await self.send(Pong())
        elif isinstance(frame, Message):
            await self.on_message(frame)

    async def on_hello(self, hello: Hello) -> None:
        if hello.storefront != self.edge.storefront:
            await self.error("unauthorized", f"unknown storefront {hello.storefront!r}")
            return
        store = self.edge.store
        customer = ""
        secret = self.edge.config.session_secret
        if hello.token and secret:
            try:
                customer = verify_token(secret, hello.token, self.edge.storefront)
            except TokenError as exc:  # the shopper still chats, anonymously and without memory
                self.edge.metrics.sessions.labels("bad_token").inc()
                log.info("anonymous session: %s", exc)
        session, seq, lang, resumed = await store.open_session(self.edge.storefront, hello.session, customer)
        self.session = session
        self.customer = customer
        self.awaiting = set(await store.pending_escalations(session))
        self.recent = [t for _, t in await store.conversation(session, self.edge.config.conversation_turns)]
        self.lang = lang or hello.lang
        self.sent_seq = min(max(hello.last_seq, 0), seq) if resumed else 0
        self.edge.escalator.listeners[session] = self.on_delta
        self.edge.metrics.sessions.labels("resumed" if resumed else "new").inc()
        await self.send(Welcome(session=session, seq=seq, authenticated=bool(customer)))
        await self.pump()

    async def on_message(self, message: Message) -> None:
        started = time.perf_counter()
        session = self.session
        if session is None:
            await self.error("bad_request", "send a hello frame first", message.id)
            return
        if not self.bucket.take():
            await self.error("rate_limited", "you are sending messages too fast; wait a moment", message.id)
            return
        text = message.text.strip()
        if not text:
            await self.error("bad_request", "message text is empty", message.id)
            return
        if len(text) > self.edge.config.max_text_chars:
            await self.error("too_large", f"message is longer than {self.edge.config.max_text_chars} "
                             "characters; shorten it", message.id)
            return
        store = self.edge.store
        earlier = self.recent[-self.edge.config.conversation_turns:]
        lang = self.lang
        cost = self.edge.cost.edge_cost()

        def outcome(d: Decision, elapsed_s: float) -> dict[str, Any]:
            return {"lang": d.lang, "lang_changed": d.lang != lang, "intent": d.intent, "decision": d.kind,
                    "entry": LedgerEntry(session, message.id, d.kind, "edge", elapsed_s * 1000, cost_usd=cost),
                    "encode": self._encoder_for(message.id, d, "edge") if d.kind != "escalate" else None}

        def record_edge_answer(r: Reply) -> tuple[bool, StoredFrame | None] | None:
            """On the understanding thread, right after the decision: one hop for an edge answer."""
            if r.decision.kind == "escalate":
                return None  # the semantic cache is consulted on the loop first
            return store.record_message_here(session, message.id, text, **outcome(r.decision, r.elapsed_s))

        reply, recorded = await self.edge.reply_off_loop(text, lang, earlier, then=record_edge_answer)
        d = reply.decision
        if recorded is None:
            if self.customer == "" and self.edge.cacheable(text, reply.conversation, ""):
                cached = self.edge.cache.lookup(reply.analysis.embedding, text, d.lang)
                self.edge.metrics.cache.labels("hit" if cached else "miss").inc()
                if cached is not None:  # a cloud answer to the same generic question, with the same details
                    d = Decision("answer", cached.answer, d.lang, d.intent, d.confidence, reason="semantic cache")
            recorded = await store.record_message(session, message.id, text, **outcome(d, reply.elapsed_s))
        processed, stored = recorded
        edge_answer = d.kind != "escalate"
        if not processed:
            await self.pump()  # a resend of a message already answered: the answer comes from the store
            return
        self.lang = d.lang
        self.recent.append(text)
        self.edge.metrics.cost.labels("edge").inc(cost)
        if edge_answer:
            await self.deliver(stored)
            self.edge.metrics.messages.labels("answered").inc()
            self.edge.metrics.latency.observe(time.perf_counter() - started)
            return
        await self.send(Typing(reply_to=message.id))
        request = build_request(self.edge.knowledge.catalog, self.customer, text, reply.analysis, d, earlier)
        self.edge.metrics.messages.labels("escalated").inc()
        self.awaiting.add(message.id)
        self.wake.set()
        self.edge.track(self._escalate(message.id, d, request))

    async def deliver(self, stored: StoredFrame | None) -> None:
        """Send a frame just stored: directly when it is the next one, else through the pump."""
        async with self._pump_lock:
            if stored is not None and stored.seq == self.sent_seq + 1 and not self.closed:
                await self.socket.send_text(stored.data.decode())
                self.sent_seq = stored.seq
                return
        await self.pump()

    def _encoder_for(self, reply_to: str, d: Decision, source: str) -> Callable[[int], bytes]:
        def encode(seq: int) -> bytes:
            return _encoder.encode(Answer(
                reply_to=reply_to, seq=seq, text=d.text, lang=d.lang, intent=d.intent,
                source=source,  # type: ignore[arg-type]
                confidence=round(d.confidence, 4), decision=d.kind, options=d.options))

        return encode

    async def _store_answer(self, reply_to: str, d: Decision, source: str, *, final: bool) -> None:
        assert self.session is not None
        await self.edge.store.append_frame(self.session, reply_to, final, self._encoder_for(reply_to, d, source))

    async def _escalate(self, reply_to: str, d: Decision, request: pb.EscalateRequest) -> None:
        """Try the cloud now; tell the shopper honestly when the answer will come later."""
        assert self.session is not None
        session = self.session
        attempt = asyncio.ensure_future(self.edge.escalator.submit(session, reply_to, request))
        done, _ = await asyncio.wait({attempt}, timeout=self.edge.config.queued_after_s)
        answered = attempt in done and attempt.result()
        if not answered and not await self.edge.store.has_final(session, reply_to):
            await self._store_answer(reply_to, d, "queued", final=False)
            self.edge.metrics.messages.labels("queued").inc()
        await self.pump()
        if not done:
            await attempt
            await self.pump()

    async def poll(self) -> None:
        """Pick up answers stored by the outbox worker or by another replica sharing the store.

        Only while this session waits for a cloud answer: an idle session costs no queries.
        """
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=0.5 if self.awaiting else 30.0)
            self.wake.clear()
            if self.session is not None and not self.closed and self.awaiting:
                await self.pump()


def create_app(edge: EdgeService) -> Litestar:
    connections: dict[str, set[_Connection]] = {}

    def notify(session: str) -> None:
        for connection in connections.get(session, ()):
            connection.wake.set()

    edge.escalator.notify = notify

    allowed = {o.strip().rstrip("/") for o in edge.config.allowed_origins.split(",") if o.strip()}

    @websocket("/v1/chat")
    async def chat(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        origin = socket.headers.get("origin", "")
        if allowed and origin.rstrip("/") not in allowed:
            edge.metrics.messages.labels("bad_origin").inc()
            await socket.send_text(_encoder.encode(ErrorFrame(
                code="unauthorized", message=f"origin {origin or '(none)'} may not open this chat")).decode())
            await socket.close(code=4403)
            return
        connection = _Connection(socket, edge)
        poller = asyncio.ensure_future(connection.poll())
        try:
            while True:
                event = await socket.receive()
                if event["type"] == "websocket.disconnect":
                    return
                before = connection.session
                try:
                    await connection.on_raw(dict(event))
                except Exception:  # one failed frame must not cost the shopper the connection
                    log.exception("failed to handle a frame of session %s", connection.session)
                    await connection.error("internal", "the edge could not handle this message; please send it again")
                if connection.session != before and connection.session is not None:
                    if before is not None:
                        connections.get(before, set()).discard(connection)
                    connections.setdefault(connection.session, set()).add(connection)
        finally:
            connection.closed = True
            poller.cancel()
            if connection.session is not None:
                connections.get(connection.session, set()).discard(connection)
                if edge.escalator.listeners.get(connection.session) == connection.on_delta:
                    del edge.escalator.listeners[connection.session]

    @get("/healthz", media_type=MediaType.JSON)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @post("/admin/bundle", media_type=MediaType.JSON, status_code=200)
    async def reload_bundle(request: Request[Any, Any, Any]) -> Response[dict[str, object]]:
        token = edge.config.admin_token
        presented = request.headers.get("authorization", "")
        if not token or not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return Response({"error": "unauthorized: send 'Authorization: Bearer <[edge] admin_token>'"},
                            status_code=401)
        try:
            data = await request.json()
        except (ValueError, msgspec.DecodeError):
            data = None
        path = data.get("path") if isinstance(data, dict) else None
        if not path or not isinstance(path, str):
            return Response({"error": "send {\"path\": \"/path/to/bundle\"}"}, status_code=400)
        try:
            knowledge = await edge.swap_bundle(Path(path))
        except (BundleError, OSError, ValueError) as exc:
            return Response({"error": str(exc), "serving": str(edge.knowledge.path)}, status_code=409)
        return Response({"status": "swapped", "build_key": knowledge.manifest.build_key, "path": str(knowledge.path)})

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz() -> dict[str, object]:
        manifest = edge.knowledge.manifest
        return {"status": "ready", "storefront": manifest.storefront, "catalog_hash": manifest.catalog_hash,
                "build_key": manifest.build_key, "bundle": str(edge.knowledge.path),
                "languages": manifest.languages, "cloud": edge.config.cloud or None,
                "circuit": edge.escalator.breaker.state, "outbox_depth": await edge.store.outbox_depth(),
                "worker": os.getpid()}

    @get("/metrics")
    async def metrics() -> Response[bytes]:
        return Response(edge.metrics.render(), media_type="text/plain; version=0.0.4")

    @get("/")
    async def index() -> Response[bytes]:
        return Response(_static("index.html"), media_type=MediaType.HTML)

    @get("/widget.js")
    async def widget() -> Response[bytes]:
        return Response(_static("widget.js"), media_type="application/javascript")

    return Litestar(route_handlers=[chat, healthz, readyz, metrics, index, widget, reload_bundle], debug=False,
                    on_startup=[edge.start], on_shutdown=[edge.stop])
