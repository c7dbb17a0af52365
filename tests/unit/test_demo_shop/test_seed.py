"""The seed: every order of shared/data/shop/orders.json becomes a contract order, its relative dates
resolved against one load time, and a broken file is refused with its name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.main import main
from demo_shop.seed import SeedError, load_orders
from tests.conftest import shared_data

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def orders():
    return {o.id: o for o in load_orders(shared_data("shop", "orders.json"), now=NOW)}


def test_every_order_loads_with_dates_relative_to_the_load(orders):
    assert len(orders) == 24
    parcel = orders["10234"].fulfillments[0]
    assert orders["10234"].created_at == "2025-05-23T12:00:00Z"  # placed 9 days ago
    assert (parcel.shipped_at, parcel.estimated_delivery_at) == ("2025-05-25T12:00:00Z", "2025-06-02T12:00:00Z")
    assert orders["10231"].fulfillments == [] and orders["10231"].fulfillment_status is None


def test_stock_payments_and_refunds_come_from_the_file(orders):
    assert [i.in_stock for i in orders["10241"].line_items] == [False]  # BP-30 is out of stock
    assert [(t.kind, t.status) for t in orders["10243"].transactions] == [("capture", "success")] * 2
    returned, cancelled = orders["10245"], orders["10249"]
    assert [r.amount for r in returned.refunds] == ["189.00"] and returned.financial_status == "refunded"
    assert cancelled.status == "cancelled" and cancelled.cancelled_at == cancelled.refunds[0].created_at
    assert orders["10243"].financial_status == "paid" and orders["10237"].fulfillments[0].shipment_status == "lost"


def test_a_broken_seed_is_refused_with_its_file_name(tmp_path):
    broken = tmp_path / "orders.json"
    broken.write_text('{"customers": [], "products": [], "orders": [{"id": "1"}]}')
    with pytest.raises(SeedError, match=r"orders\.json"):
        load_orders(broken)
    with pytest.raises(SeedError, match="cannot read"):
        load_orders(tmp_path / "missing.json")


def test_the_command_fails_with_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["shop", "--orders", str(tmp_path / "missing.json"), "--db", str(tmp_path / "shop.db")]) == 2
    assert main(["shop", "--orders", str(shared_data("shop", "orders.json")), "--db", "mysql://x/y"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the demo shop's orders" in err and "not supported" in err
