"""litestar app: websocket ``/v1/chat`` plus health, readiness, metrics and the demo page."""

from __future__ import annotations

import time
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, MediaType, Response, WebSocket, get, websocket

from edge_node.gateway.protocol import (
    Answer,
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

if TYPE_CHECKING:
    from edge_node.service import EdgeService
    from edge_node.sessions import Session

__all__ = ["create_app"]

_encoder = msgspec.json.Encoder()


def _static(name: str) -> bytes:
    return files("edge_node").joinpath("static", name).read_bytes()


class _Connection:
    """State of one websocket: its session once greeted, and its rate limiter."""

    def __init__(self, socket: WebSocket[Any, Any, Any], edge: EdgeService) -> None:
        self.socket = socket
        self.edge = edge
        self.session: Session | None = None
        self.bucket = TokenBucket(edge.config.rate_per_s, edge.config.rate_burst)

    async def send(self, frame: ServerFrame, *, numbered: bool = False) -> None:
        data = _encoder.encode(frame)
        if numbered and self.session is not None:
            self.session.record(data)
        await self.socket.send_text(data.decode())

    async def error(self, code: ErrorCode, message: str, reply_to: str | None = None) -> None:
        self.edge.metrics.messages.labels(code).inc()
        await self.send(ErrorFrame(code=code, message=message, reply_to=reply_to))

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
        session, resumed = self.edge.sessions.open(hello.session)
        self.session = session
        if hello.lang and session.lang is None:
            session.lang = hello.lang
        self.edge.metrics.sessions.labels("resumed" if resumed else "new").inc()
        await self.send(Welcome(session=session.id, seq=session.seq))
        if resumed:
            for data in session.missed(hello.last_seq):
                await self.socket.send_text(data.decode())

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
        reply = self.edge.reply(text, session.lang)
        session.lang = reply.decision.lang
        if reply.source != "edge":
            await self.send(Typing(reply_to=message.id))
        session.seq += 1
        d = reply.decision
        await self.send(
            Answer(reply_to=message.id, seq=session.seq, text=d.text, lang=d.lang, intent=d.intent,
                   source=reply.source,  # type: ignore[arg-type]
                   confidence=round(d.confidence, 4), decision=d.kind, options=d.options),
            numbered=True,
        )
        self.edge.metrics.messages.labels("answered").inc()
        self.edge.metrics.latency.observe(time.perf_counter() - started)


def create_app(edge: EdgeService) -> Litestar:
    @websocket("/v1/chat")
    async def chat(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        connection = _Connection(socket, edge)
        while True:
            event = await socket.receive()
            if event["type"] == "websocket.disconnect":
                return
            await connection.on_raw(dict(event))

    @get("/healthz", media_type=MediaType.JSON)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz() -> dict[str, object]:
        manifest = edge.knowledge.manifest
        return {"status": "ready", "storefront": manifest.storefront, "catalog_hash": manifest.catalog_hash,
                "languages": manifest.languages}

    @get("/metrics")
    async def metrics() -> Response[bytes]:
        return Response(edge.metrics.render(), media_type="text/plain; version=0.0.4")

    @get("/")
    async def index() -> Response[bytes]:
        return Response(_static("index.html"), media_type=MediaType.HTML)

    @get("/widget.js")
    async def widget() -> Response[bytes]:
        return Response(_static("widget.js"), media_type="application/javascript")

    return Litestar(route_handlers=[chat, healthz, readyz, metrics, index, widget], debug=False)
