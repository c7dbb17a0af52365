"""The websocket wire contract of DESIGN.md: one JSON object per text frame, ``type`` first.

Below both the gateway (which sends frames) and the escalation relay (which stores the cloud's
answers as frames): every frame is encoded here, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Answer",
    "AnswerSource",
    "ClientFrame",
    "Decided",
    "Delta",
    "ErrorCode",
    "ErrorFrame",
    "Hello",
    "Message",
    "Ping",
    "Pong",
    "Resolution",
    "ServerFrame",
    "Typing",
    "Welcome",
    "answer_encoder",
    "decode_client_frame",
    "encode_frame",
]


AnswerSource = Literal["edge", "cloud", "queued", "human"]
Decided = Literal["answer", "action", "clarify", "escalate"]


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=False):
    storefront: str = "demo"
    token: str = ""
    session: str | None = None
    last_seq: int = 0
    resume_key: str = ""
    """The key the welcome gave with ``session``: an anonymous session resumes only with it."""
    lang: str | None = None
    """Optional UI language hint (the widget's ``data-lang`` or the browser's)."""


MessageId = Annotated[str, msgspec.Meta(pattern=r"^[!-~]{1,64}$")]
"""Printable ASCII without spaces, at most 64 characters: the shopper chooses it, and it is stored,
echoed and logged, so a newline or a terminal escape in it could forge a log line."""


class Message(msgspec.Struct, tag="message", tag_field="type"):
    id: MessageId
    text: str


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


ClientFrame = Hello | Message | Ping


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    session: str
    seq: int
    authenticated: bool = False
    """True when the hello carried a valid customer session token (memory on)."""
    resume_key: str = ""
    """Send it back with ``session`` to resume; never logged, unlike the session id."""


class Typing(msgspec.Struct, tag="typing", tag_field="type"):
    reply_to: str


class Delta(msgspec.Struct, tag="delta", tag_field="type"):
    reply_to: str
    text: str


class Resolution(msgspec.Struct, omit_defaults=True):
    """What an action or a procedure did, machine-readable (a shop's UI or analytics can act on it)."""

    kind: Literal["info", "cancelled", "refunded", "replacement", "return_label", "proposed", "human"]
    order_id: str
    amount: str | None = None
    """Decimal string in ``currency`` ("54.75"), where money moved or was proposed."""
    currency: str | None = None


class Answer(msgspec.Struct, tag="answer", tag_field="type"):
    reply_to: str
    seq: int
    text: str
    lang: str
    intent: str | None
    source: AnswerSource
    confidence: float
    decision: Decided = "answer"
    options: list[str] = []
    resolution: Resolution | None = None
    author: str | None = None
    """The display name of the person who wrote a ``human`` answer."""
    case_id: str | None = None
    """The hand-off case a person's reply or a follow-up belongs to."""


ErrorCode = Literal[
    "too_large", "rate_limited", "bad_request", "bad_encoding", "unauthorized", "unknown_type", "internal",
    "overloaded",
]


class ErrorFrame(msgspec.Struct, tag="error", tag_field="type"):
    code: ErrorCode
    message: str
    reply_to: str | None = None


class Pong(msgspec.Struct, tag="pong", tag_field="type"):
    pass


ServerFrame = Welcome | Typing | Delta | Answer | ErrorFrame | Pong

_decoder = msgspec.json.Decoder(ClientFrame)
_encoder = msgspec.json.Encoder()

def encode_frame(frame: ServerFrame) -> bytes:
    return _encoder.encode(frame)


def answer_encoder(reply_to: str, text: str, lang: str, intent: str | None, source: AnswerSource,
                   confidence: float, decision: Decided, options: list[str] | None = None,
                   resolution: Resolution | None = None, author: str | None = None,
                   case_id: str | None = None) -> Callable[[int], bytes]:
    """An answer frame's encoder for the store, which numbers the frame before it is encoded."""
    def encode(seq: int) -> bytes:
        return _encoder.encode(Answer(reply_to=reply_to, seq=seq, text=text, lang=lang, intent=intent, source=source,
                                      confidence=round(confidence, 4), decision=decision, options=options or [],
                                      resolution=resolution, author=author, case_id=case_id))

    return encode


class FrameError(ValueError):
    def __init__(self, code: ErrorCode, message: str, reply_to: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reply_to = reply_to
        """The message's id, where the frame got far enough to have one: the client's receipt."""


def decode_client_frame(data: str) -> ClientFrame:
    """Decode one client frame; raise ``FrameError`` with the code the client gets back."""
    try:
        frame: ClientFrame = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "Invalid value" in text and "`$.type`" in text:
            return _raise("unknown_type", f"unknown frame type ({exc}); use hello, message or ping")
        return _raise("bad_request", f"invalid frame: {exc}")
    except msgspec.DecodeError as exc:
        return _raise("bad_request", f"frame is not a JSON object: {exc}")
    # JSON lets "\u0000" through; PostgreSQL's text refuses it, so the same message was answered on a
    # SQLite store and failed as `internal` (and was re-sent for ever) on a PostgreSQL one.
    if not isinstance(frame, Ping) and any("\x00" in value for value in msgspec.structs.astuple(frame)
                                            if isinstance(value, str)):
        return _raise("bad_request", "frame has a NUL character (\\u0000) in a text field; remove it",
                      frame.id if isinstance(frame, Message) else None)
    return frame


def _raise(code: ErrorCode, message: str, reply_to: str | None = None) -> ClientFrame:
    raise FrameError(code, message, reply_to)
