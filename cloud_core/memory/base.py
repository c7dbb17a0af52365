"""The memory store interface: everything is reached through one customer's scope.

A store hands out a ``CustomerScope`` for a (tenant, customer) pair and has no method that takes
a customer id per call, so no query path can return another customer's rows: every statement in
``_queries`` binds both ids from the scope (a test checks each statement's WHERE clause).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from cloud_core.memory import _queries as q
from cloud_core.memory.handoffs import TenantCases

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ANONYMOUS", "CustomerKey", "CustomerScope", "Executor", "Fact", "ForgetCounts", "MemoryStore",
           "ScopedStore", "StoredCase", "StoredResolution", "StoredTurn", "TenantLearning"]


ANONYMOUS = "(anonymous)"
"""Customer id under which anonymous shoppers' replies and cases are kept (never memory)."""


class CustomerKey(msgspec.Struct, frozen=True):
    tenant: str
    customer: str

    def __post_init__(self) -> None:
        if not self.tenant or not self.customer:
            raise ValueError("memory needs both a tenant and a customer id; anonymous shoppers have no memory")


class StoredTurn(msgspec.Struct, frozen=True):
    role: str
    text: str
    escalation_id: str
    created_at: float


class Fact(msgspec.Struct, frozen=True):
    key: str
    value: str
    source: str
    recorded_at: float


class StoredCase(msgspec.Struct, frozen=True):
    case_id: str
    order_id: str
    procedure: str
    state: str
    """``planned`` (writes may be under way), ``done``, ``proposed`` (awaiting a person's approval) or ``person``."""
    plan: bytes
    """The engine's plan as JSON (``cloud_core.procedures.plan.Plan``)."""


class ForgetCounts(msgspec.Struct, frozen=True):
    turns: int
    facts: int
    summaries: int
    replies: int
    cases: int = 0
    """Escalations, dispute cases and hand-offs (with their event logs and deliveries)."""


class Executor(Protocol):
    """The two primitives a backend provides; SQL uses ``?`` placeholders, backends translate."""

    async def execute(self, sql: str, params: Sequence[Any]) -> int: ...

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...


class CustomerScope:
    """All reads and writes of one customer's memory."""

    def __init__(self, db: Executor, key: CustomerKey) -> None:
        self._db = db
        self.key = key

    @property
    def _ids(self) -> tuple[str, str]:
        return (self.key.tenant, self.key.customer)

    async def add_turn(self, role: str, text: str, escalation_id: str = "", at: float | None = None) -> None:
        await self._db.execute(q.INSERT_TURN, (*self._ids, role, text, escalation_id, at or time.time()))

    async def turns(self, limit: int = 20) -> list[StoredTurn]:
        """The most recent ``limit`` turns, oldest first (prompt order)."""
        rows = await self._db.fetch(q.RECENT_TURNS, (*self._ids, limit))
        return [StoredTurn(*row) for row in reversed(rows)]

    async def put_fact(self, key: str, value: str, source: str, at: float | None = None) -> None:
        """Record a fact; a newer value for the same key replaces the old one and its provenance."""
        now = at or time.time()
        await self._db.execute(q.UPSERT_FACT, (*self._ids, key, value, source, now))

    async def facts(self) -> list[Fact]:
        return [Fact(*row) for row in await self._db.fetch(q.SELECT_FACTS, self._ids)]

    async def summary(self) -> str:
        rows = await self._db.fetch(q.SELECT_SUMMARY, self._ids)
        return str(rows[0][0]) if rows else ""

    async def set_summary(self, text: str) -> None:
        await self._db.execute(q.UPSERT_SUMMARY, (*self._ids, text, time.time()))

    async def reply(self, idempotency_key: str) -> bytes | None:
        """The stored final answer for an idempotency key, if this customer already got one."""
        rows = await self._db.fetch(q.SELECT_REPLY, (*self._ids, idempotency_key))
        return bytes(rows[0][0]) if rows else None

    async def save_reply(self, idempotency_key: str, payload: bytes) -> bool:
        """Store the final answer once; False when another replica stored one first."""
        return await self._db.execute(q.INSERT_REPLY, (*self._ids, idempotency_key, payload, time.time())) == 1

    async def export(self) -> dict[str, Any]:
        """Every stored row of this customer, for a data-subject access request."""
        from protos.triage.v1 import escalation_pb2 as pb

        turns = await self._db.fetch(q.ALL_TURNS, self._ids)
        escalations = await self._db.fetch(q.EXPORT_ESCALATIONS, self._ids)
        cases = await self._db.fetch(q.EXPORT_CASES, self._ids)
        handoffs = await self._db.fetch(q.EXPORT_HANDOFFS, self._ids)
        replies = await self._db.fetch(q.EXPORT_REPLIES, self._ids)
        deliveries = [pb.Delivery.FromString(bytes(row[0])) for row in await self._db.fetch(q.EXPORT_DELIVERIES,
                                                                                              self._ids)]
        return {
            "tenant": self.key.tenant,
            "customer": self.key.customer,
            "turns": [msgspec.to_builtins(StoredTurn(*row)) for row in turns],
            "facts": [msgspec.to_builtins(f) for f in await self.facts()],
            "summary": await self.summary(),
            "escalations": [{"id": r[0], "message": r[1], "lang": r[2], "intent": r[3], "answer": r[4],
                             "created_at": r[5]} for r in escalations],
            "cases": [{"case_id": r[0], "order_id": r[1], "procedure": r[2], "state": r[3], "created_at": r[4],
                       "updated_at": r[5]} for r in cases],
            "handoffs": [{"case_id": r[0], "state": r[1], "created_at": r[2]} for r in handoffs],
            "answers": [{"idempotency_key": r[0], "text": pb.Final.FromString(bytes(r[1])).text, "created_at": r[2]}
                        for r in replies],
            "messages_from_people": [{"case_id": d.case_id, "kind": d.kind, "author": d.author, "text": d.text,
                                      "lang": d.lang, "created_at": d.created_at.seconds} for d in deliveries],
        }

    async def record_escalation(self, escalation_id: str, message: str, lang: str, intent: str, answer: str,
                                *, guarded: bool, personal: bool) -> None:
        """Keep what was escalated and answered, so a resolution can later teach the edge."""
        await self._db.execute(q.INSERT_ESCALATION, (escalation_id, *self._ids, message, lang, intent, answer,
                                                     int(guarded), int(personal), time.time()))

    async def open_case(self, idempotency_key: str, case: StoredCase) -> StoredCase:
        """Record a case's plan once per escalation key; a retry gets the case recorded first."""
        now = time.time()
        await self._db.execute(q.INSERT_CASE, (*self._ids, idempotency_key, case.case_id, case.order_id,
                                               case.procedure, case.state, case.plan.decode(), now, now))
        found = await self.case(idempotency_key)
        assert found is not None, "a case just inserted (or inserted before) is found"
        return found

    async def case(self, idempotency_key: str) -> StoredCase | None:
        rows = await self._db.fetch(q.SELECT_CASE, (*self._ids, idempotency_key))
        if not rows:
            return None
        r = rows[0]
        return StoredCase(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]).encode())

    async def update_case(self, idempotency_key: str, state: str, plan: bytes) -> None:
        await self._db.execute(q.UPDATE_CASE, (state, plan.decode(), time.time(), *self._ids, idempotency_key))

    async def forget(self) -> ForgetCounts:
        counts = ForgetCounts(
            turns=await self._db.execute(q.DELETE_TURNS, self._ids),
            facts=await self._db.execute(q.DELETE_FACTS, self._ids),
            summaries=await self._db.execute(q.DELETE_SUMMARY, self._ids),
            replies=await self._db.execute(q.DELETE_REPLIES, self._ids),
            cases=sum([await self._db.execute(q.DELETE_RESOLUTIONS, self._ids),  # before their escalations
                       await self._db.execute(q.DELETE_ESCALATIONS, self._ids),
                       await self._db.execute(q.DELETE_CASES, self._ids),
                       await self._db.execute(q.DELETE_CASE_EVENTS, self._ids),  # before their hand-offs
                       await self._db.execute(q.DELETE_CASE_DELIVERIES, self._ids),
                       await self._db.execute(q.DELETE_HANDOFFS, self._ids)]),
        )
        return counts


class StoredResolution(msgspec.Struct, frozen=True):
    escalation_id: str
    message: str
    lang: str
    intent: str
    answers: dict[str, str]
    edge_could_answer: bool
    resolved_by: str
    flagged: bool
    guarded: bool
    resolved_at: float


class TenantLearning:
    """Resolutions of one tenant's escalations: written by agents and services, read by distillation."""

    def __init__(self, db: Executor, tenant: str) -> None:
        if not tenant:
            raise ValueError("resolutions need a tenant")
        self._db = db
        self.tenant = tenant

    async def resolve(self, escalation_id: str, intent: str, answers: dict[str, str], *, edge_could_answer: bool,
                      resolved_by: str, flagged: bool) -> bool:
        """False when this tenant has no such escalation."""
        written = await self._db.execute(q.UPSERT_RESOLUTION, (
            intent, msgspec.json.encode(answers).decode(), int(edge_could_answer), resolved_by, int(flagged),
            time.time(), self.tenant, escalation_id))
        return written >= 1

    async def escalations(self, unresolved_only: bool = True) -> list[tuple[Any, ...]]:
        """(id, message, lang, intent, answer, guarded, personal, created_at), oldest first."""
        return await self._db.fetch(q.SELECT_ESCALATIONS, (self.tenant, int(unresolved_only)))

    async def case_counts(self) -> dict[str, int]:
        """Cases per state (``triage report``)."""
        return {str(state): int(n) for state, n in await self._db.fetch(q.SELECT_CASE_COUNTS, (self.tenant,))}

    async def resolutions(self, since: float = 0.0) -> list[StoredResolution]:
        rows = await self._db.fetch(q.SELECT_RESOLUTIONS, (self.tenant, since))
        return [StoredResolution(r[0], r[1], r[2], r[3], msgspec.json.decode(r[4], type=dict[str, str]), bool(r[5]),
                                 r[6], bool(r[7]), bool(r[8]), float(r[9])) for r in rows]


class ScopedStore:
    """What both backends share once they can ``execute`` and ``fetch``: the scoped entry points."""

    locked_case_events = False
    """PostgreSQL numbers case events under a per-tenant lock (see ``_queries.INSERT_CASE_EVENT_LOCKED``)."""

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def customer(self, tenant: str, customer: str) -> CustomerScope:
        return CustomerScope(self, CustomerKey(tenant, customer))

    def learning(self, tenant: str) -> TenantLearning:
        return TenantLearning(self, tenant)

    def cases(self, tenant: str) -> TenantCases:
        return TenantCases(self, tenant, self.locked_case_events)

    async def tenants_with_follow_ups_due(self, now: float) -> list[str]:
        return [str(r[0]) for r in await self.fetch(q.FOLLOW_UP_TENANTS, (now,))]

    async def purge_older_than(self, cutoff: float) -> int:
        """Retention: delete every customer's rows older than ``cutoff`` (turns, answers, escalations and
        their resolutions, cases, hand-offs, their events and deliveries); returns rows deleted."""
        deleted = 0
        for statement in q.PURGE_ALL:
            deleted += await self.execute(statement, (cutoff,))
        return deleted


class MemoryStore(Protocol):
    """What the cloud core needs from a backend (SQLite or PostgreSQL)."""

    url: str

    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    async def close(self) -> None: ...

    def customer(self, tenant: str, customer: str) -> CustomerScope: ...

    def learning(self, tenant: str) -> TenantLearning: ...

    def cases(self, tenant: str) -> TenantCases: ...

    async def tenants_with_follow_ups_due(self, now: float) -> list[str]: ...

    async def schema_version(self) -> int: ...

    async def purge_older_than(self, cutoff: float) -> int:
        """Retention: delete every customer's rows older than ``cutoff``; returns rows deleted."""
