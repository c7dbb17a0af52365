"""The websocket wire contract of DESIGN.md: one JSON object per text frame, ``type`` first."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "Answer",
    "ClientFrame",
    "Delta",
    "ErrorCode",
    "ErrorFrame",
    "Hello",
    "Message",
    "Ping",
    "Pong",
    "ServerFrame",
    "Typing",
    "Welcome",
    "decode_client_frame",
]


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=False):
    storefront: str = "demo"
    token: str = ""
    session: str | None = None
    last_seq: int = 0
    lang: str | None = None
    """Optional UI language hint (the widget's ``data-lang`` or the browser's)."""


class Message(msgspec.Struct, tag="message", tag_field="type"):
    id: str
    text: str


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


ClientFrame = Hello | Message | Ping


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    session: str
    seq: int
    authenticated: bool = False
    """True when the hello carried a valid customer session token (memory on)."""


class Typing(msgspec.Struct, tag="typing", tag_field="type"):
    reply_to: str


class Delta(msgspec.Struct, tag="delta", tag_field="type"):
    reply_to: str
    text: str


class Answer(msgspec.Struct, tag="answer", tag_field="type"):
    reply_to: str
    seq: int
    text: str
    lang: str
    intent: str | None
    source: Literal["edge", "cloud", "queued"]
    confidence: float
    decision: Literal["answer", "action", "clarify", "escalate"] = "answer"
    options: list[str] = []


ErrorCode = Literal[
    "too_large", "rate_limited", "bad_request", "bad_encoding", "unauthorized", "unknown_type", "internal"
]


class ErrorFrame(msgspec.Struct, tag="error", tag_field="type"):
    code: ErrorCode
    message: str
    reply_to: str | None = None


class Pong(msgspec.Struct, tag="pong", tag_field="type"):
    pass


ServerFrame = Welcome | Typing | Delta | Answer | ErrorFrame | Pong

_decoder = msgspec.json.Decoder(ClientFrame)


class FrameError(ValueError):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode_client_frame(data: str) -> ClientFrame:
    """Decode one client frame; raise ``FrameError`` with the code the client gets back."""
    try:
        frame: ClientFrame = _decoder.decode(data)
        return frame
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "Invalid value" in text and "`$.type`" in text:
            return _raise("unknown_type", f"unknown frame type ({exc}); use hello, message or ping")
        return _raise("bad_request", f"invalid frame: {exc}")
    except msgspec.DecodeError as exc:
        return _raise("bad_request", f"frame is not a JSON object: {exc}")


def _raise(code: ErrorCode, message: str) -> ClientFrame:
    raise FrameError(code, message)
