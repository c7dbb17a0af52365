"""The facts a procedure's conditions read, computed from the shop's order and the shopper's words.

Days are whole calendar days in UTC, the way the shop's policy counts them ("delivered at most 30
days ago"). A fact that does not apply to the order (days since delivery of a parcel still on its
way) is absent, and any comparison with an absent fact is false, so a step never fires on a guess.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from triage.localize import day_of

if TYPE_CHECKING:
    import re

    from triage.connector.contract import LineItem, Order, Refund, Transaction

__all__ = ["CaseFacts", "case_facts"]

Value = bool | Decimal | str


class CaseFacts(msgspec.Struct, frozen=True):
    values: dict[str, Value]
    """Fact name -> value, for the facts that apply (``triage.catalog.procedures.FACTS``)."""
    item: LineItem | None = None
    """The item the shopper means, where it is known."""
    duplicate: Transaction | None = None
    """The second of two same-amount, same-day payments, not yet refunded."""
    last_refund: Refund | None = None


def _captured(order: Order) -> list[Transaction]:
    return [t for t in order.transactions if t.kind in ("capture", "sale") and t.status == "success"]


def _duplicate(order: Order) -> Transaction | None:
    refunded = {r.transaction_id for r in order.refunds if r.transaction_id and r.status != "failed"}
    seen: dict[tuple[str, dt.date], Transaction] = {}
    for t in sorted(_captured(order), key=lambda t: t.created_at):
        key = (t.amount, day_of(t.created_at))
        if key in seen and t.id not in refunded and seen[key].id not in refunded:
            return t
        seen.setdefault(key, t)
    return None


def _claimed_item(order: Order, text: str) -> LineItem | None:
    """The order's only item, or the one item whose name the message uses (in the shop's language)."""
    if len(order.line_items) == 1:
        return order.line_items[0]
    lowered = text.casefold()
    named = [item for item in order.line_items
             if any(len(word) >= 4 and word.casefold() in lowered for word in item.title.split())]
    return named[0] if len(named) == 1 else None


def case_facts(order: Order, text: str, money_back: re.Pattern[str], today: dt.date | None = None) -> CaseFacts:
    today = today or dt.datetime.now(dt.UTC).date()
    values: dict[str, Value] = {
        "order.status": order.status,
        "order.total": Decimal(order.total_price),
        "order.all_in_stock": all(item.in_stock for item in order.line_items),
        "carrier_status": "",
        "payments": Decimal(len(_captured(order))),
        "asks_money_back": bool(money_back.search(text)),
    }
    if order.fulfillments:
        shipment = order.fulfillments[-1]
        values["carrier_status"] = shipment.shipment_status
        if shipment.delivered_at:
            values["days_since_delivery"] = Decimal((today - day_of(shipment.delivered_at)).days)
        elif shipment.estimated_delivery_at:
            eta = day_of(shipment.estimated_delivery_at)
            values["days_past_eta"] = Decimal((today - eta).days)
            if eta < today:
                moved = max([day_of(shipment.shipped_at), *(day_of(e.happened_at) for e in shipment.events)])
                values["days_stalled_past_eta"] = Decimal((today - max(eta, moved)).days)
    item = _claimed_item(order, text)
    values["item.found"] = item is not None
    if item is not None:
        values["item.price"] = Decimal(item.price)
        values["item.in_stock"] = item.in_stock
    duplicate = _duplicate(order)
    values["duplicate_charge"] = duplicate is not None
    succeeded = [r for r in order.refunds if r.status == "succeeded"]
    values["refund_exists"] = bool(succeeded)
    return CaseFacts(values, item, duplicate, succeeded[-1] if succeeded else None)
