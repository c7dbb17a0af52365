"""The shop connector end to end: the real client against a real ``triage shop`` process, over real
HTTP, on SQLite and on PostgreSQL.

What a shopper is promised rests on these: an order is read as the shop has it; a write is done
exactly once whatever is retried (the same key twice, an answer lost after the commit); the shop's
refusals come back as refusals; unsigned requests are turned away; and every way a shop can fail
(slow, 500, malformed, mistyped, oversized, down, closed port) is one ``ShopUnavailable``, with the
breaker cutting calls short once the shop is clearly down.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import psycopg
import pytest

from tests.conftest import PG_BASE, free_port
from tests.shop_process import ShopProcess
from triage.config import ShopConfig
from triage.connector.client import ShopClient
from triage.connector.contract import CancelRequest, RefundRequest, ReplacementRequest, ReturnLabelRequest
from triage.connector.errors import ShopNotFound, ShopRefused, ShopUnavailable
from triage.connector.signing import sign

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shop(request, tmp_path_factory):
    """One shop per database for the module; a test that needs pristine orders restarts it with ``reset``."""
    schema = None
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("shop") / "shop.db")
    else:
        schema = f"demo_shop_test_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
        except psycopg.OperationalError as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}: CI must run the PostgreSQL tests ({exc})")
            pytest.skip(f"PostgreSQL is not reachable at {PG_BASE} ({exc}); set TRIAGE_TEST_POSTGRES")
        db = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    process = ShopProcess(db).start()
    yield process
    process.stop()
    if schema is not None:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _no_faults_left(request):
    """A test that fails mid-fault must not leave the shop misbehaving for the next one."""
    yield
    if "shop" in request.fixturenames:
        shop = request.getfixturevalue("shop")
        if shop.proc is not None and shop.proc.poll() is None:
            shop.faults("none")


async def test_the_client_reads_an_order_with_its_tracking(shop):
    async with ShopClient(shop.config()) as client:
        order = await client.order("10234")
    assert (order.status, order.total_price, order.currency, order.customer.email) == (
        "shipped", "129.00", "EUR", "anna.schmidt@example.com")
    [parcel] = order.fulfillments
    assert (parcel.tracking_company, parcel.tracking_number, parcel.shipment_status) == (
        "DHL", "JD014600003828", "in_transit")
    assert parcel.estimated_delivery_at is not None and parcel.estimated_delivery_at > parcel.shipped_at
    assert [e.status for e in parcel.events] == ["picked_up", "in_transit", "in_transit"]
    assert [(t.kind, t.status, t.amount) for t in order.transactions] == [("capture", "success", "129.00")]
    assert order.refunds == [] and order.replacements == [] and order.return_labels == []


async def test_a_customers_orders_come_newest_first(shop):
    async with ShopClient(shop.config()) as client:
        orders = await client.customer_orders("c-1001")
        two = await client.customer_orders("c-1001", limit=2)
        nobody = await client.customer_orders("c-9999")
    assert [o.id for o in orders] == ["10231", "10234", "10252"]
    assert [o.created_at for o in orders] == sorted((o.created_at for o in orders), reverse=True)
    assert [o.id for o in two] == ["10231", "10234"] and nobody == []


async def test_an_unknown_order_is_not_found(shop):
    before = shop.fault_status()["requests"]
    async with ShopClient(shop.config()) as client:
        with pytest.raises(ShopNotFound, match="99999"):
            await client.order("99999")
        with pytest.raises(ShopNotFound, match="not a valid order id"):
            await client.order("../customers/c-1001/orders")
    assert shop.fault_status()["requests"] == before + 1, "a 404 is not retried; an impossible id is not sent"


async def test_cancel_twice_with_one_key_refunds_the_total_once(shop):
    shop.restart(reset=True)
    async with ShopClient(shop.config()) as client:
        first = await client.cancel("10231", "cancel-10231-a")
        again = await client.cancel("10231", "cancel-10231-a")
        order = await client.order("10231")
        with pytest.raises(ShopRefused) as conflict:
            await client.cancel("10231", "cancel-10231-a", CancelRequest(reason="another request"))
        with pytest.raises(ShopRefused) as refused:
            await client.cancel("10231", "cancel-10231-b")
    assert not first.replayed and first.refund is not None and first.refund.amount == "54.75"
    assert again.replayed and again.refund == first.refund
    assert (order.status, order.financial_status) == ("cancelled", "refunded")
    assert [r.amount for r in order.refunds] == ["54.75"]
    assert conflict.value.problem.code == "conflict"
    assert (refused.value.problem.status, refused.value.problem.code) == (409, "not_cancellable")


async def test_concurrent_writes_on_one_order_refund_once(shop):
    shop.restart(reset=True)
    async with ShopClient(shop.config()) as client:
        same_key = await asyncio.gather(*(client.cancel("10232", "cancel-10232") for _ in range(6)))
        other_keys = await asyncio.gather(*(client.cancel("10231", f"cancel-10231-{n}") for n in range(6)),
                                          return_exceptions=True)
        orders = [await client.order(o) for o in ("10232", "10231")]
    assert sorted(r.replayed for r in same_key) == [False] + [True] * 5
    done = [r for r in other_keys if not isinstance(r, BaseException)]
    assert len(done) == 1 and all(isinstance(r, ShopRefused) for r in other_keys if r not in done)
    assert [[r.amount for r in o.refunds] for o in orders] == [["129.00"], ["54.75"]]


async def test_an_answer_lost_after_the_commit_is_found_again_under_its_key(shop):
    shop.restart(reset=True)
    async with ShopClient(shop.config(retries=0)) as client:
        shop.faults("commit_then_500", count=1)
        with pytest.raises(ShopUnavailable, match="500"):  # as when the caller dies between write and answer
            await client.cancel("10231", "lost-answer")
        again = await client.cancel("10231", "lost-answer")  # its replay, from the outbox or a restart
    assert again.replayed and again.refund is not None and again.refund.amount == "54.75"

    shop.restart(reset=True)
    async with ShopClient(shop.config(retries=2)) as client:
        shop.faults("commit_then_500", count=1)
        result = await client.cancel("10231", "retried")  # the client's own retry gets the committed result
        assert result.replayed and result.refund is not None and result.refund.amount == "54.75"
        shop.faults("slow_after_commit", count=1, delay_s=2.0)
        async with ShopClient(shop.config(timeout_s=0.5, retries=2)) as impatient:
            slow = await impatient.cancel("10232", "timed-out")  # attempt 1 times out after the commit
        assert slow.replayed and slow.refund is not None and slow.refund.amount == "129.00"
        shop.restart()  # no reset: the database keeps what was committed
        orders = [await client.order(o) for o in ("10231", "10232")]
    assert [(o.status, [r.amount for r in o.refunds]) for o in orders] == [
        ("cancelled", ["54.75"]), ("cancelled", ["129.00"])]
    assert "orders kept" in " ".join(shop.output().split())


async def test_the_shops_rules_refuse_what_no_shop_would_do(shop):
    async with ShopClient(shop.config(breaker_failures=1)) as client:
        with pytest.raises(ShopRefused) as shipped:
            await client.cancel("10234", "cancel-shipped")
        with pytest.raises(ShopRefused) as too_much:
            await client.refund("10253", "refund-too-much", RefundRequest(amount="100.00", reason="damaged"))
        with pytest.raises(ShopRefused) as no_stock:
            await client.replacement("10241", "replace-no-stock", ReplacementRequest(skus=["BP-30"], reason="damaged"))
        assert client.breaker.state == "closed", "a refusal is the shop working, not failing"
    assert (shipped.value.problem.status, shipped.value.problem.code) == (409, "not_cancellable")
    assert (too_much.value.problem.status, too_much.value.problem.code) == (422, "invalid")
    assert "39.85" in too_much.value.problem.detail
    assert no_stock.value.problem.code == "out_of_stock"


async def test_refund_replacement_and_return_label_are_created_once(shop):
    shop.restart(reset=True)
    async with ShopClient(shop.config()) as client:
        duplicate = RefundRequest(amount="49.85", reason="charged twice", transaction_id="pay_10243_2")
        refunded = [await client.refund("10243", "dup-10243", duplicate) for _ in range(2)]
        replaced = [await client.replacement("10239", "replace-10239", ReplacementRequest(skus=["WS-3"],
                                                                                           reason="damaged"))
                    for _ in range(2)]
        labelled = [await client.return_label("10240", "label-10240", ReturnLabelRequest(skus=["RJ-M"],
                                                                                          reason="damaged"))
                    for _ in range(2)]
        new_order = await client.order("10239-R1")
        orders = {o: await client.order(o) for o in ("10243", "10239", "10240")}
    assert [r.replayed for r in refunded + replaced + labelled] == [False, True] * 3
    assert refunded[0].refund == refunded[1].refund and refunded[0].refund is not None
    assert orders["10243"].financial_status == "paid", "a refunded duplicate charge leaves the order paid"
    assert [(r.amount, r.transaction_id) for r in orders["10243"].refunds] == [("49.85", "pay_10243_2")]
    assert [r.id for r in orders["10239"].replacements] == ["10239-R1"]
    assert (new_order.status, new_order.total_price, [i.sku for i in new_order.line_items]) == (
        "processing", "0.00", ["WS-3"])
    [label] = orders["10240"].return_labels
    assert label == labelled[0].return_label and label.carrier == orders["10240"].fulfillments[0].tracking_company


def test_unsigned_and_badly_signed_requests_get_401(shop):
    body = b'{"reason":"customer","refund":true}'
    unsigned = shop.request("GET", "/orders/10234", secret="")
    wrong = shop.request("GET", "/orders/10234", secret="not-the-shops-secret")
    stale = shop.request("GET", "/orders/10234", headers=sign(shop.secret, "GET", "/orders/10234", b"",
                                                              now=time.time() - 3600))
    tampered = shop.request("POST", "/orders/10231/cancel", body.replace(b"true", b"false"),
                            headers={**sign(shop.secret, "POST", "/orders/10231/cancel", body),
                                     "Idempotency-Key": "tampered"})
    for response, why in ((unsigned, "missing"), (wrong, "mismatch"), (stale, "stale"), (tampered, "mismatch")):
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized" and why in response.json()["detail"]
    assert shop.request("GET", "/healthz", secret="").status_code == 200
    assert shop.request("GET", "/_faults", secret="").status_code == 200, "test control is not signed"


async def test_a_client_with_the_wrong_secret_is_told_to_fix_it(shop):
    async with ShopClient(shop.config(secret="not-the-shops-secret")) as client:
        with pytest.raises(ShopUnavailable, match=r"signature \(401.*\[shop\] secret"):
            await client.order("10234")


def test_writes_without_a_key_or_with_a_broken_body_are_refused(shop):
    key = {"Idempotency-Key": "broken-body"}
    no_key = shop.request("POST", "/orders/10232/cancel", b"{}")
    not_json = shop.request("POST", "/orders/10232/cancel", b"{refund", headers=key)
    wrong_type = shop.request("POST", "/orders/10232/refunds", json.dumps({"amount": 5, "reason": "x"}).encode(),
                              headers=key)
    bad_limit = shop.request("GET", "/customers/c-1001/orders?limit=lots")
    assert [r.status_code for r in (no_key, not_json, wrong_type, bad_limit)] == [400, 400, 422, 422]
    assert {r.json()["code"] for r in (no_key, not_json, wrong_type, bad_limit)} == {"invalid"}
    assert shop.request("GET", "/orders/10232").json()["status"] == "processing"


@pytest.mark.parametrize(("mode", "why", "retryable"), [
    ("slow", "no answer within 0.4 s", True),
    ("error", "answered 500", True),
    ("down", "answered 503", True),
    ("malformed", "malformed JSON", False),  # the same request gets the same broken answer
    ("wrong_types", "does not match the contract", False),
    ("oversized", "larger than 65536 bytes", False),
])
async def test_every_way_a_shop_fails_is_one_shop_unavailable(shop, mode, why, retryable):
    config = shop.config(timeout_s=0.4, retries=1, max_response_bytes=65536)
    shop.faults(mode, count=2, delay_s=3.0)
    started = time.monotonic()
    async with ShopClient(config) as client:
        with pytest.raises(ShopUnavailable, match=why) as failed:
            await client.order("10234")
        assert failed.value.retryable is retryable
        assert time.monotonic() - started < 2.5, "the client gave up at its deadline, not at the shop's pace"
        shop.faults("none")
        assert (await client.order("10234")).id == "10234", "the shop and the client recover"


async def test_a_5xx_is_retried_and_the_retry_answers(shop):
    async with ShopClient(shop.config(retries=2)) as client:
        shop.faults("error", count=2)
        before = shop.fault_status()["requests"]
        assert (await client.order("10234")).id == "10234"
    assert shop.fault_status()["requests"] == before + 3


async def test_the_breaker_opens_after_failed_calls_and_closes_after_a_good_trial(shop):
    async with ShopClient(shop.config(retries=0, breaker_failures=2, breaker_reset_s=0.5)) as client:
        shop.faults("error", count=10)
        for _ in range(2):
            with pytest.raises(ShopUnavailable, match="500"):
                await client.order("10234")
        with pytest.raises(ShopUnavailable, match="circuit open"):
            await client.order("10234")
        assert shop.fault_status()["remaining"] == 8, "an open circuit does not call the shop"
        shop.faults("none")
        await asyncio.sleep(0.6)
        assert (await client.order("10234")).id == "10234" and client.breaker.state == "closed"


async def test_a_closed_port_is_shop_unavailable():
    config = ShopConfig(url=f"http://127.0.0.1:{free_port()}", secret="s" * 16, timeout_s=1.0, retries=1)
    async with ShopClient(config) as client:
        with pytest.raises(ShopUnavailable, match="cannot connect"):
            await client.order("10234")
        with pytest.raises(ShopUnavailable, match="cannot connect"):
            await client.cancel("10231", "closed-port")
