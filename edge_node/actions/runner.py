"""Run a catalog action against the shop: gather what it needs, check who asks, call, answer.

POLICY.md rules 1-3 and 11, enforced here whatever the message says: a signed-in shopper acts on
their own orders only; an anonymous one names the order and its e-mail address, and a wrong pair
gets the same answer as an unknown order (nothing is disclosed); only an order that has not
shipped is cancelled, and its total refunded by the shop in the same write. Writes carry an
idempotency key derived from the shopper's message, so a retried or replayed message (an edge
killed between the shop's write and the answer) gets the same refund, never a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Literal

import msgspec

from edge_node.frames import Resolution
from edge_node.store import PendingAction
from triage.connector.contract import CancelRequest, Order
from triage.connector.errors import ShopError, ShopNotFound, ShopRefused
from triage.localize import Money, day_of, render
from triage.slots import SlotFinder

if TYPE_CHECKING:
    from triage.catalog import Catalog
    from triage.catalog.model import Action
    from triage.connector.client import ShopClient

__all__ = ["ActionRequest", "ActionResult", "ActionRunner"]

log = logging.getLogger(__name__)

Outcome = Literal["answered", "asking", "handoff"]


class ActionRequest(msgspec.Struct, frozen=True):
    action: str
    intent: str | None
    lang: str
    customer: str
    """The signed-in customer id, or "" for an anonymous shopper."""
    text: str
    earlier: tuple[str, ...]
    pending: PendingAction | None
    key: str
    """Idempotency key of this message's writes."""


class ActionResult(msgspec.Struct, frozen=True):
    text: str
    outcome: Outcome
    """``answered``; ``asking`` for a slot (``pending`` says which); ``handoff`` to the cloud or a person."""
    pending: PendingAction | None = None
    options: list[str] = []
    resolution: Resolution | None = None


_OPEN = {"order_status": ("processing", "shipped"), "cancel_order": ("processing",),
         "refund_status": ("returned", "cancelled")}


class ActionRunner:
    def __init__(self, catalog: Catalog, shop: ShopClient | None) -> None:
        self.catalog = catalog
        self.shop = shop
        self.slots = SlotFinder(catalog.storefront.order_id_pattern)

    def _say(self, table: dict[str, dict[str, str]], key: str, lang: str, facts: dict[str, object]) -> str:
        texts = table[key]
        template = texts.get(lang) or texts[self.catalog.storefront.default_language]
        return render(template, lang, facts)

    def _prompt(self, key: str, r: ActionRequest, **facts: object) -> str:
        return self._say(self.catalog.prompts, key, r.lang, facts)

    async def run(self, r: ActionRequest) -> ActionResult:
        if self.shop is None:
            return ActionResult(self._prompt("shop_unavailable", r), "handoff")
        try:
            action = self.catalog.action(r.action)
            found = await self._identify(r, action, self.shop)
            if isinstance(found, ActionResult):
                return found
            return await self._act(r, action, found, self.shop)
        except ShopError as exc:  # the shopper is told honestly and the question goes on with its context
            log.warning("action %s for %s handed on: %s", r.action, r.key, exc)
            return ActionResult(self._prompt("shop_unavailable", r), "handoff")

    def _pending(self, r: ActionRequest, **fields: str) -> PendingAction:
        return PendingAction(action=r.action, intent=r.intent, **fields)

    async def _identify(self, r: ActionRequest, action: Action, shop: ShopClient) -> Order | ActionResult:
        """The order this shopper may see, or what to say instead (ask, or disclose nothing)."""
        pending = r.pending
        order_id = self.slots.order_id([r.text]) or (pending.order_id if pending else "") \
            or self.slots.order_id(r.earlier)
        if r.customer:
            return await self._signed_in(r, action, shop, order_id)
        email = self.slots.email([r.text]) or (pending.email if pending else "")
        if not order_id:
            return ActionResult(self._prompt("ask_order_id", r), "asking", self._pending(r, email=email,
                                                                                        asked="order_id"))
        if not email:
            return ActionResult(self._prompt("ask_email", r, order_id=order_id), "asking",
                                self._pending(r, order_id=order_id, asked="email"))
        try:
            order = await shop.order(order_id)
        except ShopNotFound:
            return ActionResult(self._prompt("not_verified", r), "answered")
        if order.customer.email.strip().casefold() != email.casefold():
            return ActionResult(self._prompt("not_verified", r), "answered")
        return order

    async def _signed_in(self, r: ActionRequest, action: Action, shop: ShopClient,
                         order_id: str) -> Order | ActionResult:
        if order_id:
            try:
                order = await shop.order(order_id)
            except ShopNotFound:
                return ActionResult(self._prompt("not_verified", r), "answered")
            if order.customer.id != r.customer:
                return ActionResult(self._prompt("not_verified", r), "answered")
            return order
        orders = await shop.customer_orders(r.customer)
        candidates = [o for o in orders if o.status in _OPEN[action.kind]] or orders
        if not candidates:
            return ActionResult(self._prompt("no_orders", r), "answered")
        if len(candidates) == 1:
            return candidates[0]
        options = [o.id for o in candidates[:5]]
        return ActionResult(self._prompt("pick_order", r), "asking", self._pending(r, asked="pick"), options)

    async def _act(self, r: ActionRequest, action: Action, order: Order, shop: ShopClient) -> ActionResult:
        facts = _facts(order)

        def say(key: str) -> str:
            return self._say(action.replies, key, r.lang, facts)

        if action.kind == "order_status":
            return ActionResult(say(_status_key(order)), "answered", resolution=Resolution("info", order.id))
        if action.kind == "refund_status":
            refunds = [f for f in order.refunds if f.status == "succeeded"]
            if not refunds:
                return ActionResult(say("none"), "handoff", resolution=Resolution("human", order.id))
            last = refunds[-1]
            facts.update(amount=Money(last.amount, order.currency), refunded_on=day_of(last.created_at))
            return ActionResult(say("refunded"), "answered",
                                resolution=Resolution("info", order.id, last.amount, order.currency))
        if order.status not in ("processing", "cancelled"):
            return ActionResult(say("not_cancellable"), "answered", resolution=Resolution("info", order.id))
        try:  # a cancelled order may be this very message's, replayed: the shop answers its key with the same result
            done = await shop.cancel(order.id, r.key, CancelRequest(reason="customer request in chat"))
        except ShopRefused:  # cancelled by another request, or shipped between our read and the write
            key = "already_cancelled" if order.status == "cancelled" else "not_cancellable"
            return ActionResult(say(key), "answered", resolution=Resolution("info", order.id))
        amount = done.refund.amount if done.refund is not None else done.order.total_price
        facts["total"] = Money(amount, done.order.currency)
        return ActionResult(say("done"), "answered",
                            resolution=Resolution("cancelled", order.id, amount, done.order.currency))


def _status_key(order: Order) -> str:
    if order.status != "shipped" or not order.fulfillments:
        return order.status if order.status != "shipped" else "processing"
    shipment = order.fulfillments[-1]
    if shipment.shipment_status == "lost":
        return "lost"
    eta = shipment.estimated_delivery_at
    if eta is not None and day_of(eta) < dt.datetime.now(dt.UTC).date():
        return "overdue"
    return "shipped"


def _facts(order: Order) -> dict[str, object]:
    facts: dict[str, object] = {"order_id": order.id, "total": Money(order.total_price, order.currency)}
    if order.fulfillments:
        f = order.fulfillments[-1]
        shipped = day_of(f.shipped_at)
        facts.update(carrier=f.tracking_company, tracking_number=f.tracking_number, shipped_on=shipped,
                     eta=day_of(f.estimated_delivery_at) if f.estimated_delivery_at else shipped,
                     delivered_on=day_of(f.delivered_at) if f.delivered_at else shipped)
    return facts

