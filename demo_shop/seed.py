"""``orders.json`` (customers, products, orders; dates in days relative to load time) as contract orders.

The file is written for people: days ago rather than dates, so the demo never goes stale, and the
shop's own vocabulary (``carrier``, ``payments``, ``captured``). Loading turns it into the
connector's Shopify-shaped ``Order`` at one instant, so every relative date in one load shares the
same "now". The file is validated with msgspec on the way in: a typo fails with the file and field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from demo_shop.rules import financial_status, iso
from triage.connector.contract import (
    Customer,
    Fulfillment,
    LineItem,
    Order,
    OrderStatus,
    Refund,
    ShipmentStatus,
    TrackingEvent,
    Transaction,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SeedError", "load_orders"]


class SeedError(ValueError):
    """``orders.json`` cannot be read or does not have the expected shape."""


class _Customer(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    email: str
    name: str = ""
    lang: str = ""


class _Product(msgspec.Struct, forbid_unknown_fields=True):
    sku: str
    name: str
    price: str
    in_stock: bool = True


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    sku: str
    name: str
    qty: int
    price: str


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    days_ago: float
    status: ShipmentStatus


class _Shipping(msgspec.Struct, forbid_unknown_fields=True):
    carrier: str
    tracking_number: str
    shipped_days_ago: float
    delivered_days_ago: float | None = None
    eta_days_from_now: float | None = None
    events: list[_Event] = []


class _Payment(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    amount: str
    days_ago: float
    status: str = "captured"


class _Refund(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    amount: str
    days_ago: float
    status: str = "succeeded"


class _Order(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    customer: str
    placed_days_ago: float
    status: OrderStatus
    items: list[_Item]
    total: str
    currency: str
    shipping_fee: str = "0.00"
    shipping: _Shipping | None = None
    payments: list[_Payment] = []
    refunds: list[_Refund] = []
    note: str = ""


class _File(msgspec.Struct, forbid_unknown_fields=True):
    customers: list[_Customer]
    products: list[_Product]
    orders: list[_Order]
    about: str = ""


def load_orders(path: Path, now: datetime | None = None) -> list[Order]:
    """Every order of the file, its dates resolved against ``now`` (the load time)."""
    try:
        data = msgspec.json.decode(path.read_bytes(), type=_File)
    except OSError as exc:
        raise SeedError(f"{path}: cannot read the demo shop's orders ({exc}); pass --orders FILE") from exc
    except msgspec.DecodeError as exc:
        raise SeedError(f"{path}: not a demo shop orders file ({exc})") from exc
    now = now or datetime.now(UTC).replace(microsecond=0)
    customers = {c.id: c for c in data.customers}
    stock = {p.sku: p.in_stock for p in data.products}
    orders = []
    for raw in data.orders:
        try:
            orders.append(_order(raw, customers, stock, now))
        except (KeyError, msgspec.ValidationError) as exc:
            raise SeedError(f"{path}: order {raw.id}: {exc}") from exc
    return orders


def _ago(now: datetime, days: float) -> str:
    return iso(now - timedelta(days=days))


def _order(raw: _Order, customers: dict[str, _Customer], stock: dict[str, bool], now: datetime) -> Order:
    if raw.customer not in customers:
        raise KeyError(f"unknown customer {raw.customer!r}")
    customer = customers[raw.customer]
    missing = [item.sku for item in raw.items if item.sku not in stock]
    if missing:
        raise KeyError(f"unknown product {missing[0]!r}")
    transactions = [Transaction(id=p.id, kind="capture", status="success" if p.status == "captured" else "pending",
                                amount=p.amount, created_at=_ago(now, p.days_ago)) for p in raw.payments]
    refunds = [Refund(id=r.id, amount=r.amount, created_at=_ago(now, r.days_ago),
                      status="succeeded" if r.status == "succeeded" else "pending") for r in raw.refunds]
    transactions += [Transaction(id=f"{r.id}_tx", kind="refund", status="success", amount=r.amount,
                                 created_at=r.created_at) for r in refunds if r.status == "succeeded"]
    order = Order(
        id=raw.id,
        customer=Customer(id=customer.id, email=customer.email, name=customer.name, locale=customer.lang),
        created_at=_ago(now, raw.placed_days_ago), status=raw.status, financial_status="paid",
        fulfillment_status="fulfilled" if raw.shipping else None, currency=raw.currency, total_price=raw.total,
        line_items=[LineItem(sku=i.sku, title=i.name, quantity=i.qty, price=i.price, in_stock=stock[i.sku])
                    for i in raw.items],
        shipping_price=raw.shipping_fee, fulfillments=[_fulfillment(raw.shipping, now)] if raw.shipping else [],
        transactions=transactions, refunds=refunds,
        cancelled_at=(refunds[0].created_at if refunds else _ago(now, raw.placed_days_ago))
        if raw.status == "cancelled" else None)
    # A round trip through the contract's decoder checks every pattern and bound (money, ids, currency).
    order = msgspec.json.decode(msgspec.json.encode(order), type=Order)
    return msgspec.structs.replace(order, financial_status=financial_status(order))


def _fulfillment(shipping: _Shipping, now: datetime) -> Fulfillment:
    events = sorted(shipping.events, key=lambda e: -e.days_ago)
    latest: ShipmentStatus = events[-1].status if events else "picked_up"
    delivered = shipping.delivered_days_ago
    eta = shipping.eta_days_from_now
    return Fulfillment(
        tracking_company=shipping.carrier, tracking_number=shipping.tracking_number,
        shipment_status="delivered" if delivered is not None else latest,
        shipped_at=_ago(now, shipping.shipped_days_ago),
        estimated_delivery_at=_ago(now, -eta) if eta is not None else None,
        delivered_at=_ago(now, delivered) if delivered is not None else None,
        events=[TrackingEvent(status=e.status, happened_at=_ago(now, e.days_ago)) for e in events])
