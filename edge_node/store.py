"""The edge's durable store (SQLite, WAL): sessions, accepted messages, numbered frames, outbox, ledger.

Every accepted message is written here before anything else happens, and every numbered frame a
shopper receives is appended here first and sent from here. So a frame that a shopper missed
(disconnect, edge restart, another replica) is replayed from the store exactly once on resume,
and an escalation the cloud could not take waits in the outbox until it can. Several edge
replicas on one host share the file; WAL lets their readers run beside the single writer.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

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
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
"""


_INSERT_LEDGER = "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


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


def _retry_locked(operation: Callable[[], T], attempts: int = 60) -> T:
    """Run a write, retrying while another replica holds the database lock.

    Replicas sharing the file take turns writing; SQLite's busy timeout covers most waits, but a
    write that would have to upgrade a snapshot another process changed fails at once with
    "database is locked". The write is retried (it has not happened), with a growing pause.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(min(0.2, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")


# How often the WAL is copied back into the database, off the message path.
_CHECKPOINT_INTERVAL_S = 1.0


class EdgeStore:
    """All statements run on one dedicated thread with one connection: each public call is one hop
    off the event loop, and a whole message's bookkeeping is one transaction in one hop. The one
    exception is ``record_message_here``, for a caller already off the loop (the understanding
    thread), which takes the connection's lock instead of a second hop.

    Processes sharing the file take a kernel file lock (``<db>.lock``) around each write, so a
    writer queues behind the one writing and wakes the moment it is done. Left to SQLite's busy
    handler instead, a writer that finds the database locked sleeps 1, 2, 5, 10 ... 100 ms between
    tries: with two workers committing 300 messages a second, those sleeps stalled every message
    queued behind them for 100-260 ms (docs/benchmarks.md). For the same reason the WAL is
    checkpointed by a background thread with its own connection, not inside a message's commit.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-store")
        self._conn_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._stop_checkpoints = threading.Event()
        self._checkpointer: threading.Thread | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._conn_lock:
            return fn(*args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the edge store is not open; call `await store.open()` first")
        return self._conn

    def _open(self) -> None:
        on_disk = self.path != ":memory:"
        if on_disk:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        # Switching a fresh file to WAL fails at once ("database is locked", no busy wait) while
        # another process has it open: workers or replicas starting together on a new store crashed
        # at startup (19 of 300 concurrent opens before this was under the file lock).
        self._write(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=NORMAL")
        if on_disk:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        self._write(lambda: conn.executescript(_SCHEMA))
        self._conn = conn
        if on_disk:
            self._stop_checkpoints.clear()
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="edge-store-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints never block a writer; a reader or writer busy at the moment just
        leaves some frames for the next round."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop_checkpoints.wait(_CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # the next round tries again; the WAL keeps every commit
                    logging.getLogger(__name__).warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    def _write(self, operation: Callable[[], T]) -> T:
        """Every write: the cross-process file lock first, then SQLite's own retry if still busy."""
        if self._lock_fd is None:
            return _retry_locked(operation)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return _retry_locked(operation)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def open(self) -> None:
        await self._run(self._open)

    def _close(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def close(self) -> None:
        await self._run(self._close)

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        row = self.db.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.execute(sql, params).fetchall()]

    def _exec(self, sql: str, params: tuple[Any, ...]) -> int:
        return self._write(lambda: self.db.execute(sql, params).rowcount)

    def _transaction(self, work: Callable[[], T]) -> T:
        def attempt() -> T:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self.db.execute("COMMIT")
                return result
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

        return self._write(attempt)

    # sessions -----------------------------------------------------------------------------------
    def _open_session(self, storefront: str, resume: str | None, customer: str) -> tuple[str, int, str | None, bool]:
        if resume:  # only the same customer (or the same anonymous shopper) may resume a session
            row = self._one("SELECT seq, lang FROM sessions WHERE id = ? AND storefront = ? AND customer = ?",
                            (resume, storefront, customer))
            if row is not None:
                return resume, int(row[0]), row[1], True
        session = secrets.token_urlsafe(12)
        now = time.time()
        self._exec("INSERT INTO sessions (id, storefront, customer, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                   (session, storefront, customer, now, now))
        return session, 0, None, False

    async def open_session(self, storefront: str, resume: str | None,
                           customer: str = "") -> tuple[str, int, str | None, bool]:
        """(session id, current seq, language, resumed) — a known id resumes, anything else starts anew."""
        return await self._run(self._open_session, storefront, resume, customer)

    # messages -----------------------------------------------------------------------------------
    async def conversation(self, session: str, limit: int = 12) -> list[tuple[str, str]]:
        """(client_id, text) of the session's last ``limit`` messages, oldest first."""
        rows = await self._run(self._all, "SELECT client_id, text FROM messages WHERE session = ? "
                               "ORDER BY received_at DESC LIMIT ?", (session, limit))
        return list(reversed([(str(a), str(b)) for a, b in rows]))

    # frames -------------------------------------------------------------------------------------
    def _append_frame_in_tx(self, session: str, reply_to: str, final: bool,
                            encode: Callable[[int], bytes]) -> StoredFrame | None:
        if final and self._one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ? AND final = 1",
                               (session, reply_to)):
            return None
        row = self._one("UPDATE sessions SET seq = seq + 1, updated_at = ? WHERE id = ? RETURNING seq",
                        (time.time(), session))
        if row is None:
            raise KeyError(f"unknown session {session}")
        seq = int(row[0])
        data = encode(seq)
        self.db.execute("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)",
                        (session, seq, reply_to, int(final), data, time.time()))
        return StoredFrame(seq, data)

    async def append_frame(self, session: str, reply_to: str, final: bool,
                           encode: Callable[[int], bytes]) -> StoredFrame | None:
        """Number and store a frame; ``encode(seq) -> bytes`` builds it once the seq is known.

        Returns None when ``final`` and that message already has its final answer (a retry that
        raced another worker): the shopper never gets two final answers.
        """
        return await self._run(self._transaction,
                               lambda: self._append_frame_in_tx(session, reply_to, final, encode))

    def _record_in_tx(self, session: str, client_id: str, text: str, lang: str, lang_changed: bool,
                      intent: str | None, decision: str, final: bool, encode: Callable[[int], bytes] | None,
                      entry: LedgerEntry) -> tuple[bool, StoredFrame | None]:
        outcome = (lang, intent, decision)
        inserted = self.db.execute(
            "INSERT INTO messages (session, client_id, text, lang, intent, decision, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (session, client_id, text, *outcome, time.time())).rowcount == 1
        if not inserted:
            if self._one("SELECT 1 FROM frames WHERE session = ? AND reply_to = ?", (session, client_id)):
                return False, None  # a re-sent message that already has its answer
            self.db.execute("UPDATE messages SET lang = ?, intent = ?, decision = ? WHERE session = ? "
                            "AND client_id = ?", (*outcome, session, client_id))
        if lang_changed:
            self.db.execute("UPDATE sessions SET lang = ? WHERE id = ?", (lang, session))
        self.db.execute(_INSERT_LEDGER,
                        (*msgspec.structs.astuple(entry), time.time()))
        frame = self._append_frame_in_tx(session, client_id, final, encode) if encode is not None else None
        return True, frame

    async def record_message(self, session: str, client_id: str, text: str, *, lang: str, lang_changed: bool,
                             intent: str | None, decision: str, entry: LedgerEntry, final: bool = True,
                             encode: Callable[[int], bytes] | None = None) -> tuple[bool, StoredFrame | None]:
        """Accept a routed message, its ledger entry and (for edge answers) its answer frame: one
        transaction, one hop. Returns (processed, frame); ``processed`` is False for a re-sent id that
        was already answered, whose answer the caller replays from the store instead.

        Nothing reaches the shopper before this commits, and a shopper's widget re-sends any message
        it has no answer for, so a message is either stored with its outcome or re-sent: never lost.
        """
        return await self._run(self._record, session, client_id, text, lang, lang_changed, intent, decision,
                               final, encode, entry)

    def _record(self, session: str, client_id: str, text: str, lang: str, lang_changed: bool, intent: str | None,
                decision: str, final: bool, encode: Callable[[int], bytes] | None,
                entry: LedgerEntry) -> tuple[bool, StoredFrame | None]:
        return self._transaction(lambda: self._record_in_tx(
            session, client_id, text, lang, lang_changed, intent, decision, final, encode, entry))

    def record_message_here(self, session: str, client_id: str, text: str, *, lang: str, lang_changed: bool,
                            intent: str | None, decision: str, entry: LedgerEntry, final: bool = True,
                            encode: Callable[[int], bytes] | None = None) -> tuple[bool, StoredFrame | None]:
        """``record_message`` on the calling thread, which must not be the event loop's.

        A paced message used to cross threads twice (understanding, then store); a hop to an idle
        thread costs ~150 us of wall time and ~200 us of CPU on a 2-core VM (docs/benchmarks.md).
        """
        return self._locked(self._record, session, client_id, text, lang, lang_changed, intent, decision, final,
                            encode, entry)

    async def frames_after(self, session: str, seq: int) -> list[StoredFrame]:
        rows = await self._run(self._all, "SELECT seq, frame FROM frames WHERE session = ? AND seq > ? ORDER BY seq",
                               (session, seq))
        return [StoredFrame(int(s), bytes(f)) for s, f in rows]

    async def has_final(self, session: str, reply_to: str) -> bool:
        found = await self._run(self._one, "SELECT 1 FROM frames WHERE session = ? AND reply_to = ? AND final = 1",
                                (session, reply_to))
        return found is not None

    async def pending_escalations(self, session: str) -> list[str]:
        rows = await self._run(self._all, "SELECT client_id FROM outbox WHERE session = ? AND state = 'pending'",
                               (session,))
        return [str(r[0]) for r in rows]

    # outbox -------------------------------------------------------------------------------------
    async def enqueue(self, key: str, session: str, client_id: str, request: bytes) -> None:
        now = time.time()
        await self._run(self._exec, "INSERT INTO outbox (key, session, client_id, request, state, next_attempt_at, "
                        "created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
                        (key, session, client_id, request, now, now))

    def _claim(self, key: str, lease_s: float) -> OutboxItem | None:
        now = time.time()
        row = self._write(lambda: self._one(
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE key = ? AND state = 'pending' "
            "AND lease_until < ? RETURNING key, session, client_id, request, attempts", (now + lease_s, key, now)))
        return OutboxItem(row[0], row[1], row[2], bytes(row[3]), int(row[4])) if row else None

    async def claim(self, key: str, lease_s: float) -> OutboxItem | None:
        """Take one pending item for ``lease_s`` seconds; None when done or leased by another worker."""
        return await self._run(self._claim, key, lease_s)

    async def due(self, limit: int = 16) -> list[str]:
        now = time.time()
        rows = await self._run(self._all, "SELECT key FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
                               "AND lease_until < ? ORDER BY created_at LIMIT ?", (now, now, limit))
        return [str(r[0]) for r in rows]

    async def retry_later(self, key: str, delay_s: float, error: str) -> None:
        await self._run(self._exec, "UPDATE outbox SET next_attempt_at = ?, lease_until = 0, last_error = ? "
                        "WHERE key = ?", (time.time() + delay_s, error[:500], key))

    async def done(self, key: str) -> None:
        await self._run(self._exec, "UPDATE outbox SET state = 'done', lease_until = 0 WHERE key = ?", (key,))

    async def set_setting(self, key: str, value: str) -> None:
        """Shared state of the processes on this store (e.g. the bundle every worker should serve)."""
        await self._run(self._exec, "INSERT INTO settings VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = excluded.value, updated_at = excluded.updated_at", (key, value, time.time()))

    async def setting(self, key: str) -> str | None:
        row = await self._run(self._one, "SELECT value FROM settings WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def outbox_depth(self) -> int:
        row = await self._run(self._one, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'", ())
        return int(row[0]) if row else 0

    # ledger -------------------------------------------------------------------------------------
    async def record(self, entry: LedgerEntry) -> None:
        await self._run(self._exec, _INSERT_LEDGER,
                        (*msgspec.structs.astuple(entry), time.time()))

    async def ledger(self) -> list[LedgerEntry]:
        rows = await self._run(self._all, "SELECT session, client_id, decision, source, edge_ms, input_tokens, "
                               "cached_tokens, output_tokens, model, cost_usd FROM ledger ORDER BY at", ())
        return [LedgerEntry(*r) for r in rows]
