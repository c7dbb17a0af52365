"""One tenant's hand-offs in the memory store: the cases people work, their event log, and deliveries.

Tenant-wide by design, like the learning loop: an agent works every case of their shop. Views,
routes and deliveries are stored as the protobuf bytes of the wire contract (``triage.v1``), so
what a helpdesk reads back is exactly what was written, and the schema does not chase the proto.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from cloud_core.memory import _queries as q

if TYPE_CHECKING:
    from cloud_core.memory.base import Executor

__all__ = ["StoredHandoff", "TenantCases"]


class StoredHandoff(NamedTuple):
    case_id: str
    customer: str
    idempotency_key: str
    state: str
    """``flagged``, ``person``, ``proposed``, ``answered`` or ``closed``."""
    view: bytes
    """``triage.v1.CaseView``."""
    route: bytes
    """``triage.v1.ReplyRoute`` (empty: the case did not come from a chat session)."""
    followed_up: bool


def _handoff(r: tuple[Any, ...]) -> StoredHandoff:
    return StoredHandoff(str(r[0]), str(r[1]), str(r[2]), str(r[3]), bytes(r[4]), bytes(r[5]), bool(r[6]))


class TenantCases:
    def __init__(self, db: Executor, tenant: str, locked_events: bool = False) -> None:
        if not tenant:
            raise ValueError("cases need a tenant")
        self._db = db
        self.tenant = tenant
        self._insert_event = q.INSERT_CASE_EVENT_LOCKED if locked_events else q.INSERT_CASE_EVENT
        self._lock_param = (tenant,) if locked_events else ()

    async def open(self, case_id: str, customer: str, idempotency_key: str, state: str, view: bytes, route: bytes,
                   follow_up_at: float) -> bool:
        """Record a hand-off once; False when the case was opened before (a retried escalation)."""
        now = time.time()
        return await self._db.execute(q.INSERT_HANDOFF, (self.tenant, case_id, customer, idempotency_key, state, view,
                                                         route, follow_up_at, now, now)) == 1

    async def get(self, case_id: str) -> StoredHandoff | None:
        rows = await self._db.fetch(q.SELECT_HANDOFF, (self.tenant, case_id))
        return _handoff(rows[0]) if rows else None

    async def update(self, case_id: str, expected_state: str, state: str, view: bytes) -> bool:
        """Compare and set: False when the case is no longer in ``expected_state`` (someone else acted)."""
        return await self._db.execute(q.UPDATE_HANDOFF, (state, view, time.time(), self.tenant, case_id,
                                                         expected_state)) == 1

    async def mark_followed_up(self, case_id: str, view: bytes) -> bool:
        return await self._db.execute(q.MARK_FOLLOWED_UP, (view, time.time(), self.tenant, case_id)) == 1

    async def open_views(self) -> list[bytes]:
        return [bytes(r[0]) for r in await self._db.fetch(q.SELECT_OPEN_HANDOFFS, (self.tenant,))]

    async def due_follow_ups(self, now: float) -> list[StoredHandoff]:
        """Chat cases still waiting for a person (flagged, handed over, proposed) whose follow-up is due."""
        return [_handoff(r) for r in await self._db.fetch(q.SELECT_DUE_FOLLOW_UPS, (self.tenant, now))]

    async def add_event(self, case_id: str, kind: str, view: bytes) -> int:
        """Append to the tenant's event log; the number is the watchers' cursor."""
        rows = await self._db.fetch(self._insert_event, (*self._lock_param, self.tenant, case_id, kind, view,
                                                         time.time()))
        return int(rows[0][0])

    async def events_after(self, cursor: int, limit: int = 100) -> list[tuple[int, str, bytes]]:
        rows = await self._db.fetch(q.SELECT_CASE_EVENTS, (self.tenant, cursor, limit))
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    async def last_cursor(self) -> int:
        rows = await self._db.fetch(q.SELECT_LAST_CASE_EVENT, (self.tenant,))
        return int(rows[0][0])

    async def add_delivery(self, delivery_id: str, edge: str, case_id: str, payload: bytes) -> bool:
        """Queue a delivery once per id; False when it was queued before (a retried reply)."""
        return await self._db.execute(q.INSERT_DELIVERY, (delivery_id, self.tenant, edge, case_id, payload,
                                                          time.time())) == 1

    async def note_edge(self, edge: str) -> None:
        """Remember an edge node that takes this tenant's deliveries: a customer's erasure goes to each."""
        await self._db.execute(q.UPSERT_DELIVERY_EDGE, (self.tenant, edge, time.time()))

    async def edges(self, seen_since: float) -> list[str]:
        """Edge nodes that subscribed since ``seen_since`` (a name not seen for that long is no edge any more)."""
        return [str(r[0]) for r in await self._db.fetch(q.SELECT_DELIVERY_EDGES, (self.tenant, seen_since))]

    async def pending_deliveries(self, edge: str, limit: int = 100) -> list[bytes]:
        return [bytes(r[0]) for r in await self._db.fetch(q.SELECT_PENDING_DELIVERIES, (self.tenant, edge, limit))]

    async def ack_delivery(self, delivery_id: str) -> bool:
        """True when the delivery exists (acknowledged now or before)."""
        await self._db.execute(q.ACK_DELIVERY, (time.time(), self.tenant, delivery_id))
        found = bool(await self._db.fetch(q.SELECT_DELIVERY, (self.tenant, delivery_id)))
        await self._db.execute(q.DELETE_ACKED_ERASURE, (self.tenant, delivery_id))
        return found
