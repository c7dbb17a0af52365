"""What the shop's JSON may hold: money never negative, times that are real ISO 8601 instants.

A value that does not fit is refused where the shop's answer is decoded, so the engine never plans a
refund of a negative price, and a dispute's day counts never crash after its writes were made."""

from __future__ import annotations

import msgspec
import pytest

from triage.connector.contract import Fulfillment, LineItem, Refund, Transaction


def _fulfillment(**times: str) -> bytes:
    return msgspec.json.encode({"tracking_company": "DHL", "tracking_number": "JD1", "shipment_status": "delivered",
                                "shipped_at": "2026-05-20T09:00:00Z", **times})


@pytest.mark.parametrize("stamp", ["2026-05-29T12:00:00Z", "2026-05-29T12:00Z", "2026-05-29T14:00:00.25+02:00",
                                   "2026-05-29T12:00:00-0500"])
def test_an_iso_8601_instant_is_accepted(stamp) -> None:
    shipment = msgspec.json.decode(_fulfillment(delivered_at=stamp), type=Fulfillment)
    assert shipment.delivered_at == stamp


@pytest.mark.parametrize("stamp", ["TBD", "", "2026-05-29", "29/05/2026 12:00", "2026-13-01T00:00:00Z",
                                   "2026-02-30T00:00:00Z", "2026-05-29T24:00:00Z", "2026-05-29T12:00:00"])
def test_a_time_that_is_no_instant_is_refused_at_decode(stamp) -> None:
    for field in ("shipped_at", "estimated_delivery_at", "delivered_at"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(_fulfillment(**{field: stamp}), type=Fulfillment)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode({"id": "re1", "amount": "1.00", "created_at": stamp}), type=Refund)


@pytest.mark.parametrize("amount", ["-5.00", "5", "5.0", "1e3", "1234567890.00"])
def test_money_is_a_non_negative_decimal_with_cents(amount) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode({"sku": "S1", "title": "Socks", "quantity": 1, "price": amount}),
                            type=LineItem)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode({"id": "t1", "kind": "sale", "status": "success", "amount": amount,
                                                 "created_at": "2026-05-29T12:00:00Z"}), type=Transaction)
    free = msgspec.json.decode(b'{"sku":"S1","title":"Socks","quantity":1,"price":"0.00"}', type=LineItem)
    assert free.price == "0.00"
