"""The edge store on PostgreSQL: a region's edge hosts share one database, so no host holds state alone.

Same contract as the SQLite store (``edge_node.store.base``), for edges spread over several hosts:
any replica resumes any session, drains any outbox item (leased claims that skip rows another
replica holds) and follows the same bundle record. What keeps it right across hosts:

- A frame's number comes from ``UPDATE sessions SET seq = seq + 1 ... RETURNING seq`` in the
  frame's own transaction: the row lock makes concurrent appends to one session wait for each
  other, on any host, so no number is given twice; a message's final answer is checked for under
  that lock, so it is stored once (and a unique index backs it up).
- An outbox item is claimed by one ``UPDATE`` whose row is picked ``FOR UPDATE SKIP LOCKED``:
  a replica racing another for the same item moves on instead of waiting for it.

psycopg's asynchronous pool (``triage.postgres``, as the cloud's and the shop's stores) on the
serving event loop: a call waits on its socket beside other messages' work, with no thread to hop
to and back (the synchronous pool on threads cost two hand-offs per call: p50 at 200 paced
sessions 1.75x SQLite's then, 1.36x now; docs/benchmarks.md). Every connection is opened with the
store, so the first messages after a start do not wait for the pool to grow.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import psycopg
from psycopg_pool import PoolTimeout

from edge_node.store.base import (
    SESSION_TABLES,
    CaseOutcome,
    Delivered,
    LedgerEntry,
    MessageOutcome,
    OutboxItem,
    PendingAction,
    Recorded,
    SessionGone,
    SessionState,
    StoredFrame,
    may_resume,
    new_resume_key,
)
from triage.postgres import PostgresPool

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from psycopg.rows import TupleRow

    Connection = psycopg.AsyncConnection[TupleRow]

T = TypeVar("T")

__all__ = ["PostgresEdgeStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS edge_sessions (
    id TEXT PRIMARY KEY, storefront TEXT NOT NULL, customer TEXT NOT NULL DEFAULT '',
    lang TEXT, seq BIGINT NOT NULL DEFAULT 0, created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
ALTER TABLE edge_sessions ADD COLUMN IF NOT EXISTS resume_key TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS edge_messages (
    session TEXT NOT NULL, client_id TEXT NOT NULL, text TEXT NOT NULL, lang TEXT, intent TEXT,
    decision TEXT, received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session, client_id)
);
CREATE TABLE IF NOT EXISTS edge_frames (
    session TEXT NOT NULL, seq BIGINT NOT NULL, reply_to TEXT NOT NULL, final BOOLEAN NOT NULL,
    frame BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS edge_one_final_answer ON edge_frames (session, reply_to) WHERE final;
CREATE TABLE IF NOT EXISTS edge_outbox (
    key TEXT PRIMARY KEY, session TEXT NOT NULL, client_id TEXT NOT NULL, request BYTEA NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS edge_outbox_due ON edge_outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS edge_ledger (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session TEXT NOT NULL, client_id TEXT NOT NULL, decision TEXT NOT NULL, source TEXT NOT NULL,
    edge_ms DOUBLE PRECISION NOT NULL, input_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    model TEXT NOT NULL DEFAULT '', cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0, at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_outcomes (
    session TEXT NOT NULL, client_id TEXT NOT NULL, lang TEXT NOT NULL, kind TEXT NOT NULL, order_id TEXT NOT NULL,
    amount TEXT NOT NULL, currency TEXT NOT NULL, procedure_name TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session, client_id)
);
CREATE TABLE IF NOT EXISTS edge_pending_actions (
    session TEXT PRIMARY KEY, pending BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_settings (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_deliveries (
    delivery_id TEXT PRIMARY KEY, session TEXT NOT NULL, seq BIGINT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS edge_deliveries_by_time ON edge_deliveries (received_at)
"""
# A message's bookkeeping and a frame's numbering are each one server-side call: written as single
# statements from here they took six to eight round trips per message inside one transaction, and
# at 200 paced sessions those round trips, not the work, made the PostgreSQL store's p99 1.75x
# SQLite's. A frame's bytes need its number, which only the session row's lock gives out, so the
# frame travels with a placeholder (``_SEQ_PLACEHOLDER``) that the function swaps for the number.
_FUNCTIONS = ("""
CREATE OR REPLACE FUNCTION edge_append_frame(p_session TEXT, p_reply_to TEXT, p_final BOOLEAN, p_frame TEXT,
                                             p_placeholder TEXT, p_now DOUBLE PRECISION) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE s BIGINT;
BEGIN
    UPDATE edge_sessions SET seq = seq + 1, updated_at = p_now WHERE id = p_session RETURNING seq INTO s;
    IF s IS NULL THEN
        RAISE EXCEPTION 'unknown session %', p_session USING ERRCODE = 'TRI02';
    END IF;
    -- checked under the session's lock: every replica's final answer is visible here
    IF p_final AND EXISTS (SELECT 1 FROM edge_frames WHERE session = p_session AND reply_to = p_reply_to AND final) THEN
        RAISE EXCEPTION 'already answered' USING ERRCODE = 'TRI01';
    END IF;
    INSERT INTO edge_frames VALUES (p_session, s, p_reply_to, p_final,
                                    convert_to(replace(p_frame, p_placeholder, '"seq":' || s), 'UTF8'), p_now);
    RETURN s;
END $$
""", """
CREATE OR REPLACE FUNCTION edge_record_message(
    p_session TEXT, p_client_id TEXT, p_text TEXT, p_lang TEXT, p_intent TEXT, p_decision TEXT,
    p_lang_changed BOOLEAN, p_source TEXT, p_edge_ms DOUBLE PRECISION, p_input_tokens INTEGER,
    p_cached_tokens INTEGER, p_output_tokens INTEGER, p_model TEXT, p_cost_usd DOUBLE PRECISION,
    p_pending_changed BOOLEAN, p_pending BYTEA, p_frame TEXT, p_final BOOLEAN, p_placeholder TEXT,
    p_now DOUBLE PRECISION) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    -- locked first, as edge_append_frame does: an erased session takes no new rows
    PERFORM 1 FROM edge_sessions WHERE id = p_session FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown session %', p_session USING ERRCODE = 'TRI02';
    END IF;
    INSERT INTO edge_messages (session, client_id, text, lang, intent, decision, received_at)
    VALUES (p_session, p_client_id, p_text, p_lang, p_intent, p_decision, p_now) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM edge_frames WHERE session = p_session AND reply_to = p_client_id) THEN
            RETURN -1;  -- a re-sent message that already has its answer
        END IF;
        UPDATE edge_messages SET lang = p_lang, intent = p_intent, decision = p_decision
        WHERE session = p_session AND client_id = p_client_id;
    END IF;
    IF p_lang_changed THEN
        UPDATE edge_sessions SET lang = p_lang WHERE id = p_session;
    END IF;
    INSERT INTO edge_ledger (session, client_id, decision, source, edge_ms, input_tokens, cached_tokens,
                             output_tokens, model, cost_usd, at)
    VALUES (p_session, p_client_id, p_decision, p_source, p_edge_ms, p_input_tokens, p_cached_tokens,
            p_output_tokens, p_model, p_cost_usd, p_now);
    IF p_pending_changed AND p_pending IS NULL THEN
        DELETE FROM edge_pending_actions WHERE session = p_session;
    ELSIF p_pending_changed THEN
        INSERT INTO edge_pending_actions VALUES (p_session, p_pending, p_now)
        ON CONFLICT (session) DO UPDATE SET pending = excluded.pending, updated_at = excluded.updated_at;
    END IF;
    IF p_frame IS NULL THEN
        RETURN 0;
    END IF;
    RETURN edge_append_frame(p_session, p_client_id, p_final, p_frame, p_placeholder, p_now);
END $$
""")
_ALREADY_FINAL, _UNKNOWN_SESSION = "TRI01", "TRI02"
_SEQ_SENTINEL = 4_611_686_018_427_387_903
_SEQ_PLACEHOLDER = f'"seq":{_SEQ_SENTINEL}'
"""Unique in an encoded frame: inside a JSON string every ``"`` is escaped, so ``"seq":`` followed
by this number can only be the frame's own ``seq`` field."""
_RECORD_MESSAGE = ("SELECT edge_record_message(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                   "%s, %s)")
_ENQUEUE = ("INSERT INTO edge_outbox (key, session, client_id, request, state, next_attempt_at, created_at) "
            "VALUES (%s, %s, %s, %s, 'pending', %s, %s) ON CONFLICT DO NOTHING")
_SCHEMA_LOCK = 0x7472_6961_6765_6564  # "triageed": replicas starting together create the tables once

_LEDGER_COLUMNS = ("session, client_id, decision, source, edge_ms, input_tokens, cached_tokens, output_tokens, "
                   "model, cost_usd")
_HAS_FINAL = "SELECT 1 FROM edge_frames WHERE session = %s AND reply_to = %s AND final"


class _AlreadyFinal(Exception):
    """Rolls back a frame's transaction: the message got its final answer on another replica first."""


class PostgresEdgeStore:
    inline_recorder: Callable[[MessageOutcome], Recorded] | None = None
    """None: a message's record is a network round trip, awaited on the loop beside other messages'
    work, never inline in the reply, where one slow commit would hold every message behind it
    (p99 484 ms against 146-210 beside it, when a record took six to eight round trips)."""

    def __init__(self, url: str, max_connections: int = 8) -> None:
        self.url = url
        self._pool = PostgresPool(url, max_connections, what="the edge store", min_connections=max_connections)
        self.frames = _Frames(self)
        self.outbox = _Outbox(self)

    # plumbing ---------------------------------------------------------------------------------
    async def tx(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """``await work(conn)`` in one transaction."""
        async with self._pool.connection() as conn, conn.transaction():
            return await work(conn)

    async def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = await self._pool.fetch(sql, params)
        return rows[0] if rows else None

    async def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._pool.fetch(sql, params)

    async def exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return await self._pool.execute(sql, params)

    async def open(self) -> None:
        try:
            await self._pool.open()
        except (PoolTimeout, psycopg.Error) as exc:
            raise RuntimeError(f"the PostgreSQL edge store at {self.url.split('@')[-1]} is not reachable ({exc}); "
                               "check [edge] store") from exc

        async def create(conn: Connection) -> None:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    await conn.execute(statement)
            for function in _FUNCTIONS:
                await conn.execute(function)

        await self.tx(create)

    async def close(self) -> None:
        await self._pool.close()

    # sessions and messages --------------------------------------------------------------------
    async def open_session(self, storefront: str, resume: str | None, customer: str = "",
                           resume_key: str = "") -> SessionState:
        if resume:
            row = await self.one("SELECT seq, lang, resume_key FROM edge_sessions WHERE id = %s AND storefront = %s "
                                 "AND customer = %s", (resume, storefront, customer))
            if row is not None and may_resume(customer, str(row[2]), resume_key):
                return SessionState(resume, int(row[0]), row[1], True, str(row[2]))
        session, key = secrets.token_urlsafe(12), new_resume_key()
        now = time.time()
        await self.exec("INSERT INTO edge_sessions (id, storefront, customer, created_at, updated_at, resume_key) "
                        "VALUES (%s, %s, %s, %s, %s, %s)", (session, storefront, customer, now, now, key))
        return SessionState(session, 0, None, False, key)

    async def conversation(self, session: str, limit: int = 12) -> list[tuple[str, str]]:
        rows = await self.all("SELECT client_id, text FROM edge_messages WHERE session = %s "
                              "ORDER BY received_at DESC LIMIT %s", (session, limit))
        return list(reversed([(str(a), str(b)) for a, b in rows]))

    async def record_message(self, outcome: MessageOutcome) -> Recorded:
        o = outcome
        template = _template(o.answer) if o.answer is not None else None
        e, now = o.entry, time.time()
        params = (o.session, o.client_id, o.text, o.lang, o.intent, o.decision, o.lang_changed, e.source, e.edge_ms,
                  e.input_tokens, e.cached_tokens, e.output_tokens, e.model, e.cost_usd, o.pending_changed,
                  msgspec.msgpack.encode(o.pending) if o.pending is not None else None, template, o.answer_final,
                  _SEQ_PLACEHOLDER, now)
        queued = o.escalation

        async def work(conn: Connection) -> tuple[Any, ...] | None:
            assert queued is not None
            # The session row first, as edge_record_message locks it: a replica recording the same message
            # commits before this one looks for its outbox row (SQLite's write lock gives the same order).
            await conn.execute("SELECT 1 FROM edge_sessions WHERE id = %s FOR UPDATE", (o.session,))
            if await (await conn.execute("SELECT 1 FROM edge_outbox WHERE key = %s", (queued.key,))).fetchone():
                return (-1,)  # re-sent while its escalation is queued: the outbox answers it
            row = await (await conn.execute(_RECORD_MESSAGE, params)).fetchone()
            if row is not None and int(row[0]) >= 0:
                await conn.execute(_ENQUEUE, (queued.key, o.session, o.client_id, queued.request,
                                              now + queued.first_try_s, now))
            return row

        try:
            row = await (self.tx(work) if queued is not None else self.one(_RECORD_MESSAGE, params))
        except psycopg.Error as exc:
            if exc.sqlstate == _ALREADY_FINAL:  # another replica answered this message first
                return Recorded(False, None)
            if exc.sqlstate == _UNKNOWN_SESSION:
                raise SessionGone(o.session) from exc
            raise
        seq = int(row[0]) if row else 0
        if seq < 0:
            return Recorded(False, None)  # a re-sent message that already has its answer
        if template is None:
            return Recorded(True, None)
        return Recorded(True, StoredFrame(seq, _numbered(template, seq), o.client_id, o.answer_final))

    async def pending_action(self, session: str) -> PendingAction | None:
        row = await self.one("SELECT pending FROM edge_pending_actions WHERE session = %s", (session,))
        return msgspec.msgpack.decode(bytes(row[0]), type=PendingAction) if row else None

    # ledger, outcomes, settings ----------------------------------------------------------------
    async def record_cost(self, entry: LedgerEntry) -> None:
        await self.exec(f"INSERT INTO edge_ledger ({_LEDGER_COLUMNS}, at) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", (*msgspec.structs.astuple(entry), time.time()))

    async def ledger(self) -> list[LedgerEntry]:
        rows = await self.all(f"SELECT {_LEDGER_COLUMNS} FROM edge_ledger ORDER BY at, id")
        return [LedgerEntry(*r) for r in rows]

    async def record_outcome(self, outcome: CaseOutcome) -> None:
        await self.exec("INSERT INTO edge_outcomes VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (*msgspec.structs.astuple(outcome), time.time()))

    async def outcomes(self) -> list[CaseOutcome]:
        rows = await self.all("SELECT session, client_id, lang, kind, order_id, amount, currency, procedure_name "
                              "FROM edge_outcomes ORDER BY at")
        return [CaseOutcome(*r) for r in rows]

    async def set_setting(self, key: str, value: str) -> None:
        await self.exec("INSERT INTO edge_settings VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                        "value = excluded.value, updated_at = excluded.updated_at", (key, value, time.time()))

    async def setting(self, key: str) -> str | None:
        row = await self.one("SELECT value FROM edge_settings WHERE key = %s", (key,))
        return str(row[0]) if row else None

    # erasure and retention --------------------------------------------------------------------
    async def _erase(self, where: str, params: tuple[Any, ...]) -> int:
        sessions = f"SELECT id FROM edge_sessions WHERE {where}"

        async def work(conn: Connection) -> int:
            erased = 0
            for table in SESSION_TABLES:
                erased += (await conn.execute(f"DELETE FROM edge_{table} WHERE session IN ({sessions})",
                                              params)).rowcount
            return erased + (await conn.execute(f"DELETE FROM edge_sessions WHERE {where}", params)).rowcount

        return await self.tx(work)

    async def forget_customer(self, customer: str) -> int:
        return await self._erase("customer = %s AND customer <> ''", (customer,))

    async def purge_older_than(self, cutoff: float) -> int:
        return await self._erase("updated_at < %s", (cutoff,))

    # deliveries -------------------------------------------------------------------------------
    async def deliver(self, delivery_id: str, session: str, reply_to: str,
                      encode: Callable[[int], bytes]) -> Delivered:
        if await self.one("SELECT 1 FROM edge_deliveries WHERE delivery_id = %s", (delivery_id,)):
            return Delivered(True, None)

        async def work(conn: Connection) -> Delivered:
            frame = await _append(conn, session, reply_to, False, encode)  # locks the session row first
            assert frame is not None, "a frame that is not final is always appended"
            inserted = (await conn.execute("INSERT INTO edge_deliveries VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                                           (delivery_id, session, frame.seq, time.time()))).rowcount == 1
            if not inserted:  # stored before (by another replica, or before a restart): this frame is undone
                raise _AlreadyFinal
            return Delivered(True, frame)

        try:
            return await self.tx(work)
        except _AlreadyFinal:
            return Delivered(True, None)
        except KeyError:
            return Delivered(False, None)  # not a session of this region's store

    async def delivered_since(self, since: float) -> list[tuple[str, float]]:
        rows = await self.all("SELECT session, received_at FROM edge_deliveries WHERE received_at > %s "
                              "ORDER BY received_at", (since,))
        return [(str(a), float(b)) for a, b in rows]


def _template(encode: Callable[[int], bytes]) -> str:
    """The frame encoded with the placeholder where its number goes."""
    template = encode(_SEQ_SENTINEL).decode()
    assert template.count(_SEQ_PLACEHOLDER) == 1, "a frame carries its seq field once"
    return template


def _numbered(template: str, seq: int) -> bytes:
    """The bytes ``edge_append_frame`` stored: the same replacement, done here instead of read back."""
    return template.replace(_SEQ_PLACEHOLDER, f'"seq":{seq}').encode()


async def _append(conn: Connection, session: str, reply_to: str, final: bool,
                  encode: Callable[[int], bytes], unless_answered: bool = False) -> StoredFrame | None:
    """Number and store a frame in one call; inside a transaction the session row stays locked to its end.

    Raises ``_AlreadyFinal`` for a second final answer to one message, and for a notice
    (``unless_answered``) to a message that has its final answer: the session row is locked first, as
    ``edge_append_frame`` locks it for every frame, so no final answer lands between the check and it.
    """
    if unless_answered:
        await conn.execute("SELECT 1 FROM edge_sessions WHERE id = %s FOR UPDATE", (session,))
        if await (await conn.execute(_HAS_FINAL, (session, reply_to))).fetchone():
            raise _AlreadyFinal
    template = _template(encode)
    try:
        row = await (await conn.execute("SELECT edge_append_frame(%s, %s, %s, %s, %s, %s)",
                                        (session, reply_to, final, template, _SEQ_PLACEHOLDER,
                                         time.time()))).fetchone()
    except psycopg.Error as exc:
        if exc.sqlstate == _ALREADY_FINAL:
            raise _AlreadyFinal from exc
        if exc.sqlstate == _UNKNOWN_SESSION:
            raise SessionGone(session) from exc
        raise
    assert row is not None
    seq = int(row[0])
    return StoredFrame(seq, _numbered(template, seq), reply_to, final)


class _Frames:
    def __init__(self, store: PostgresEdgeStore) -> None:
        self._store = store

    async def append(self, session: str, reply_to: str, final: bool,
                     encode: Callable[[int], bytes], *, unless_answered: bool = False) -> StoredFrame | None:
        try:
            return await self._store.tx(lambda conn: _append(conn, session, reply_to, final, encode, unless_answered))
        except _AlreadyFinal:
            return None

    async def after(self, session: str, seq: int) -> list[StoredFrame]:
        rows = await self._store.all("SELECT seq, frame, reply_to, final FROM edge_frames WHERE session = %s AND "
                                     "seq > %s ORDER BY seq", (session, seq))
        return [StoredFrame(int(s), bytes(f), str(r), bool(final)) for s, f, r, final in rows]

    async def has_final(self, session: str, reply_to: str) -> bool:
        return await self._store.one(_HAS_FINAL, (session, reply_to)) is not None


class _Outbox:
    def __init__(self, store: PostgresEdgeStore) -> None:
        self._store = store

    async def enqueue(self, key: str, session: str, client_id: str, request: bytes) -> None:
        now = time.time()
        await self._store.exec(_ENQUEUE, (key, session, client_id, request, now, now))

    async def claim(self, key: str, lease_s: float) -> OutboxItem | None:
        now = time.time()
        row = await self._store.one(
            "UPDATE edge_outbox SET lease_until = %s, attempts = attempts + 1 WHERE key = (SELECT key FROM edge_outbox "
            "WHERE key = %s AND state = 'pending' AND lease_until < %s FOR UPDATE SKIP LOCKED) "
            "RETURNING key, session, client_id, request, attempts, created_at", (now + lease_s, key, now))
        return OutboxItem(row[0], row[1], row[2], bytes(row[3]), int(row[4]), float(row[5])) if row else None

    async def due(self, limit: int = 16) -> list[str]:
        now = time.time()
        rows = await self._store.all("SELECT key FROM edge_outbox WHERE state = 'pending' AND next_attempt_at <= %s "
                                     "AND lease_until < %s ORDER BY created_at LIMIT %s", (now, now, limit))
        return [str(r[0]) for r in rows]

    async def retry_later(self, key: str, delay_s: float, error: str) -> None:
        await self._store.exec("UPDATE edge_outbox SET next_attempt_at = %s, lease_until = 0, last_error = %s "
                               "WHERE key = %s", (time.time() + delay_s, error[:500], key))

    async def done(self, key: str) -> None:
        await self._store.exec("UPDATE edge_outbox SET state = 'done', lease_until = 0 WHERE key = %s", (key,))

    async def dead(self, key: str, error: str) -> None:
        await self._store.exec("UPDATE edge_outbox SET state = 'dead', lease_until = 0, last_error = %s WHERE key = %s",
                               (error[:500], key))

    async def depth(self) -> int:
        row = await self._store.one("SELECT COUNT(*) FROM edge_outbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    async def dead_count(self) -> int:
        row = await self._store.one("SELECT COUNT(*) FROM edge_outbox WHERE state = 'dead'")
        return int(row[0]) if row else 0

    async def prune(self, done_before: float) -> int:
        return await self._store.exec("DELETE FROM edge_outbox WHERE state = 'done' AND created_at < %s",
                                      (done_before,))

    async def pending_for(self, session: str) -> list[str]:
        rows = await self._store.all("SELECT client_id FROM edge_outbox WHERE session = %s AND state = 'pending'",
                                     (session,))
        return [str(r[0]) for r in rows]
