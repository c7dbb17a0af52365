"""Pick the procedure for a dispute, the step for its facts, and the plan the shop will carry out.

Pure functions of (procedures, message, facts): the runner does the reading and writing. What no
procedure file can change is enforced here, after the step is chosen: a refund above the limit
becomes a proposal for a person with nothing written (POLICY rule 9), a step that hands the
case to a person writes nothing (rule 13), and a claim on an order that an earlier case already
settled writes nothing again (rule 12): each message is an escalation of its own, so a shopper who
repeats "it arrived damaged", or asks after the replacement in the same conversation, would
otherwise get a second replacement, label or refund.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import msgspec

from triage.catalog.procedures import cue_pattern, parse_condition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cloud_core.procedures.facts import CaseFacts, Value
    from triage.catalog.procedures import Condition, Procedure, Procedures, Step
    from triage.connector.contract import LineItem, Order

__all__ = ["CaseState", "Plan", "PlannedWrite", "already_made", "choose_procedure", "choose_step", "holds",
           "plan_for"]

CaseState = Literal["planned", "done", "proposed", "person"]


class PlannedWrite(msgspec.Struct):
    kind: Literal["refund", "replacement", "return_label"]
    amount: str | None = None
    skus: list[str] = []
    transaction_id: str | None = None
    done: bool = False
    created_id: str = ""
    """What the shop created: the refund, the replacement order or the label."""
    label_url: str = ""


class Plan(msgspec.Struct):
    """A case's decision, journalled before the shop is called; a retry carries out the same plan."""

    case_id: str
    procedure: str
    rule: str
    step: int
    lang: str
    order_id: str
    currency: str
    state: CaseState
    reason: str
    writes: list[PlannedWrite]
    checks: list[tuple[str, str]]
    fields: dict[str, str]
    """Reply fields that do not change with the writes (item, carrier, dates as ISO days)."""
    handed_over: Literal["", "shop_refused", "model", "settled"] = ""
    """Why a case the step would have settled went to a person: the shop refused a write, the
    driving model handed it over (or stopped before carrying out the plan), or an earlier case had
    already made the writes this one would repeat."""
    model_calls: list[str] = []
    """The driving model's tool calls and what the engine answered, for the case summary."""


def _matches(cues: dict[str, list[str]], texts: Sequence[str]) -> bool:
    every = [cue for phrases in cues.values() for cue in phrases]
    if not every:
        return False
    pattern = cue_pattern(every)
    return any(pattern.search(t) for t in texts)


def choose_procedure(procedures: Procedures, message: str, earlier: Sequence[str], intent: str) -> Procedure | None:
    """The first procedure (by priority) whose cues the message uses; else one the conversation's cues
    name; else the one for the edge's intent; None when no procedure fits (the model answers)."""
    for texts in ((message,), tuple(earlier)):
        for procedure in procedures.procedures:
            if _matches(procedure.cues, texts):
                return procedure
    return next((p for p in procedures.procedures if intent and intent in p.intents), None)


def holds(condition: Condition, values: dict[str, Value]) -> bool:
    """A comparison with an absent fact is false, whatever the operator."""
    if condition.fact not in values:
        return False
    have, want = values[condition.fact], condition.value
    if condition.op == "==":
        return have == want
    if condition.op == "!=":
        return have != want
    assert isinstance(have, Decimal) and isinstance(want, Decimal), "types are checked at catalog load"
    return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[condition.op]


def _step_holds(step: Step, values: dict[str, Value]) -> bool:
    if not all(holds(parse_condition(c), values) for c in step.when):
        return False
    return not step.when_any or any(holds(parse_condition(c), values) for c in step.when_any)


def choose_step(procedure: Procedure, values: dict[str, Value]) -> tuple[int, Step]:
    """The first step whose conditions hold (the last step has none, so one always does)."""
    for n, step in enumerate(procedure.step):
        if _step_holds(step, values):
            return n, step
    raise AssertionError(f"procedure {procedure.name!r} ends without a default step")


def _used_facts(step: Step) -> list[str]:
    return [parse_condition(c).fact for c in (*step.when, *step.when_any)]


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def plan_for(procedures: Procedures, procedure: Procedure, order: Order | None, facts: CaseFacts | None,
             case_id: str, lang: str) -> Plan:
    values = facts.values if facts is not None else {}
    n, step = choose_step(procedure, values)
    checked = list(dict.fromkeys(f for s in procedure.step[: n + 1] for f in _used_facts(s)))
    checks = [(name, _text(values[name]) if name in values else "n/a") for name in checked]
    writes: list[PlannedWrite] = []
    missing = ""
    if step.writes and (order is None or facts is None):
        missing = "the step writes to an order, but the case has none"
    elif order is not None and facts is not None:
        item_skus = [facts.item.sku] if facts.item is not None else []
        skus = [i.sku for i in order.line_items] if step.items == "all" else item_skus
        for kind in step.writes:
            write = _refund(step, order, facts) if kind == "refund" else PlannedWrite(kind=kind, skus=skus)
            if write is None or (kind != "refund" and not skus):
                missing = f"the step's {kind} needs a fact the case lacks (which item, or a duplicate payment)"
                break
            writes.append(write)
    if missing:  # a procedure that writes without checking what it writes needs: a person, nothing written
        writes = []
    earlier = already_made(order, writes) if order is not None else []
    if earlier:
        writes = []
    limit = Decimal(procedures.common.limits.max_auto_refund)
    over = [w for w in writes if w.kind == "refund" and Decimal(w.amount or "0") > limit]
    state: CaseState = ("person" if step.person or missing or earlier else "proposed" if over else
                        "done" if not writes else "planned")
    reason = f"{step.reason}; {missing}" if missing else step.reason
    if earlier:
        reason += (f"; the order already has {', '.join(earlier)} from an earlier case, so nothing is written "
                   "again and a person answers (rule 12)")
    if over:
        reason += f"; a refund of {over[0].amount} is above {limit}, so a person approves it (rule 9)"
    fields = _fields(order, facts)
    return Plan(case_id=case_id, procedure=procedure.name, rule="9" if over else step.rule, step=n, lang=lang,
                order_id=order.id if order is not None else "", currency=order.currency if order is not None else "",
                state=state, reason=reason, writes=writes, checks=checks, fields=fields,
                handed_over="settled" if earlier else "")


def already_made(order: Order, writes: Sequence[PlannedWrite]) -> list[str]:
    """What the order already has that these writes would give again. The shop's order is the record,
    whoever made them (an earlier case, a person approving a proposal, the shop's own staff):
    - a replacement or money back for the same items is one remedy given twice (a refund names no
      items, so any money back counts for every item; a refund of the order total covers them all);
    - a second return label;
    - not a duplicate payment's refund: the duplicate is found among the payments no refund returns
      yet, so that one cannot repeat, and it is no remedy for an item.
    """
    def covers(items: Sequence[LineItem], skus: Sequence[str]) -> bool:
        return not items or not skus or bool({i.sku for i in items} & set(skus))

    money_back = [f"refund {r.id} of {r.amount}" for r in order.refunds
                  if r.status != "failed" and r.transaction_id is None]
    found: list[str] = []
    for write in writes:
        if write.kind == "return_label":
            found += [f"return label {label.id}" for label in order.return_labels]
        elif write.kind == "replacement" or write.transaction_id is None:
            found += [f"replacement {r.id}" for r in order.replacements if covers(r.line_items, write.skus)]
            found += money_back
    return list(dict.fromkeys(found))


def _refund(step: Step, order: Order, facts: CaseFacts) -> PlannedWrite | None:
    if step.refund == "duplicate_payment":
        if facts.duplicate is None:
            return None
        return PlannedWrite(kind="refund", amount=facts.duplicate.amount, transaction_id=facts.duplicate.id)
    if step.refund == "item.price":
        if facts.item is None:
            return None
        return PlannedWrite(kind="refund", amount=facts.item.price, skus=[facts.item.sku])
    return PlannedWrite(kind="refund", amount=order.total_price)


def _fields(order: Order | None, facts: CaseFacts | None) -> dict[str, str]:
    if order is None:
        return {}
    fields = {"order_id": order.id, "carrier": "", "tracking_number": ""}
    if order.fulfillments:
        f = order.fulfillments[-1]
        fields.update(carrier=f.tracking_company, tracking_number=f.tracking_number)
        if f.estimated_delivery_at:
            fields["eta"] = f.estimated_delivery_at
        if f.delivered_at:
            fields["delivered_on"] = f.delivered_at
    if facts is not None and facts.item is not None:
        fields["item"] = facts.item.title
    if facts is not None and facts.last_refund is not None:
        fields["refunded_on"] = facts.last_refund.created_at
        fields["refund_amount"] = facts.last_refund.amount
    return fields
