"""The embedded edge store: one SQLite file (WAL) shared by the edge processes of one host.

Every accepted message is written here before anything else happens, and every numbered frame a
shopper receives is appended here first and sent from here. So a frame that a shopper missed
(disconnect, edge restart, another replica) is replayed from the store exactly once on resume,
and an escalation the cloud could not take waits in the outbox until it can.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import msgspec

from edge_node.store._sqlite_db import SqliteDb
from edge_node.store._sqlite_parts import SqliteFrames, SqliteOutbox
from edge_node.store.base import (
    SESSION_TABLES,
    CaseOutcome,
    Delivered,
    LedgerEntry,
    MessageOutcome,
    PendingAction,
    Recorded,
    SessionGone,
    SessionState,
    may_resume,
    new_resume_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["SqliteEdgeStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, storefront TEXT NOT NULL, customer TEXT NOT NULL DEFAULT '',
    lang TEXT, seq INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    resume_key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS messages (
    session TEXT NOT NULL, client_id TEXT NOT NULL, text TEXT NOT NULL, lang TEXT, intent TEXT,
    decision TEXT, received_at REAL NOT NULL, PRIMARY KEY (session, client_id)
);
CREATE TABLE IF NOT EXISTS frames (
    session TEXT NOT NULL, seq INTEGER NOT NULL, reply_to TEXT NOT NULL, final INTEGER NOT NULL,
    frame BLOB NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (session, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_final_answer ON frames (session, reply_to) WHERE final = 1;
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY, session TEXT NOT NULL, client_id TEXT NOT NULL, request BLOB NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS ledger (
    session TEXT NOT NULL, client_id TEXT NOT NULL, decision TEXT NOT NULL, source TEXT NOT NULL,
    edge_ms REAL NOT NULL, input_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0, model TEXT NOT NULL DEFAULT '', cost_usd REAL NOT NULL DEFAULT 0,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    session TEXT NOT NULL, client_id TEXT NOT NULL, lang TEXT NOT NULL, kind TEXT NOT NULL, order_id TEXT NOT NULL,
    amount TEXT NOT NULL, currency TEXT NOT NULL, procedure_name TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (session, client_id)
);
CREATE TABLE IF NOT EXISTS pending_actions (
    session TEXT PRIMARY KEY, pending BLOB NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY, session TEXT NOT NULL, seq INTEGER NOT NULL, received_at REAL NOT NULL
);
"""

_INSERT_LEDGER = "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class SqliteEdgeStore:
    """``EdgeStore`` on SQLite; see ``edge_node.store._sqlite_db`` for how processes share the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = SqliteDb(path, _SCHEMA)
        self.frames = SqliteFrames(self._db)
        self.outbox = SqliteOutbox(self._db)
        self.inline_recorder: Callable[[MessageOutcome], Recorded] | None = self._record_here

    async def open(self) -> None:
        await self._db.run(self._db.open)
        await self._db.run(self._add_resume_keys)

    def _add_resume_keys(self) -> None:
        """A store made before sessions had resume keys gets the column (SQLite has no ADD COLUMN IF NOT EXISTS)."""
        def add() -> None:  # under the cross-process write lock: workers opening an old store together
            columns = {row[1] for row in self._db.db.execute("PRAGMA table_info(sessions)")}
            if "resume_key" not in columns:
                self._db.db.execute("ALTER TABLE sessions ADD COLUMN resume_key TEXT NOT NULL DEFAULT ''")

        self._db.write(add)

    async def close(self) -> None:
        await self._db.run(self._db.close)

    def _open_session(self, storefront: str, resume: str | None, customer: str, resume_key: str) -> SessionState:
        db = self._db
        if resume:  # only the same customer (or the same anonymous shopper, by its key) may resume a session
            row = db.one("SELECT seq, lang, resume_key FROM sessions WHERE id = ? AND storefront = ? AND "
                         "customer = ?", (resume, storefront, customer))
            if row is not None and may_resume(customer, str(row[2]), resume_key):
                return SessionState(resume, int(row[0]), row[1], True, str(row[2]))
        session, key = secrets.token_urlsafe(12), new_resume_key()
        now = time.time()
        db.exec("INSERT INTO sessions (id, storefront, customer, created_at, updated_at, resume_key) "
                "VALUES (?, ?, ?, ?, ?, ?)", (session, storefront, customer, now, now, key))
        return SessionState(session, 0, None, False, key)

    async def open_session(self, storefront: str, resume: str | None, customer: str = "",
                           resume_key: str = "") -> SessionState:
        return await self._db.run(self._open_session, storefront, resume, customer, resume_key)

    async def conversation(self, session: str, limit: int = 12) -> list[tuple[str, str]]:
        rows = await self._db.read_all("SELECT client_id, text FROM messages WHERE session = ? "
                                       "ORDER BY received_at DESC LIMIT ?", (session, limit))
        return list(reversed([(str(a), str(b)) for a, b in rows]))

    def _record_in_tx(self, o: MessageOutcome) -> Recorded:
        db = self._db
        if db.one("SELECT 1 FROM sessions WHERE id = ?", (o.session,)) is None:
            raise SessionGone(o.session)  # erased meanwhile: no row of the message may outlive it
        routed = (o.lang, o.intent, o.decision)
        inserted = db.db.execute(
            "INSERT INTO messages (session, client_id, text, lang, intent, decision, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (o.session, o.client_id, o.text, *routed, time.time())).rowcount == 1
        if not inserted:
            if db.one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ?", (o.session, o.client_id)):
                return Recorded(False, None)  # a re-sent message that already has its answer
            if o.escalation is not None and db.one("SELECT 1 FROM outbox WHERE key = ?", (o.escalation.key,)):
                return Recorded(False, None)  # re-sent while its escalation is queued: the outbox answers it
            db.db.execute("UPDATE messages SET lang = ?, intent = ?, decision = ? WHERE session = ? "
                          "AND client_id = ?", (*routed, o.session, o.client_id))
        if o.lang_changed:
            db.db.execute("UPDATE sessions SET lang = ? WHERE id = ?", (o.lang, o.session))
        db.db.execute(_INSERT_LEDGER, (*msgspec.structs.astuple(o.entry), time.time()))
        if o.pending_changed:
            self._set_pending_in_tx(o.session, o.pending)
        if o.escalation is not None:
            q = o.escalation
            self.outbox.enqueue_in_tx(q.key, o.session, o.client_id, q.request, q.first_try_s)
        frame = None
        if o.answer is not None:
            frame = self.frames.append_in_tx(o.session, o.client_id, o.answer_final, o.answer)
        return Recorded(True, frame)

    def _set_pending_in_tx(self, session: str, pending: PendingAction | None) -> None:
        if pending is None:
            self._db.db.execute("DELETE FROM pending_actions WHERE session = ?", (session,))
            return
        self._db.db.execute("INSERT INTO pending_actions VALUES (?, ?, ?) ON CONFLICT (session) DO UPDATE SET "
                            "pending = excluded.pending, updated_at = excluded.updated_at",
                            (session, msgspec.msgpack.encode(pending), time.time()))

    async def pending_action(self, session: str) -> PendingAction | None:
        row = await self._db.read_one("SELECT pending FROM pending_actions WHERE session = ?", (session,))
        return msgspec.msgpack.decode(bytes(row[0]), type=PendingAction) if row else None

    def _record(self, outcome: MessageOutcome) -> Recorded:
        return self._db.transaction(lambda: self._record_in_tx(outcome))

    async def record_message(self, outcome: MessageOutcome) -> Recorded:
        return await self._db.run(self._record, outcome)

    def _record_here(self, outcome: MessageOutcome) -> Recorded:
        """The reply's write on the event loop itself: a hop to the store's thread costs ~150 us of wall
        time and ~200 us of CPU on a 2-core VM (docs/benchmarks.md), more than the write."""
        return self._db.here(self._record, outcome)

    async def record_cost(self, entry: LedgerEntry) -> None:
        await self._db.execute(_INSERT_LEDGER, (*msgspec.structs.astuple(entry), time.time()))

    async def ledger(self) -> list[LedgerEntry]:
        rows = await self._db.read_all("SELECT session, client_id, decision, source, edge_ms, input_tokens, "
                                       "cached_tokens, output_tokens, model, cost_usd FROM ledger ORDER BY at")
        return [LedgerEntry(*r) for r in rows]

    async def record_outcome(self, outcome: CaseOutcome) -> None:
        """Once per message: a replayed final answer is not a second refund."""
        await self._db.execute("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                               (*msgspec.structs.astuple(outcome), time.time()))

    async def outcomes(self) -> list[CaseOutcome]:
        rows = await self._db.read_all("SELECT session, client_id, lang, kind, order_id, amount, currency, "
                                       "procedure_name FROM outcomes ORDER BY at")
        return [CaseOutcome(*r) for r in rows]

    def _deliver(self, delivery_id: str, session: str, reply_to: str,
                 encode: Callable[[int], bytes]) -> Delivered:
        db = self._db
        row = db.one("SELECT seq FROM deliveries WHERE delivery_id = ?", (delivery_id,))
        if row is not None:
            return Delivered(True, None)
        if db.one("SELECT 1 FROM sessions WHERE id = ?", (session,)) is None:
            return Delivered(False, None)
        frame = self.frames.append_in_tx(session, reply_to, False, encode)
        assert frame is not None, "a frame that is not final is always appended"
        db.db.execute("INSERT INTO deliveries VALUES (?, ?, ?, ?)", (delivery_id, session, frame.seq, time.time()))
        return Delivered(True, frame)

    async def deliver(self, delivery_id: str, session: str, reply_to: str,
                      encode: Callable[[int], bytes]) -> Delivered:
        return await self._db.run(self._db.transaction, lambda: self._deliver(delivery_id, session, reply_to, encode))

    async def delivered_since(self, since: float) -> list[tuple[str, float]]:
        rows = await self._db.read_all("SELECT session, received_at FROM deliveries WHERE received_at > ? "
                                       "ORDER BY received_at", (since,))
        return [(str(a), float(b)) for a, b in rows]

    def _erase(self, where: str, params: tuple[Any, ...]) -> int:
        """Delete the sessions ``where`` selects and everything kept for them (the ledger keeps its
        rows: costs, without text or customer)."""
        sessions = f"SELECT id FROM sessions WHERE {where}"

        def work() -> int:
            conn = self._db.db
            erased = sum(conn.execute(f"DELETE FROM {table} WHERE session IN ({sessions})", params).rowcount
                         for table in SESSION_TABLES)
            return erased + conn.execute(f"DELETE FROM sessions WHERE {where}", params).rowcount

        return self._db.transaction(work)

    async def forget_customer(self, customer: str) -> int:
        return await self._db.run(self._erase, "customer = ? AND customer != ''", (customer,))

    async def purge_older_than(self, cutoff: float) -> int:
        return await self._db.run(self._erase, "updated_at < ?", (cutoff,))

    async def set_setting(self, key: str, value: str) -> None:
        await self._db.execute("INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                               "value = excluded.value, updated_at = excluded.updated_at", (key, value, time.time()))

    async def setting(self, key: str) -> str | None:
        row = await self._db.read_one("SELECT value FROM settings WHERE key = ?", (key,))
        return str(row[0]) if row else None
