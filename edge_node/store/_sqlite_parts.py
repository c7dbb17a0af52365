"""The frames and the outbox of the SQLite edge store, each its own part over the shared file."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from edge_node.store.base import OutboxItem, SessionGone, StoredFrame

if TYPE_CHECKING:
    from collections.abc import Callable

    from edge_node.store._sqlite_db import SqliteDb

__all__ = ["SqliteFrames", "SqliteOutbox"]

_HAS_FINAL = "SELECT 1 FROM frames WHERE session = ? AND reply_to = ? AND final = 1"


class SqliteFrames:
    """Per-session numbering comes from ``sessions.seq``, bumped in the frame's own transaction:
    the processes sharing the file write one at a time, so no seq is ever given twice."""

    def __init__(self, db: SqliteDb) -> None:
        self._db = db

    def append_in_tx(self, session: str, reply_to: str, final: bool,
                     encode: Callable[[int], bytes], unless_answered: bool = False) -> StoredFrame | None:
        """Inside a caller's transaction (a message's bookkeeping appends its answer in the same one)."""
        db = self._db
        if (final or unless_answered) and db.one(_HAS_FINAL, (session, reply_to)):
            return None
        row = db.one("UPDATE sessions SET seq = seq + 1, updated_at = ? WHERE id = ? RETURNING seq",
                     (time.time(), session))
        if row is None:
            raise SessionGone(session)
        seq = int(row[0])
        data = encode(seq)
        db.db.execute("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)",
                      (session, seq, reply_to, int(final), data, time.time()))
        return StoredFrame(seq, data, reply_to, final)

    async def append(self, session: str, reply_to: str, final: bool,
                     encode: Callable[[int], bytes], *, unless_answered: bool = False) -> StoredFrame | None:
        return await self._db.run(self._db.transaction,
                                  lambda: self.append_in_tx(session, reply_to, final, encode, unless_answered))

    async def after(self, session: str, seq: int) -> list[StoredFrame]:
        rows = await self._db.read_all("SELECT seq, frame, reply_to, final FROM frames WHERE session = ? AND seq > ? "
                                       "ORDER BY seq", (session, seq))
        return [StoredFrame(int(s), bytes(f), str(r), bool(final)) for s, f, r, final in rows]

    async def has_final(self, session: str, reply_to: str) -> bool:
        found = await self._db.read_one(_HAS_FINAL, (session, reply_to))
        return found is not None


class SqliteOutbox:
    def __init__(self, db: SqliteDb) -> None:
        self._db = db

    def enqueue_in_tx(self, key: str, session: str, client_id: str, request: bytes, first_try_s: float = 0.0) -> None:
        """Inside a caller's transaction (an escalated message is queued in its own record's)."""
        now = time.time()
        self._db.db.execute("INSERT INTO outbox (key, session, client_id, request, state, next_attempt_at, "
                            "created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
                            (key, session, client_id, request, now + first_try_s, now))

    async def enqueue(self, key: str, session: str, client_id: str, request: bytes) -> None:
        await self._db.run(self._db.transaction, lambda: self.enqueue_in_tx(key, session, client_id, request))

    def _claim(self, key: str, lease_s: float) -> OutboxItem | None:
        now = time.time()
        row = self._db.write(lambda: self._db.one(
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE key = ? AND state = 'pending' "
            "AND lease_until < ? RETURNING key, session, client_id, request, attempts, created_at",
            (now + lease_s, key, now)))
        return OutboxItem(row[0], row[1], row[2], bytes(row[3]), int(row[4]), float(row[5])) if row else None

    async def claim(self, key: str, lease_s: float) -> OutboxItem | None:
        return await self._db.run(self._claim, key, lease_s)

    async def due(self, limit: int = 16) -> list[str]:
        now = time.time()
        rows = await self._db.read_all("SELECT key FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
                                       "AND lease_until < ? ORDER BY created_at LIMIT ?", (now, now, limit))
        return [str(r[0]) for r in rows]

    async def retry_later(self, key: str, delay_s: float, error: str) -> None:
        await self._db.execute("UPDATE outbox SET next_attempt_at = ?, lease_until = 0, last_error = ? "
                               "WHERE key = ?", (time.time() + delay_s, error[:500], key))

    async def done(self, key: str) -> None:
        await self._db.execute("UPDATE outbox SET state = 'done', lease_until = 0 WHERE key = ?", (key,))

    async def dead(self, key: str, error: str) -> None:
        await self._db.execute("UPDATE outbox SET state = 'dead', lease_until = 0, last_error = ? WHERE key = ?",
                               (error[:500], key))

    async def depth(self) -> int:
        row = await self._db.read_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    async def dead_count(self) -> int:
        row = await self._db.read_one("SELECT COUNT(*) FROM outbox WHERE state = 'dead'")
        return int(row[0]) if row else 0

    async def prune(self, done_before: float) -> int:
        return await self._db.execute("DELETE FROM outbox WHERE state = 'done' AND created_at < ?", (done_before,))

    async def pending_for(self, session: str) -> list[str]:
        rows = await self._db.read_all("SELECT client_id FROM outbox WHERE session = ? AND state = 'pending'",
                                       (session,))
        return [str(r[0]) for r in rows]
