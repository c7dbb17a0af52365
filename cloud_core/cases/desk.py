"""The cases people work: opened from flagged escalations, changed by replies, decisions and closing.

Every change is a compare-and-set on the case's state followed by an entry in the tenant's event
log, whose numbers are the cursors a helpdesk resumes its watch from. A person's reply is first
queued as a delivery to the edge that holds the shopper's session (keyed by the reply's request
id, so a retried reply is queued once), then recorded in the case. An approval carries out the
proposal's journalled writes with the keys the procedure would have used, so the money moves once
however often it is approved.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

from cloud_core.cases.changes import Changes
from cloud_core.memory.base import ANONYMOUS
from cloud_core.procedures import case_id_of, case_summary
from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import escalation_pb2 as pb

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from google.protobuf.timestamp_pb2 import Timestamp

    from cloud_core.memory import MemoryStore
    from cloud_core.memory.handoffs import StoredHandoff
    from cloud_core.metrics import CloudMetrics
    from cloud_core.procedures import ProcedureRunner
    from triage.config import AgentCredential, CloudConfig

__all__ = ["CaseConflict", "CaseDesk", "CaseNotFound"]

log = logging.getLogger(__name__)

STATES = {"flagged": cpb.CASE_STATE_FLAGGED, "person": cpb.CASE_STATE_PERSON, "proposed": cpb.CASE_STATE_PROPOSED,
          "approving": cpb.CASE_STATE_PROPOSED, "answered": cpb.CASE_STATE_ANSWERED, "closed": cpb.CASE_STATE_CLOSED}
"""Stored state -> wire state (``approving``: an approval is under way; shown as the proposal it was)."""
MAX_REPLY_CHARS = 4000
NEVER = 1e18
"""The follow-up time of a case with no chat session to follow up in (a real number: SQL compares it)."""
PAGE = 100
"""Events a watch reads per query; a full page is followed by the next one at once."""
NO_REPLY_YET = ("I'm sorry: no one from our team has replied yet. Your case {case_id} is still open, and a member of "
                "our team will answer here as soon as they can; you don't need to write again.")
"""The follow-up of a tenant without procedures (the catalog's ``no_reply_yet`` message otherwise)."""


class CaseNotFound(LookupError):
    """No case with that id for this tenant."""


class CaseConflict(Exception):
    """The case is not in a state that allows this (closed, not a proposal, decided already)."""


def _now(ts: Timestamp) -> None:
    ts.FromNanoseconds(time.time_ns())


class CaseDesk:
    def __init__(self, memory: MemoryStore, config: CloudConfig, procedures: dict[str, ProcedureRunner],
                 metrics: CloudMetrics) -> None:
        self.memory = memory
        self.config = config
        self.procedures = procedures
        self.metrics = metrics
        self.changes = Changes()

    # opening ----------------------------------------------------------------------------------
    async def open_from_escalation(self, request: pb.EscalateRequest, final: pb.Final) -> None:
        """A final answer flagged for a person opens a case once per escalation (retries find it)."""
        if not final.flagged_for_human:
            return
        tenant = request.customer.tenant
        case_id = final.outcome.case_id or case_id_of(request)
        cases = self.memory.cases(tenant)
        if await cases.get(case_id) is not None:
            return
        state = {"proposed": "proposed", "human": "person"}.get(final.outcome.kind, "flagged")
        view = cpb.CaseView(case_id=case_id, state=STATES[state], lang=request.lang or "en",
                            customer_id=request.customer.customer_id,
                            order_id=request.context.order_id or final.outcome.order_id, intent=request.intent,
                            deliverable=bool(request.route.session), escalation_id=final.escalation_id)
        if final.HasField("summary"):
            view.summary.CopyFrom(final.summary)
        if state == "proposed" and final.outcome.HasField("amount"):
            view.proposed.CopyFrom(final.outcome.amount)
        for turn in request.conversation:
            self._say(view, turn.role, turn.text)
        self._say(view, pb.ROLE_SHOPPER, request.message)
        self._say(view, pb.ROLE_ASSISTANT, final.text)
        view.suggested_reply = await self._suggestion(request, final, state)
        _now(view.created_at)
        _now(view.updated_at)
        blob = view.SerializeToString()
        follow_up_at = time.time() + self.config.follow_up_after_s if view.deliverable else NEVER
        # The event first: a replica killed between the two statements leaves an event whose case the
        # edge's retry then opens (a repeated "opened" is harmless; a case no watcher hears of is not).
        await cases.add_event(case_id, "opened", blob)
        if await cases.open(case_id, request.customer.customer_id or ANONYMOUS, request.idempotency_key, state,
                            blob, request.route.SerializeToString(), follow_up_at):
            self.metrics.cases.labels("opened").inc()
        self.changes.notify(tenant)

    async def _suggestion(self, request: pb.EscalateRequest, final: pb.Final, state: str) -> str:
        runner = self.procedures.get(request.customer.tenant)
        if runner is not None and state == "proposed":
            scope = self.memory.customer(request.customer.tenant, request.customer.customer_id or ANONYMOUS)
            plan = await runner.journalled_plan(scope, request.idempotency_key)
            if plan is not None:
                return runner.plan_reply(plan)  # what the shopper is told once a person approves
        if runner is not None and (text := runner.suggestion(request.intent, request.lang)):
            return text
        return request.passages[0].text if request.passages else ""

    @staticmethod
    def _say(view: cpb.CaseView, role: int, text: str, author: str = "") -> None:
        message = view.conversation.add(role=role, text=text, author=author)
        _now(message.at)

    # reading ----------------------------------------------------------------------------------
    async def _stored(self, tenant: str, case_id: str) -> StoredHandoff:
        stored = await self.memory.cases(tenant).get(case_id)
        if stored is None:
            raise CaseNotFound(f"no case {case_id!r} in {tenant!r}")
        return stored

    async def view(self, tenant: str, case_id: str) -> cpb.CaseView:
        view: cpb.CaseView = cpb.CaseView.FromString((await self._stored(tenant, case_id)).view)
        return view

    async def _change(self, tenant: str, case_id: str, kind: str,
                      change: Callable[[StoredHandoff, cpb.CaseView], str]) -> cpb.CaseView:
        """Apply ``change`` (which returns the new state, or raises ``CaseConflict``) as a compare-and-set,
        again on a fresh read while another person's change gets in first."""
        cases = self.memory.cases(tenant)
        for _ in range(8):
            stored = await self._stored(tenant, case_id)
            view: cpb.CaseView = cpb.CaseView.FromString(stored.view)
            state = change(stored, view)
            view.state = STATES[state]
            _now(view.updated_at)
            blob = view.SerializeToString()
            if await cases.update(case_id, stored.state, state, blob):
                await cases.add_event(case_id, kind, blob)
                self.metrics.cases.labels(kind).inc()
                self.changes.notify(tenant)
                return view
        raise CaseConflict(f"case {case_id} keeps changing under this request; reload it and try again")

    # people's actions -------------------------------------------------------------------------
    async def reply(self, agent: AgentCredential, case_id: str, text: str, quick_replies: list[str],
                    request_id: str) -> cpb.CaseView:
        text = text.strip()
        if not text or len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"a reply needs between 1 and {MAX_REPLY_CHARS} characters of text")
        if not request_id:
            raise ValueError("request_id is required (the same id never delivers twice)")
        if len(quick_replies) > 6 or any(not q.strip() or len(q) > 80 for q in quick_replies):
            raise ValueError("at most 6 quick replies of 1 to 80 characters each")
        stored = await self._stored(agent.tenant, case_id)
        if stored.state == "closed":
            raise CaseConflict(f"case {case_id} is closed; a shopper who writes again opens a new one")
        view: cpb.CaseView = cpb.CaseView.FromString(stored.view)
        delivery_id = "d-" + hashlib.sha256(f"{agent.tenant}\x00{case_id}\x00{request_id}".encode()).hexdigest()[:32]
        await self._queue_delivery(agent.tenant, stored, pb.Delivery(
            delivery_id=delivery_id, kind="human", text=text, lang=view.lang, author=agent.display_name,
            quick_replies=[q.strip() for q in quick_replies]))
        if any(m.role == pb.ROLE_AGENT and m.text == text and m.author == agent.display_name
               for m in view.conversation):
            return view  # a retried request: delivered once, recorded once

        def record(current: StoredHandoff, v: cpb.CaseView) -> str:
            if current.state == "closed":
                raise CaseConflict(f"case {case_id} was closed meanwhile")
            self._say(v, pb.ROLE_AGENT, text, agent.display_name)
            v.suggested_reply = ""  # the starting point was used (or set aside); the next reply is the person's
            return "answered" if current.state in ("flagged", "person") else current.state

        return await self._change(agent.tenant, case_id, "replied", record)

    async def decide(self, agent: AgentCredential, case_id: str, approve: bool, note: str) -> cpb.CaseView:
        """Approve (the proposal's writes are made once) or reject a proposal."""
        stored = await self._stored(agent.tenant, case_id)
        runner = self.procedures.get(agent.tenant)
        if stored.state not in ("proposed", "approving") or runner is None:
            raise CaseConflict(f"case {case_id} has no proposal awaiting a decision "
                               f"({cpb.CaseState.Name(STATES[stored.state])})")
        if stored.state == "approving" and not approve:
            raise CaseConflict(f"case {case_id} is being approved already")
        scope = self.memory.customer(agent.tenant, stored.customer)
        who = f"{agent.display_name} ({agent.agent_id})"
        if not approve:
            plan = await runner.reject(scope, stored.idempotency_key, who, note)

            def rejected(current: StoredHandoff, v: cpb.CaseView) -> str:
                if current.state != "proposed":
                    raise CaseConflict(f"case {case_id} was decided meanwhile")
                v.decision = f"rejected by {who}" + (f": {note}" if note else "")
                if plan is not None:
                    v.summary.CopyFrom(case_summary(plan, v.customer_id, v.summary.claim))
                v.suggested_reply = ""
                return "answered"

            return await self._change(agent.tenant, case_id, "rejected", rejected)
        if stored.state == "proposed":  # claim the approval; a crashed one ("approving") is carried on
            await self._change(agent.tenant, case_id, "approving", lambda current, v: _expect(current, "proposed"))
        plan = await runner.approve(scope, stored.idempotency_key, who)  # ShopDown: the case stays "approving"

        def approved(current: StoredHandoff, v: cpb.CaseView) -> str:
            if current.state != "approving":
                raise CaseConflict(f"case {case_id} was decided meanwhile")
            v.decision = (f"approved by {who}" if plan.state == "done"
                          else f"approved by {who}, but it did not go through: {plan.reason}")
            v.summary.CopyFrom(case_summary(plan, v.customer_id, v.summary.claim))
            v.suggested_reply = runner.plan_reply(plan) if plan.state == "done" else ""
            return "answered"

        return await self._change(agent.tenant, case_id, "approved", approved)

    async def close(self, agent: AgentCredential, case_id: str, intent: str, answers: dict[str, str],
                    edge_could_answer: bool, flagged: bool) -> cpb.CaseView:
        def closing(current: StoredHandoff, v: cpb.CaseView) -> str:
            if current.state == "closed":
                raise CaseConflict(f"case {case_id} is closed already")
            if current.state == "approving":
                raise CaseConflict(f"case {case_id} is being approved; approve it again to finish, then close")
            return "closed"

        view = await self._change(agent.tenant, case_id, "closed", closing)
        if view.escalation_id:  # the learning loop hears how it ended
            await self.memory.learning(agent.tenant).resolve(
                view.escalation_id, intent or view.intent, answers, edge_could_answer=edge_could_answer,
                resolved_by=f"agent:{agent.agent_id}", flagged=flagged)
        return view

    # follow-ups -------------------------------------------------------------------------------
    async def _queue_delivery(self, tenant: str, stored: StoredHandoff, delivery: pb.Delivery) -> None:
        """Queue what the shopper of the case's session gets (once per delivery id); nothing for a case
        that did not come from a chat session."""
        route = pb.ReplyRoute.FromString(stored.route)
        if not route.session:
            return
        delivery.tenant, delivery.case_id = tenant, stored.case_id
        delivery.route.CopyFrom(route)
        _now(delivery.created_at)
        if await self.memory.cases(tenant).add_delivery(delivery.delivery_id, route.edge, stored.case_id,
                                                        delivery.SerializeToString()):
            self.metrics.deliveries.labels("queued").inc()

    async def send_follow_ups(self, now: float | None = None) -> int:
        """The honest no-reply-yet message for every case no person answered in time; once per case."""
        now = time.time() if now is None else now
        sent = 0
        for tenant in await self.memory.tenants_with_follow_ups_due(now):
            cases = self.memory.cases(tenant)
            runner = self.procedures.get(tenant)
            for stored in await cases.due_follow_ups(now):
                case_id = stored.case_id
                view = cpb.CaseView.FromString(stored.view)
                text = (runner.message("no_reply_yet", view.lang, {"case_id": case_id}) if runner is not None
                        else NO_REPLY_YET.format(case_id=case_id))
                await self._queue_delivery(tenant, stored, pb.Delivery(
                    delivery_id=f"{case_id}-follow-up", kind="follow_up", text=text, lang=view.lang))
                view.followed_up = True
                self._say(view, pb.ROLE_ASSISTANT, text)
                _now(view.updated_at)
                blob = view.SerializeToString()
                if await cases.mark_followed_up(case_id, blob):
                    await cases.add_event(case_id, "followed_up", blob)
                    self.metrics.cases.labels("followed_up").inc()
                    sent += 1
            self.changes.notify(tenant)
        return sent

    # streams ----------------------------------------------------------------------------------
    async def watch(self, tenant: str, cursor: int) -> AsyncIterator[cpb.CaseEvent]:
        cases = self.memory.cases(tenant)
        if cursor == 0:
            last = await cases.last_cursor()  # read first: a change racing the snapshot comes after it too
            for blob in await cases.open_views():
                yield cpb.CaseEvent(cursor=last, kind="snapshot", case=cpb.CaseView.FromString(blob))
            cursor = last
        while True:
            wake = self.changes.current(tenant)
            events = await cases.events_after(cursor, PAGE)
            for seq, kind, blob in events:
                cursor = seq
                yield cpb.CaseEvent(cursor=seq, kind=kind, case=cpb.CaseView.FromString(blob))
            if len(events) < PAGE:
                await self.changes.wait(wake, self.config.cases_poll_s)

    async def deliveries(self, tenant: str, edge: str) -> AsyncIterator[pb.Delivery]:
        """Every unacknowledged delivery to ``edge``, then new ones; each once per stream."""
        cases = self.memory.cases(tenant)
        await cases.note_edge(edge)
        sent: set[str] = set()
        while True:
            wake = self.changes.current(tenant)
            pending = [pb.Delivery.FromString(blob) for blob in await cases.pending_deliveries(edge)]
            sent &= {d.delivery_id for d in pending}
            for delivery in pending:
                if delivery.delivery_id not in sent:
                    sent.add(delivery.delivery_id)
                    yield delivery
            await self.changes.wait(wake, self.config.cases_poll_s)

    async def forget_at_edges(self, tenant: str, customer: str) -> int:
        """Send every edge node of the tenant a ``forget`` delivery for the customer; returns how many.

        The edges erase what they hold of the customer (sessions, messages, frames, queued escalations)
        when it arrives and acknowledge it after, so an edge that is down erases on its next
        subscription (erasing twice is harmless); an acknowledged erasure is deleted here, since it
        names the customer. Edge names not seen for ``retention_days`` are not sent one.
        """
        cases = self.memory.cases(tenant)
        edges = await cases.edges(seen_since=time.time() - self.config.retention_days * 86400)
        for edge in edges:
            delivery = pb.Delivery(delivery_id=f"forget-{uuid.uuid4().hex}", tenant=tenant, kind="forget",
                                   forget_customer=customer, route=pb.ReplyRoute(edge=edge))
            _now(delivery.created_at)
            await cases.add_delivery(delivery.delivery_id, edge, "", delivery.SerializeToString())
        self.changes.notify(tenant)
        return len(edges)

    async def ack(self, tenant: str, delivery_id: str) -> bool:
        found = await self.memory.cases(tenant).ack_delivery(delivery_id)
        if found:
            self.metrics.deliveries.labels("acknowledged").inc()
        return found


def _expect(current: StoredHandoff, state: str) -> str:
    if current.state != state:
        raise CaseConflict(f"case {current.case_id} was decided meanwhile")
    return "approving"
