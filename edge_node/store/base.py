"""The edge store's interface: what the gateway, the service and the escalation relay may ask of it.

Written as Protocols so a second backend (PostgreSQL, for regions spread over several hosts) can
implement the same contract beside the embedded SQLite one. The store has three parts a caller
sees: the store itself (sessions, accepted messages, the cost ledger, shared settings), its
``frames`` (numbered frames a shopper receives, replayed on resume) and its ``outbox`` (escalations
waiting for the cloud).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, NamedTuple, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CaseOutcome",
    "Delivered",
    "EdgeStore",
    "Frames",
    "LedgerEntry",
    "MessageOutcome",
    "Outbox",
    "OutboxItem",
    "PendingAction",
    "Queued",
    "Recorded",
    "SessionGone",
    "SessionState",
    "StoredFrame",
]

class CaseOutcome(msgspec.Struct, frozen=True):
    """What a dispute's procedure did, beside the token costs in the ledger (``triage report``)."""

    session: str
    client_id: str
    lang: str
    kind: str
    """``refunded``, ``replacement``, ``return_label``, ``info`` (resolved without a person), ``proposed`` or
    ``human``."""
    order_id: str = ""
    amount: str = ""
    """Decimal string of the money refunded or proposed; "" when none."""
    currency: str = ""
    procedure: str = ""


class StoredFrame(msgspec.Struct, frozen=True):
    seq: int
    data: bytes
    reply_to: str = ""
    final: bool = False
    """The message's final answer (an edge or a cloud answer; not a ``queued`` notice)."""


class OutboxItem(msgspec.Struct, frozen=True):
    key: str
    session: str
    client_id: str
    request: bytes
    attempts: int
    created_at: float = 0.0
    """When the escalation was accepted (``[edge] outbox_max_age_s`` counts from here)."""


class LedgerEntry(msgspec.Struct, frozen=True):
    session: str
    client_id: str
    decision: str
    source: str
    edge_ms: float
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    cost_usd: float = 0.0


class SessionState(NamedTuple):
    session: str
    seq: int
    """The session's last frame number."""
    lang: str | None
    resumed: bool
    resume_key: str = ""
    """What an anonymous shopper must show to resume this session: the session id alone is written to
    logs, so it must not be enough (a signed-in shopper's token names the customer instead)."""


class PendingAction(msgspec.Struct, frozen=True):
    """An action waiting for the shopper's next message (an order number, an e-mail, a pick).

    Kept in the store, so it survives a restart and another replica picks it up on resume. The
    e-mail stays here, at the edge: escalations carry it redacted.
    """

    action: str
    intent: str | None
    order_id: str = ""
    email: str = ""
    asked: str = ""
    """What the last answer asked for: ``order_id``, ``email`` or ``pick``."""


class Queued(msgspec.Struct, frozen=True):
    """An escalated message's outbox row (``Escalator.queued``)."""

    key: str
    request: bytes
    first_try_s: float = 0.0
    """For this long the outbox's background retries leave the row to the process that queued it, whose
    own first try comes at once (``Escalator.try_now``): a background pass claiming it first made that try
    fail and told the shopper "later" while the answer was being made. A process killed before trying
    leaves it to the others after this."""


class MessageOutcome(msgspec.Struct, frozen=True):
    """A routed message's whole bookkeeping, written in one transaction: the message, its ledger
    entry and, for an answer the edge gives itself, the answer frame; for an escalation, its outbox
    row. Queued after the message's own commit, an escalation was lost to a worker stopped or killed
    in between (the shop's e-mail check at the edge can take seconds), though the shopper had been
    told it was being answered."""

    session: str
    client_id: str
    text: str
    lang: str
    lang_changed: bool
    intent: str | None
    decision: str
    entry: LedgerEntry
    answer: Callable[[int], bytes] | None = None
    """Encoder of the answer frame (None for an escalated message: its answer comes later)."""
    answer_final: bool = True
    """False for an edge notice sent before the cloud's final answer (the shop cannot be reached)."""
    pending: PendingAction | None = None
    pending_changed: bool = False
    """Set ``pending`` as the session's pending action (None: the session has none any more)."""
    escalation: Queued | None = None
    """The outbox row of an escalated message. A message re-sent while its escalation is queued is not
    processed again (``Recorded.processed`` False): its answer comes from the outbox's attempt."""


class Delivered(NamedTuple):
    known: bool
    """False: no such session in this store (the delivery is not this edge's to keep)."""
    frame: StoredFrame | None
    """The frame stored now; None when the delivery was stored before (a re-sent delivery)."""


class Recorded(NamedTuple):
    processed: bool
    """False for a re-sent message id that already has its answer: the caller replays it instead."""
    frame: StoredFrame | None


class Frames(Protocol):
    """Numbered frames of each session: appended here first, and sent to the shopper from here."""

    async def append(self, session: str, reply_to: str, final: bool,
                     encode: Callable[[int], bytes], *, unless_answered: bool = False) -> StoredFrame | None:
        """Number and store a frame; None when ``final`` (or ``unless_answered``, for a notice such as
        "the answer comes later") and the message already has its final answer, checked under the lock
        that numbers the frame: checked before it, a notice could land after a final answer another
        attempt or replica stored in between.

        ``encode(seq)`` is a frame encoder of ``edge_node.frames`` (a JSON object whose ``seq`` field
        is the number): a store may encode once with a placeholder number and set the real one where
        the number is given out (the PostgreSQL store does, to keep a frame one round trip).
        """
        ...

    async def after(self, session: str, seq: int) -> list[StoredFrame]:
        """Every frame of the session after ``seq``, in order."""
        ...

    async def has_final(self, session: str, reply_to: str) -> bool: ...


class Outbox(Protocol):
    """Escalations written before the cloud is called, claimed under a lease by one worker at a time."""

    async def enqueue(self, key: str, session: str, client_id: str, request: bytes) -> None: ...

    async def claim(self, key: str, lease_s: float) -> OutboxItem | None:
        """Take one pending item for ``lease_s`` seconds; None when done or leased by another worker."""
        ...

    async def due(self, limit: int = 16) -> list[str]: ...

    async def retry_later(self, key: str, delay_s: float, error: str) -> None: ...

    async def done(self, key: str) -> None: ...

    async def dead(self, key: str, error: str) -> None:
        """Give up on an item the cloud refused as invalid: kept (state ``dead``) for people to look at."""
        ...

    async def depth(self) -> int: ...

    async def dead_count(self) -> int:
        """Escalations given up (refused as invalid, too many attempts, too old)."""
        ...

    async def prune(self, done_before: float) -> int:
        """Delete answered items accepted before ``done_before``; pending and dead ones stay."""
        ...

    async def pending_for(self, session: str) -> list[str]:
        """Client ids of the session's escalations still waiting for their cloud answer."""
        ...


class EdgeStore(Protocol):
    @property
    def frames(self) -> Frames: ...

    @property
    def outbox(self) -> Outbox: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def open_session(self, storefront: str, resume: str | None, customer: str = "",
                           resume_key: str = "") -> SessionState:
        """A known id of the same customer resumes (an anonymous one with its ``resume_key`` too);
        anything else starts a new session."""
        ...

    async def conversation(self, session: str, limit: int = 12) -> list[tuple[str, str]]:
        """(client_id, text) of the session's last ``limit`` messages, oldest first."""
        ...

    async def record_message(self, outcome: MessageOutcome) -> Recorded:
        """Accept a routed message with its bookkeeping: one transaction.

        Nothing reaches the shopper before this commits, and a shopper's widget re-sends any
        message it has no answer for, so a message is either stored with its outcome or re-sent.
        """
        ...

    @property
    def inline_recorder(self) -> Callable[[MessageOutcome], Recorded] | None:
        """``record_message`` on the calling thread (the event loop's, inside the reply), where a write is
        cheap enough to hold the loop for (an embedded file, ~0.15 ms): it stores an edge answer right
        after deciding it, with no hop to another thread. None for a network database, whose round trips
        would stall every message behind it: the service then awaits ``record_message`` on the loop."""
        ...

    async def pending_action(self, session: str) -> PendingAction | None: ...

    async def record_cost(self, entry: LedgerEntry) -> None: ...

    async def ledger(self) -> list[LedgerEntry]: ...

    async def record_outcome(self, outcome: CaseOutcome) -> None: ...

    async def outcomes(self) -> list[CaseOutcome]: ...

    async def deliver(self, delivery_id: str, session: str, reply_to: str,
                      encode: Callable[[int], bytes]) -> Delivered:
        """Store a cloud delivery (a person's reply) as a numbered frame of ``session``, once per
        ``delivery_id`` whatever is re-sent; one transaction, so a crash leaves it stored or not."""
        ...

    async def forget_customer(self, customer: str) -> int:
        """Erase every session of a signed-in customer and all kept for them (messages, frames,
        queued escalations, pending actions, outcomes, deliveries); the ledger keeps its cost rows,
        which hold neither text nor customer. Returns rows deleted."""
        ...

    async def purge_older_than(self, cutoff: float) -> int:
        """Retention: the same for every session last active before ``cutoff``."""
        ...

    async def delivered_since(self, since: float) -> list[tuple[str, float]]:
        """(session, stored at) of deliveries stored after ``since``: how the other processes sharing the
        store learn that one of them stored a reply for a shopper connected to them."""
        ...

    async def set_setting(self, key: str, value: str) -> None:
        """Shared state of the processes on this store (e.g. the bundle every worker should serve)."""
        ...

    async def setting(self, key: str) -> str | None: ...


SESSION_TABLES = ("messages", "frames", "outbox", "outcomes", "pending_actions", "deliveries")
"""What a store keeps per session besides the session row: erased with it (the ledger is not here:
its cost rows hold neither text nor customer). The PostgreSQL store prefixes its tables ``edge_``."""


class SessionGone(KeyError):
    """The session was erased (a customer forgotten, retention) while a connection still held it:
    nothing of the message is written, and the shopper is told to start again."""


def may_resume(customer: str, stored_key: str, given_key: str) -> bool:
    """A signed-in session resumes on the customer's token; an anonymous one on its key (sessions made
    before keys existed have none and resume on their id until retention erases them)."""
    return bool(customer) or not stored_key or hmac.compare_digest(stored_key.encode(), given_key.encode())


def new_resume_key() -> str:
    return secrets.token_urlsafe(18)
