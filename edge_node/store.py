"""The edge's durable store (SQLite, WAL): sessions, accepted messages, numbered frames, outbox, ledger.

Every accepted message is written here before anything else happens, and every numbered frame a
shopper receives is appended here first and sent from here. So a frame that a shopper missed
(disconnect, edge restart, another replica) is replayed from the store exactly once on resume,
and an escalation the cloud could not take waits in the outbox until it can. Several edge
replicas on one host share the file; WAL lets their readers run beside the single writer.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
import msgspec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")

__all__ = ["EdgeStore", "LedgerEntry", "OutboxItem", "StoredFrame"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, storefront TEXT NOT NULL, customer TEXT NOT NULL DEFAULT '',
    lang TEXT, seq INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL
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
"""


class StoredFrame(msgspec.Struct, frozen=True):
    seq: int
    data: bytes


class OutboxItem(msgspec.Struct, frozen=True):
    key: str
    session: str
    client_id: str
    request: bytes
    attempts: int


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


async def _retry_locked(operation: Callable[[], Awaitable[T]], attempts: int = 40) -> T:
    """Run a write, retrying while another replica holds the database lock.

    Replicas sharing the file take turns writing; SQLite's busy timeout covers most waits, but a
    write that would have to upgrade a snapshot another process changed fails at once with
    "database is locked". The write is retried (it has not happened), with a growing pause.
    """
    for attempt in range(attempts):
        try:
            return await operation()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            await asyncio.sleep(min(0.2, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")


class EdgeStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._write = asyncio.Lock()
        """One connection serves every coroutine: a write must not land inside another's transaction."""

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=10000")
        await db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the edge store is not open; call `await store.open()` first")
        return self._db

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return tuple(row) if row is not None else None

    async def _exec(self, sql: str, params: tuple[Any, ...]) -> int:
        async with self._write:
            return await _retry_locked(lambda: self._exec_now(sql, params))

    async def _exec_now(self, sql: str, params: tuple[Any, ...]) -> int:
        async with self.db.execute(sql, params) as cursor:
            return int(cursor.rowcount)

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self.db.execute(sql, params) as cursor:
            return [tuple(r) for r in await cursor.fetchall()]

    # sessions -----------------------------------------------------------------------------------
    async def open_session(self, storefront: str, resume: str | None,
                           customer: str = "") -> tuple[str, int, str | None, bool]:
        """(session id, current seq, language, resumed) — a known id resumes, anything else starts anew."""
        if resume:  # only the same customer (or the same anonymous shopper) may resume a session
            row = await self._one("SELECT seq, lang FROM sessions WHERE id = ? AND storefront = ? AND customer = ?",
                                  (resume, storefront, customer))
            if row is not None:
                return resume, int(row[0]), row[1], True
        session = secrets.token_urlsafe(12)
        now = time.time()
        await self._exec("INSERT INTO sessions (id, storefront, customer, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (session, storefront, customer, now, now))
        return session, 0, None, False

    async def set_lang(self, session: str, lang: str) -> None:
        await self._exec("UPDATE sessions SET lang = ?, updated_at = ? WHERE id = ?", (lang, time.time(), session))

    async def customer(self, session: str) -> str:
        row = await self._one("SELECT customer FROM sessions WHERE id = ?", (session,))
        return str(row[0]) if row else ""

    # messages -----------------------------------------------------------------------------------
    async def accept(self, session: str, client_id: str, text: str) -> bool:
        """Record an accepted message; False when this session already sent that message id."""
        return await self._exec("INSERT INTO messages (session, client_id, text, received_at) VALUES (?, ?, ?, ?) "
                                "ON CONFLICT DO NOTHING", (session, client_id, text, time.time())) == 1

    async def classify(self, session: str, client_id: str, lang: str, intent: str | None, decision: str) -> None:
        await self._exec("UPDATE messages SET lang = ?, intent = ?, decision = ? "
                         "WHERE session = ? AND client_id = ?", (lang, intent, decision, session, client_id))

    async def conversation(self, session: str, limit: int = 12) -> list[tuple[str, str]]:
        """(client_id, text) of the session's last ``limit`` messages, oldest first."""
        rows = await self._all("SELECT client_id, text FROM messages WHERE session = ? "
                               "ORDER BY received_at DESC LIMIT ?", (session, limit))
        return list(reversed([(str(a), str(b)) for a, b in rows]))

    # frames -------------------------------------------------------------------------------------
    async def append_frame(self, session: str, reply_to: str, final: bool, encode: Any) -> StoredFrame | None:
        """Number and store a frame; ``encode(seq) -> bytes`` builds it once the seq is known.

        Returns None when ``final`` and that message already has its final answer (a retry that
        raced another worker): the shopper never gets two final answers.
        """
        async with self._write:
            return await _retry_locked(lambda: self._append_frame(session, reply_to, final, encode))

    async def _append_frame(self, session: str, reply_to: str, final: bool, encode: Any) -> StoredFrame | None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            if final and await self._one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ? AND final = 1",
                                         (session, reply_to)):
                await db.execute("ROLLBACK")
                return None
            row = await self._one("UPDATE sessions SET seq = seq + 1, updated_at = ? WHERE id = ? RETURNING seq",
                                  (time.time(), session))
            if row is None:
                raise KeyError(f"unknown session {session}")
            seq = int(row[0])
            data: bytes = encode(seq)
            await db.execute("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)",
                             (session, seq, reply_to, int(final), data, time.time()))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return StoredFrame(seq, data)

    async def frames_after(self, session: str, seq: int) -> list[StoredFrame]:
        rows = await self._all("SELECT seq, frame FROM frames WHERE session = ? AND seq > ? ORDER BY seq",
                               (session, seq))
        return [StoredFrame(int(s), bytes(f)) for s, f in rows]

    async def has_answer(self, session: str, reply_to: str) -> bool:
        """Any numbered frame (final or queued) answers this message already."""
        found = await self._one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ?", (session, reply_to))
        return found is not None

    async def has_final(self, session: str, reply_to: str) -> bool:
        return await self._one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ? AND final = 1",
                               (session, reply_to)) is not None

    # outbox -------------------------------------------------------------------------------------
    async def enqueue(self, key: str, session: str, client_id: str, request: bytes) -> None:
        now = time.time()
        await self._exec("INSERT INTO outbox (key, session, client_id, request, state, next_attempt_at, "
                         "created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
                         (key, session, client_id, request, now, now))

    async def claim(self, key: str, lease_s: float) -> OutboxItem | None:
        """Take one pending item for ``lease_s`` seconds; None when done or leased by another worker."""
        now = time.time()
        async with self._write:
            row = await _retry_locked(lambda: self._one(
                "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE key = ? AND state = 'pending' "
                "AND lease_until < ? RETURNING key, session, client_id, request, attempts", (now + lease_s, key, now)))
        return OutboxItem(row[0], row[1], row[2], bytes(row[3]), int(row[4])) if row else None

    async def due(self, limit: int = 16) -> list[str]:
        now = time.time()
        rows = await self._all("SELECT key FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
                               "AND lease_until < ? ORDER BY created_at LIMIT ?", (now, now, limit))
        return [str(r[0]) for r in rows]

    async def retry_later(self, key: str, delay_s: float, error: str) -> None:
        await self._exec("UPDATE outbox SET next_attempt_at = ?, lease_until = 0, last_error = ? WHERE key = ?",
                         (time.time() + delay_s, error[:500], key))

    async def done(self, key: str) -> None:
        await self._exec("UPDATE outbox SET state = 'done', lease_until = 0 WHERE key = ?", (key,))

    async def outbox_depth(self) -> int:
        row = await self._one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", ())
        return int(row[0]) if row else 0

    # ledger -------------------------------------------------------------------------------------
    async def record(self, entry: LedgerEntry) -> None:
        await self._exec("INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (*msgspec.structs.astuple(entry), time.time()))

    async def ledger(self) -> list[LedgerEntry]:
        rows = await self._all("SELECT session, client_id, decision, source, edge_ms, input_tokens, cached_tokens, "
                               "output_tokens, model, cost_usd FROM ledger ORDER BY at", ())
        return [LedgerEntry(*r) for r in rows]

    async def counts(self) -> dict[str, int]:
        """Accepted messages and final answers, for tests and reports that nothing was lost."""
        messages = await self._one("SELECT COUNT(*) FROM messages", ())
        finals = await self._one("SELECT COUNT(*) FROM frames WHERE final = 1", ())
        return {"messages": int(messages[0]) if messages else 0, "final_answers": int(finals[0]) if finals else 0}
