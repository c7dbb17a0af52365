"""The shop connector's wire contract: the JSON a shop's API returns and accepts (docs/connector.yaml).

Field names follow Shopify's Admin REST resources (Order, Fulfillment, Transaction, Refund) where
a field exists there: ``financial_status``, ``fulfillment_status``, ``line_items`` (``sku``,
``title``, ``quantity``, ``price``), ``fulfillments`` (``tracking_company``, ``tracking_number``,
``shipment_status``), ``transactions`` (``kind``, ``status``, ``amount``), ``refunds``, so an adapter
in front of a real platform renames little. Money is a decimal string in the order's currency
("54.75"), never a float; times are ISO 8601 UTC. Both sides decode with these structs, so a
field of the wrong type or a missing one is refused at the boundary, not deep in a template.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "ID_PATTERN",
    "CancelRequest",
    "Customer",
    "Fulfillment",
    "LineItem",
    "Order",
    "OrderList",
    "OrderStatus",
    "Problem",
    "Refund",
    "RefundRequest",
    "Replacement",
    "ReplacementRequest",
    "ReturnLabel",
    "ReturnLabelRequest",
    "TrackingEvent",
    "Transaction",
    "WriteResult",
]

Money = Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}\.\d{2}$", max_length=12)]
"""Never negative: a negative price or total planned a refund of -5.00 that passed every limit."""
Timestamp = Annotated[str, msgspec.Meta(
    pattern=r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?"
            r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)$", max_length=40)]
"""ISO 8601 UTC or with an offset: "TBD" for a date was decoded, then crashed the day counts of a dispute
after its writes were made (every retry made them again and crashed again)."""


def _real_days(*stamps: str | None) -> None:
    """The pattern lets 30 February through; a struct with days the policy counts refuses it at decode
    (msgspec reports a ValueError from ``__post_init__`` as a validation error)."""
    for stamp in stamps:
        if stamp is not None:
            datetime.fromisoformat(stamp.replace("Z", "+00:00"))
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, msgspec.Meta(max_length=500)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
"""An order, customer or SKU id in a URL path (the ``Id`` type below, as a pattern)."""
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
"""Printable ASCII, as an HTTP header value carries it."""

OrderStatus = Literal["processing", "shipped", "delivered", "returned", "cancelled"]
ShipmentStatus = Literal["picked_up", "in_transit", "out_for_delivery", "delivered", "lost", "returned"]


class Customer(msgspec.Struct, frozen=True):
    id: Id
    email: Annotated[str, msgspec.Meta(max_length=254)]
    name: Text = ""
    locale: Annotated[str, msgspec.Meta(max_length=16)] = ""


class LineItem(msgspec.Struct, frozen=True):
    sku: Id
    title: Text
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    price: Money
    """Unit price."""
    in_stock: bool = True
    """Whether the shop can send this item again now (a replacement needs stock)."""


class TrackingEvent(msgspec.Struct, frozen=True):
    status: ShipmentStatus
    happened_at: Timestamp

    def __post_init__(self) -> None:
        _real_days(self.happened_at)


class Fulfillment(msgspec.Struct, frozen=True):
    tracking_company: Text
    tracking_number: Id
    shipment_status: ShipmentStatus
    """The carrier's latest status."""
    shipped_at: Timestamp
    estimated_delivery_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    events: list[TrackingEvent] = []

    def __post_init__(self) -> None:
        _real_days(self.shipped_at, self.estimated_delivery_at, self.delivered_at)


class Transaction(msgspec.Struct, frozen=True):
    id: Id
    kind: Literal["sale", "capture", "refund"]
    status: Literal["success", "pending", "failure"]
    amount: Money
    created_at: Timestamp

    def __post_init__(self) -> None:
        _real_days(self.created_at)


class Refund(msgspec.Struct, frozen=True):
    id: Id
    amount: Money
    created_at: Timestamp
    status: Literal["pending", "succeeded", "failed"] = "succeeded"
    reason: Text = ""
    transaction_id: str | None = None
    """The captured payment this refund returns, where it returns one payment (a duplicate charge)."""

    def __post_init__(self) -> None:
        _real_days(self.created_at)


class Replacement(msgspec.Struct, frozen=True):
    id: Id
    """The new order that sends the items again."""
    created_at: Timestamp
    line_items: list[LineItem] = []


class ReturnLabel(msgspec.Struct, frozen=True):
    id: Id
    carrier: Text
    tracking_number: Id
    url: Annotated[str, msgspec.Meta(max_length=2000)]
    created_at: Timestamp


class Order(msgspec.Struct, frozen=True):
    id: Id
    customer: Customer
    created_at: Timestamp
    status: OrderStatus
    """The order's one-word state for support (Shopify spreads it over financial and fulfillment status)."""
    financial_status: Literal["paid", "partially_refunded", "refunded", "pending"]
    fulfillment_status: Literal["unfulfilled", "fulfilled", "partial", "restocked"] | None
    currency: Currency
    total_price: Money
    line_items: list[LineItem]
    shipping_price: Money = "0.00"
    fulfillments: list[Fulfillment] = []
    transactions: list[Transaction] = []
    refunds: list[Refund] = []
    replacements: list[Replacement] = []
    return_labels: list[ReturnLabel] = []
    cancelled_at: Timestamp | None = None


class OrderList(msgspec.Struct, frozen=True):
    orders: list[Order]


class CancelRequest(msgspec.Struct, frozen=True):
    reason: Text = "customer"
    refund: bool = True
    """Refund the order total at once (POLICY rule 3)."""


class RefundRequest(msgspec.Struct, frozen=True):
    amount: Money
    reason: Text
    transaction_id: str | None = None


class ReplacementRequest(msgspec.Struct, frozen=True):
    skus: list[Id]
    reason: Text


class ReturnLabelRequest(msgspec.Struct, frozen=True):
    skus: list[Id]
    reason: Text


class WriteResult(msgspec.Struct, frozen=True):
    """What every write answers: the order as it is now, and what the write created (or had already
    created under the same idempotency key: ``replayed``)."""

    order: Order
    replayed: bool = False
    refund: Refund | None = None
    replacement: Replacement | None = None
    return_label: ReturnLabel | None = None


class Problem(msgspec.Struct, frozen=True):
    """An error body (RFC 9457 problem details, trimmed)."""

    title: Text
    status: int
    detail: Text = ""
    code: Literal["not_found", "not_cancellable", "out_of_stock", "invalid", "unauthorized", "conflict",
                  "internal"] = "invalid"
    """``not_cancellable``: the order has shipped (offer a return); ``out_of_stock``: a replacement cannot be sent
    (refund instead); ``conflict``: the order's state does not allow the write, or an idempotency key was reused
    with another request; ``invalid``: the request breaks the contract or the shop's limits."""
