"""Run a dispute's procedure: verify the order is the shopper's, decide, journal, write once, answer.

The order of work is what makes it safe to retry at any point:

1. The case's plan is written to the memory store under the escalation's idempotency key
   *before* the shop is called. A retried, replayed or restarted escalation finds it and carries
   out that plan, instead of deciding again over an order its own first attempt already changed.
2. Every shop write carries a key derived from the escalation's (``case-<hash>-<n>-<kind>``); the
   shop answers a key it has seen with what it created then (POLICY rule 12), so a write whose
   answer was lost is never made twice.
3. The answer is rendered from the step's template in the shopper's language with the shop's facts
   (Babel formats dates and money), and the Final carries the outcome and the case summary.

A shop that does not answer raises ``ShopDown``: the escalation fails retryably and the edge's
outbox tries again later with the same key. A shop that refuses a write (out of stock since the
read) hands the case to a person. An order that is not the shopper's gets the same reply as one
that does not exist (rule 1: nothing disclosed).
"""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import msgspec

from cloud_core.memory.base import ANONYMOUS, StoredCase
from cloud_core.procedures.engine import Plan, PlannedWrite, already_made, choose_procedure, plan_for
from cloud_core.procedures.facts import case_facts
from cloud_core.procedures.tools import ToolGate, drive
from protos.triage.v1 import escalation_pb2 as pb
from triage.catalog.procedures import REPLY_FIELDS, cue_pattern
from triage.connector.contract import RefundRequest, ReplacementRequest, ReturnLabelRequest
from triage.connector.errors import ShopNotFound, ShopRefused, ShopUnavailable
from triage.localize import Money, day_of, render
from triage.slots import SlotFinder

if TYPE_CHECKING:
    from cloud_core.llm.openai_compat import OpenAICompatBackend
    from cloud_core.memory import CustomerScope
    from triage.catalog.procedures import Procedure, Procedures
    from triage.connector.client import ShopClient
    from triage.connector.contract import Order

__all__ = ["ProcedureRunner", "ShopDown", "case_id_of", "case_summary", "escalation_digest"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_OUTCOME_KIND = {"refund": "refunded", "replacement": "replacement", "return_label": "return_label"}
_DATES = ("eta", "delivered_on", "refunded_on")


class ShopDown(Exception):
    """The shop did not answer; the escalation is retried later under the same key (plan journalled)."""


def escalation_digest(tenant: str, customer_id: str, idempotency_key: str) -> str:
    """The escalation's identity (tenant, customer, key): the case id and every write key derive from it."""
    return hashlib.sha256(f"{tenant}\x00{customer_id}\x00{idempotency_key}".encode()).hexdigest()


def _digest(request: pb.EscalateRequest) -> str:
    return escalation_digest(request.customer.tenant, request.customer.customer_id, request.idempotency_key)


def case_id_of(request: pb.EscalateRequest) -> str:
    """The case number the shopper is told: the same for every retry of the escalation. 48 bits: with 40,
    a tenant's millionth case had a 40% chance of sharing a number with an earlier one, and the desk
    opens a number once, so that case was never opened for a person."""
    return f"C-{_digest(request)[:12].upper()}"


def _minor(amount: str) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


class ProcedureRunner:
    """One tenant's procedures against that tenant's shop."""

    def __init__(self, procedures: Procedures, shop: ShopClient, languages: list[str], default_language: str,
                 order_id_pattern: str, dispute_intents: frozenset[str] = frozenset(),
                 answers: dict[str, dict[str, str]] | None = None) -> None:
        self.procedures = procedures
        self.answers = answers or {}
        """The catalog's answer per intent and language: a person's starting point for a reply."""
        self.dispute_intents = dispute_intents
        """The catalog's cloud-tier intents: a dispute no procedure fits is answered by the model, then a person."""
        self.shop = shop
        self.languages = languages
        self.default_language = default_language
        self._slots = SlotFinder(order_id_pattern)
        self._money_back = cue_pattern([c for cues in procedures.common.money_back.values() for c in cues])

    async def aclose(self) -> None:
        await self.shop.aclose()

    def select(self, request: pb.EscalateRequest) -> Procedure | None:
        earlier = [t.text for t in request.conversation if t.role == pb.ROLE_SHOPPER]
        return choose_procedure(self.procedures, request.message, earlier, request.intent)

    def _lang(self, lang: str) -> str:
        return lang if lang in self.languages else self.default_language

    def _order_id_of(self, request: pb.EscalateRequest) -> str:
        if request.context.order_id:
            return request.context.order_id
        return self._slots.order_id([*(t.text for t in request.conversation if t.role == pb.ROLE_SHOPPER),
                                     request.message])

    async def answer(self, request: pb.EscalateRequest, scope: CustomerScope, escalation_id: str,
                     procedure: Procedure) -> pb.Final:
        decided = await self._decide(request, scope, procedure)
        if isinstance(decided, pb.Final):
            decided.escalation_id = escalation_id
            return decided
        plan, _ = decided
        return await self._carry_out(request, scope, plan, escalation_id)

    async def answer_with_model(self, request: pb.EscalateRequest, scope: CustomerScope, escalation_id: str,
                                procedure: Procedure, backend: OpenAICompatBackend, max_tokens: int) -> pb.Final:
        """The model walks the case through tool calls, each held to the plan (``tools.ToolGate``)."""
        decided = await self._decide(request, scope, procedure)
        if isinstance(decided, pb.Final):
            decided.escalation_id = escalation_id
            return decided
        plan, order = decided
        if order is None:  # a retry carries out the journalled plan as it stands (or the case has no order)
            return await self._carry_out(request, scope, plan, escalation_id)
        gate = ToolGate(plan, _order_facts(order, plan))
        system = (f"You are the support agent of the shop. Procedure: {procedure.name} ({procedure.policy}). "
                  f"Answer in the shopper's language ({plan.lang}). Read the order with get_order, then make "
                  "exactly the writes the policy allows, or hand the case to a person, then tell the shopper "
                  "in two sentences what you did.")
        result = await drive(backend, gate, system, request.message, max_tokens)
        plan.model_calls = [*result.calls, *(f"refused {r}" for r in gate.refused)][:12]
        if plan.state == "planned" and (gate.handed_over or not {w.kind for w in plan.writes} <= gate.granted):
            plan.state, plan.handed_over = "person", "model"
            plan.reason += (f"; the model handed it over ({gate.handed_over})" if gate.handed_over
                            else "; the model stopped before carrying out the plan")
        await scope.update_case(request.idempotency_key, plan.state, msgspec.json.encode(plan))
        final = await self._carry_out(request, scope, plan, escalation_id, text=result.text)
        final.model_id = backend.model_id
        final.usage.input_tokens, final.usage.output_tokens = result.usage
        return final

    async def _decide(self, request: pb.EscalateRequest, scope: CustomerScope,
                      procedure: Procedure) -> tuple[Plan, Order | None] | pb.Final:
        """The case's journalled plan (decided now, or by an earlier attempt), or the reply that ends it."""
        lang = self._lang(request.lang)
        case_id = case_id_of(request)
        earlier = await self.journalled_plan(scope, request.idempotency_key)
        if earlier is not None:  # a retry: carry out the plan decided the first time
            return earlier, None
        order: Order | None = None
        if procedure.needs_order or self._order_id_of(request):
            found = await self._order(request, lang)
            if isinstance(found, pb.Final):
                if procedure.needs_order:
                    return found
            else:
                order = found
        text = "\n".join([request.message, *(t.text for t in request.conversation if t.role == pb.ROLE_SHOPPER)])
        facts = case_facts(order, text, self._money_back) if order is not None else None
        plan = plan_for(self.procedures, procedure, order, facts, case_id, lang)
        journalled = await scope.open_case(request.idempotency_key, StoredCase(
            case_id=case_id, order_id=plan.order_id, procedure=plan.procedure, state=plan.state,
            plan=msgspec.json.encode(plan)))
        return msgspec.json.decode(journalled.plan, type=Plan), order  # another replica may have decided first

    async def _order(self, request: pb.EscalateRequest, lang: str) -> Order | pb.Final:
        """The order the shopper may act on (rule 1), or the reply that discloses nothing."""
        order_id = self._order_id_of(request)
        anonymous = not request.customer.customer_id
        if not order_id or (anonymous and request.context.identity != pb.IDENTITY_ORDER_EMAIL):
            return self._message("ask_order_id", lang, {}, "info", "")
        try:
            order = await self.shop.order(order_id)
        except ShopNotFound:
            return self._message("not_verified", lang, {}, "info", "")
        except ShopUnavailable as exc:
            raise ShopDown(str(exc)) from exc
        if not anonymous and order.customer.id != request.customer.customer_id:
            return self._message("not_verified", lang, {}, "info", "")
        return order

    def _message(self, key: str, lang: str, fields: dict[str, object], kind: str, order_id: str) -> pb.Final:
        template = self.procedures.common.messages[key][lang]
        final = pb.Final(text=render(template, lang, fields), finish_reason=pb.FINISH_REASON_STOP,
                         model_id="procedure:engine")
        final.outcome.kind = kind
        final.outcome.order_id = order_id
        return final

    async def _carry_out(self, request: pb.EscalateRequest, scope: CustomerScope, plan: Plan,
                         escalation_id: str, text: str = "") -> pb.Final:
        await self._make_writes(_digest(request), scope, request.idempotency_key, plan)
        return self._final(request, plan, escalation_id, text)

    async def _make_writes(self, digest: str, scope: CustomerScope, idempotency_key: str, plan: Plan) -> None:
        """Carry out a ``planned`` plan's writes not yet done, journalling each; ``done`` or ``person`` after."""
        if plan.state != "planned":
            return
        try:
            for n, write in enumerate(plan.writes):
                if not write.done:
                    await self._write(digest, plan, n, write)
                    await scope.update_case(idempotency_key, "planned", msgspec.json.encode(plan))
            plan.state = "done"
        except ShopRefused as exc:
            log.warning("case %s: the shop refused a write: %s", plan.case_id, exc)
            plan.state, plan.handed_over = "person", "shop_refused"
            plan.reason += (f"; the shop refused a write ({exc.problem.code}: {exc.problem.title}), a person "
                            "takes over")
        except (ShopNotFound, ShopUnavailable, _Unanswered) as exc:
            # Asking again gets the same answer (a retryable failure left as ShopDown): a person takes
            # over now, with what was made so far, instead of an hour of retries and a dead letter.
            log.warning("case %s: a write failed for good: %s", plan.case_id, exc)
            plan.state, plan.handed_over = "person", "shop_refused"
            plan.reason += (f"; a write failed and asking again would not help ({exc}); the shop may have made it "
                            f"all the same (an answer it could not give or that broke the contract): check order "
                            f"{plan.order_id} in the shop before writing by hand. A person takes over")
        await scope.update_case(idempotency_key, plan.state, msgspec.json.encode(plan))

    async def approve(self, scope: CustomerScope, idempotency_key: str, agent: str) -> Plan:
        """Carry out a proposal a person approved: its journalled writes, with the keys the engine would
        have used, so an approval retried or made twice writes once. Raises ``ShopDown``; a case that is
        not a proposal (any more) is returned as it stands."""
        plan = await self.journalled_plan(scope, idempotency_key)
        if plan is None:
            raise LookupError("the case has no journalled plan")
        if plan.state == "proposed":
            # Days may have passed since the proposal: the same claim sent again made a proposal of its own,
            # and approving both paid twice. The order is read again; nothing of this plan is written yet.
            earlier = await self._made_meanwhile(plan)
            if earlier:
                plan.state, plan.handed_over = "person", "settled"
                plan.reason += (f"; approved by {agent}, but the order already has {', '.join(earlier)}, so nothing "
                                "is written again (rule 12)")
            else:
                plan.state = "planned"
                plan.reason += f"; approved by {agent}"
            await scope.update_case(idempotency_key, plan.state, msgspec.json.encode(plan))
        key = scope.key
        await self._make_writes(escalation_digest(key.tenant, _customer_id(key.customer), idempotency_key), scope,
                                idempotency_key, plan)
        return plan

    async def _made_meanwhile(self, plan: Plan) -> list[str]:
        try:
            order = await self.shop.order(plan.order_id)
        except ShopUnavailable as exc:
            raise ShopDown(str(exc)) from exc
        except ShopNotFound:
            return [f"no order {plan.order_id} in the shop any more"]
        return already_made(order, plan.writes)

    async def reject(self, scope: CustomerScope, idempotency_key: str, agent: str, note: str) -> Plan | None:
        """A person turned a proposal down: nothing is written, ever (the plan leaves ``proposed``)."""
        plan = await self.journalled_plan(scope, idempotency_key)
        if plan is None:
            return None
        if plan.state == "proposed":
            plan.state = "person"
            plan.reason += f"; rejected by {agent}" + (f": {note}" if note else "")
            await scope.update_case(idempotency_key, plan.state, msgspec.json.encode(plan))
        return plan

    @staticmethod
    async def journalled_plan(scope: CustomerScope, idempotency_key: str) -> Plan | None:
        stored = await scope.case(idempotency_key)
        return msgspec.json.decode(stored.plan, type=Plan) if stored is not None else None

    def plan_reply(self, plan: Plan) -> str:
        """The step's own reply for the plan as it stands (after an approval: what was refunded)."""
        procedure = self.procedures.get(plan.procedure)
        return render(procedure.step[plan.step].reply[plan.lang], plan.lang, self._reply_fields(plan))

    def suggestion(self, intent: str, lang: str) -> str:
        """The catalog's answer for the intent in the shopper's language, as a reply's starting point."""
        answers = self.answers.get(intent, {})
        return answers.get(self._lang(lang)) or answers.get(self.default_language, "")

    def message(self, key: str, lang: str, fields: dict[str, object]) -> str:
        return render(self.procedures.common.messages[key][self._lang(lang)], self._lang(lang), fields)

    async def _write(self, digest: str, plan: Plan, n: int, write: PlannedWrite) -> None:
        key = f"case-{digest[:32]}-{n}-{write.kind}"
        reason = f"{plan.procedure} (policy rule {plan.rule}), case {plan.case_id}"
        try:
            if write.kind == "refund":
                assert write.amount is not None
                done = await self.shop.refund(plan.order_id, key, RefundRequest(
                    amount=write.amount, reason=reason, transaction_id=write.transaction_id))
                write.created_id = _made(done.refund, "refund").id
            elif write.kind == "replacement":
                done = await self.shop.replacement(plan.order_id, key, ReplacementRequest(skus=write.skus,
                                                                                          reason=reason))
                write.created_id = _made(done.replacement, "replacement").id
            else:
                done = await self.shop.return_label(plan.order_id, key, ReturnLabelRequest(skus=write.skus,
                                                                                           reason=reason))
                label = _made(done.return_label, "return label")
                write.created_id, write.label_url = label.id, label.url
        except ShopUnavailable as exc:
            if exc.retryable:
                raise ShopDown(str(exc)) from exc
            raise
        write.done = True

    def _reply_fields(self, plan: Plan) -> dict[str, object]:
        fields: dict[str, object] = dict.fromkeys((f.split(":")[0] for f in REPLY_FIELDS), "")
        fields.update({k: v for k, v in plan.fields.items() if k in fields})
        for name in _DATES:
            if plan.fields.get(name):
                fields[name] = day_of(plan.fields[name])
        fields["case_id"] = plan.case_id
        refund = next((w for w in plan.writes if w.kind == "refund"), None)
        amount = refund.amount if refund is not None else plan.fields.get("refund_amount")
        if amount:
            fields["amount"] = Money(amount, plan.currency)
        for w in plan.writes:
            if w.kind == "replacement":
                fields["replacement_id"] = w.created_id
            if w.kind == "return_label":
                fields["label_url"] = w.label_url
        return fields

    def _final(self, request: pb.EscalateRequest, plan: Plan, escalation_id: str, text: str = "") -> pb.Final:
        fields = self._reply_fields(plan)
        procedure = self.procedures.get(plan.procedure)
        messages = self.procedures.common.messages
        if plan.state == "proposed":
            template = messages["proposed"][plan.lang]
        elif plan.handed_over:
            template = messages["shop_unavailable" if plan.handed_over == "shop_refused" else "handed_over"][plan.lang]
        else:
            template = procedure.step[plan.step].reply[plan.lang]
        final = pb.Final(text=text or render(template, plan.lang, fields), finish_reason=pb.FINISH_REASON_STOP,
                         model_id=f"procedure:{plan.procedure}", escalation_id=escalation_id,
                         flagged_for_human=plan.state in ("person", "proposed"), personal=True)
        kind = {"person": "human", "proposed": "proposed"}.get(plan.state) or next(
            (_OUTCOME_KIND[w.kind] for w in plan.writes), "info")
        final.outcome.MergeFrom(pb.Outcome(kind=kind, order_id=plan.order_id, procedure=plan.procedure,
                                           rule=plan.rule, case_id=plan.case_id))
        money = next((w.amount for w in plan.writes if w.kind == "refund" and w.amount), None)
        if money is not None:
            final.outcome.amount.MergeFrom(pb.Money(currency=plan.currency, amount_minor=_minor(money)))
        final.summary.MergeFrom(case_summary(plan, request.customer.customer_id, request.message))
        return final


class _Unanswered(Exception):
    """A write the shop took (2xx) without the object it made: its replay would answer the same."""


def _made(created: T | None, what: str) -> T:
    if created is None:
        raise _Unanswered(f"the shop answered the {what} write without the {what} it made (docs/connector.yaml)")
    return created


def _customer_id(scope_customer: str) -> str:
    """The shop's customer id of a memory scope (anonymous shoppers' cases live under a placeholder)."""
    return "" if scope_customer == ANONYMOUS else scope_customer


def case_summary(plan: Plan, customer_id: str, claim: str) -> pb.CaseSummary:
    """What a person needs to take the case over, from its plan as it stands."""
    outcome = {"done": "executed", "planned": "executing", "proposed": "proposed: awaiting a person's approval",
               "person": "handed to a person"}[plan.state]
    writes = [f"{w.kind} {w.amount + ' ' + plan.currency if w.amount else ', '.join(w.skus)}"
              + (f" ({w.created_id})" if w.created_id else " (not written)") for w in plan.writes]
    summary = pb.CaseSummary(case_id=plan.case_id, customer_id=customer_id,
                             order_id=plan.order_id, claim=claim, lang=plan.lang,
                             procedure=plan.procedure, rule=plan.rule, outcome=f"{outcome}: {plan.reason}")
    summary.checks.extend(pb.Check(name=name, value=value) for name, value in plan.checks)
    summary.writes.extend(writes)
    lines = [f"Case {plan.case_id} ({plan.procedure}, policy rule {plan.rule})",
             f"Customer: {customer_id or 'anonymous (order verified by e-mail at the edge)'}",
             f"Order: {plan.order_id or '-'}", f"Claim ({plan.lang}): {claim}",
             "Checked: " + (", ".join(f"{n}={v}" for n, v in plan.checks) or "nothing"),
             f"Outcome: {outcome}: {plan.reason}"]
    if writes:
        lines.append("Shop writes: " + "; ".join(writes))
    if plan.model_calls:
        lines.append("Model tool calls: " + "; ".join(plan.model_calls))
    summary.text = "\n".join(lines)
    return summary


def _order_facts(order: Order, plan: Plan) -> dict[str, str]:
    """What ``get_order`` tells the model: the order as support sees it, and the values the engine checked."""
    facts = {"order_id": order.id, "status": order.status, "total": f"{order.total_price} {order.currency}",
             "items": "; ".join(f"{i.quantity} x {i.title} ({i.sku}) {i.price} {order.currency}"
                                f"{'' if i.in_stock else ', out of stock'}" for i in order.line_items),
             "payments": "; ".join(f"{t.amount} on {t.created_at[:10]}" for t in order.transactions
                                   if t.kind in ("capture", "sale") and t.status == "success"),
             "refunds": "; ".join(f"{r.amount} on {r.created_at[:10]}" for r in order.refunds) or "none"}
    if order.fulfillments:
        f = order.fulfillments[-1]
        facts.update(carrier=f.tracking_company, tracking_number=f.tracking_number, carrier_status=f.shipment_status)
        if f.delivered_at:
            facts["delivered_on"] = f.delivered_at[:10]
        if f.estimated_delivery_at:
            facts["expected_on"] = f.estimated_delivery_at[:10]
    facts.update({f"checked {name}": value for name, value in plan.checks})
    return facts
