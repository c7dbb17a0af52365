"""The demo shop's write rules: what each write does to an order, or the ``Problem`` that refuses it.

Pure functions of (order, request, now), so the store can run one inside its transaction and either
commit its ``Change`` with the idempotency record or roll back on a ``Refusal``, with nothing
half-written. The rules are the shop's, not the support policy's: the shop refuses what no shop
would do (cancel a shipped order, refund more than was paid, send again what is out of stock); which
of the allowed writes a case deserves is decided on Triage's side (POLICY.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import msgspec

from triage.connector.contract import Problem, Refund, Replacement, ReturnLabel, Transaction, WriteResult

if TYPE_CHECKING:
    from triage.connector.contract import (
        CancelRequest,
        LineItem,
        Order,
        RefundRequest,
        ReplacementRequest,
        ReturnLabelRequest,
    )

__all__ = [
    "Change", "Refusal", "cancel", "financial_status", "iso", "problem", "refund", "replace", "return_label",
]

_CENT = Decimal("0.01")
LABEL_URL = "https://returns.nordlicht.example/labels/{id}.pdf"


class Refusal(Exception):
    """A write the shop will not do; the store rolls back and the app answers the problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.title)


@dataclass(frozen=True)
class Change:
    """A write's effect: the order as it becomes, the answer, and orders it creates (a replacement)."""

    order: Order
    result: WriteResult
    new_orders: list[Order] = field(default_factory=list)


def problem(status: int, code: str, title: str, detail: str = "") -> Problem:
    """A problem body within the contract's limits (a long exception message is cut, not refused)."""
    return msgspec.convert({"status": status, "code": code, "title": title[:500], "detail": detail[:500]}, Problem)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC to the second: sorts as text, so the store orders by it without parsing."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _paid(order: Order) -> Decimal:
    return sum((Decimal(t.amount) for t in order.transactions
                if t.kind in ("capture", "sale") and t.status == "success"), Decimal(0))


def _refunded(order: Order) -> Decimal:
    return sum((Decimal(r.amount) for r in order.refunds if r.status != "failed"), Decimal(0))


def financial_status(order: Order) -> Literal["paid", "partially_refunded", "refunded", "pending"]:
    """Shopify's financial status from the money itself: a refunded duplicate charge leaves it ``paid``."""
    paid, refunded = _paid(order), _refunded(order)
    if paid == 0:
        return "pending"
    if refunded == 0 or paid - refunded >= Decimal(order.total_price):
        return "paid"
    return "refunded" if refunded >= paid else "partially_refunded"


def _with_refund(order: Order, amount: Decimal, reason: str, transaction_id: str | None,
                 now: str) -> tuple[Order, Refund]:
    refund_id = f"re_{order.id}_{len(order.refunds) + 1}"
    created = Refund(id=refund_id, amount=_money(amount), created_at=now, reason=reason,
                     transaction_id=transaction_id)
    transaction = Transaction(id=f"{refund_id}_tx", kind="refund", status="success", amount=created.amount,
                              created_at=now)
    order = msgspec.structs.replace(order, refunds=[*order.refunds, created],
                                    transactions=[*order.transactions, transaction])
    return msgspec.structs.replace(order, financial_status=financial_status(order)), created


def cancel(order: Order, request: CancelRequest, now: datetime) -> Change:
    """Cancel an order that has not shipped, refunding what is left of its total at once when asked."""
    if order.status != "processing":
        raise Refusal(problem(409, "not_cancellable", f"order {order.id} cannot be cancelled",
                              f"it is {order.status}; only processing orders can be cancelled (offer a return)"))
    stamp = iso(now)
    cancelled = msgspec.structs.replace(order, status="cancelled", cancelled_at=stamp)
    amount = min(Decimal(order.total_price), _paid(order) - _refunded(order))
    created = None
    if request.refund and amount > 0:
        cancelled, created = _with_refund(cancelled, amount, f"cancelled: {request.reason}"[:500], None, stamp)
    return Change(cancelled, WriteResult(order=cancelled, refund=created))


def refund(order: Order, request: RefundRequest, now: datetime) -> Change:
    """Refund part of what was paid, or one payment (a duplicate charge), never more than is left."""
    amount = Decimal(request.amount)
    if amount <= 0:
        raise Refusal(problem(422, "invalid", "a refund amount must be positive", f"got {request.amount}"))
    left = _paid(order) - _refunded(order)
    if request.transaction_id is not None:
        payment = next((t for t in order.transactions if t.id == request.transaction_id
                        and t.kind in ("capture", "sale") and t.status == "success"), None)
        if payment is None:
            raise Refusal(problem(422, "invalid", f"order {order.id} has no payment {request.transaction_id}"))
        already = sum((Decimal(r.amount) for r in order.refunds
                       if r.transaction_id == payment.id and r.status != "failed"), Decimal(0))
        left = min(left, Decimal(payment.amount) - already)
    if amount > left:
        raise Refusal(problem(422, "invalid", f"refund of {request.amount} is more than is left to refund",
                              f"{_money(max(left, Decimal(0)))} {order.currency} is left to refund"))
    changed, created = _with_refund(order, amount, request.reason, request.transaction_id, iso(now))
    return Change(changed, WriteResult(order=changed, refund=created))


def _items(order: Order, skus: list[str]) -> list[LineItem]:
    if not skus or len(set(skus)) != len(skus):
        raise Refusal(problem(422, "invalid", "name each item once", "skus must be a non-empty list of distinct skus"))
    by_sku = {item.sku: item for item in order.line_items}
    unknown = [sku for sku in skus if sku not in by_sku]
    if unknown:
        raise Refusal(problem(422, "invalid", f"order {order.id} has no item {unknown[0]}"))
    return [by_sku[sku] for sku in skus]


def _shipped(order: Order, what: str) -> None:
    if order.status not in ("shipped", "delivered"):
        raise Refusal(problem(409, "conflict", f"order {order.id} is {order.status}: no {what}",
                              f"a {what} is for an order that has shipped or been delivered"))


def replace(order: Order, request: ReplacementRequest, now: datetime) -> Change:
    """Send items again as a new order (total 0.00, nothing charged), if every one of them is in stock."""
    _shipped(order, "replacement")
    items = _items(order, request.skus)
    missing = [item.sku for item in items if not item.in_stock]
    if missing:
        raise Refusal(problem(409, "out_of_stock", f"{missing[0]} is out of stock", "refund the item instead"))
    stamp = iso(now)
    created = Replacement(id=f"{order.id}-R{len(order.replacements) + 1}", created_at=stamp, line_items=items)
    new_order = msgspec.structs.replace(
        order, id=created.id, created_at=stamp, status="processing", financial_status="paid",
        fulfillment_status=None, total_price="0.00", shipping_price="0.00", line_items=items, fulfillments=[],
        transactions=[], refunds=[], replacements=[], return_labels=[], cancelled_at=None)
    changed = msgspec.structs.replace(order, replacements=[*order.replacements, created])
    return Change(changed, WriteResult(order=changed, replacement=created), new_orders=[new_order])


def return_label(order: Order, request: ReturnLabelRequest, now: datetime) -> Change:
    """A prepaid label to send items back, with the carrier that delivered them."""
    _shipped(order, "return label")
    _items(order, request.skus)
    number = len(order.return_labels) + 1
    label_id = f"rl_{order.id}_{number}"
    carrier = order.fulfillments[-1].tracking_company if order.fulfillments else "DHL"
    created = ReturnLabel(id=label_id, carrier=carrier, tracking_number=f"RL{order.id}{number:02d}",
                          url=LABEL_URL.format(id=label_id), created_at=iso(now))
    changed = msgspec.structs.replace(order, return_labels=[*order.return_labels, created])
    return Change(changed, WriteResult(order=changed, return_label=created))
