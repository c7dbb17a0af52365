"""Actions that act: a real edge asks for what it needs, checks who asks, calls the real demo shop over
HTTP and answers from its data in the shopper's language, whatever the shop does."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from tests.conftest import SHARED_DATA, EdgeProcess
from tests.e2e.shoppers import SECRET, SHOP_SECRET, Shopper, _resume
from tests.shop_process import ShopProcess

pytestmark = pytest.mark.slow



def _edge(bundle: Path, shop: ShopProcess, tmp_path: Path, **extra: str) -> EdgeProcess:
    env = {"TRIAGE_SHOP__URL": shop.url, "TRIAGE_SHOP__SECRET": SHOP_SECRET, "TRIAGE_SHOP__TIMEOUT_S": "1.0",
           "TRIAGE_SHOP__RETRIES": "1", "TRIAGE_EDGE__SESSION_SECRET": SECRET, "TRIAGE_EDGE__QUEUED_AFTER_S": "0.5",
           **extra}
    return EdgeProcess(bundle, env, store=tmp_path / "edge.db")


@pytest.fixture
def edge(demo_bundle, shop, tmp_path):
    process = _edge(demo_bundle, shop, tmp_path)
    yield process
    process.stop()


STATUS_QUESTIONS = {
    "en": "where is my order", "de": "Wo ist meine Bestellung?", "fr": "Où est ma commande ?",
    "es": "¿Dónde está mi pedido?", "it": "Dov'è il mio ordine?", "pt": "Onde está a minha encomenda?",
    "nl": "Waar is mijn bestelling?", "pl": "Gdzie jest moje zamówienie?",
}


async def test_where_is_my_order_asks_then_answers_with_carrier_tracking_and_a_local_date(connect, edge):
    eta = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)  # orders.json: 10234 is due tomorrow
    for lang, question in STATUS_QUESTIONS.items():
        shopper = await connect(edge.ws_url, lang=lang)
        asked = (await shopper.say(question))[-1]
        assert asked["decision"] == "clarify" and asked["lang"] == lang, asked
        asked_email = (await shopper.say("10234"))[-1]
        assert asked_email["decision"] == "clarify" and "10234" in asked_email["text"], asked_email
        answer = (await shopper.say("anna.schmidt@example.com"))[-1]
        assert answer["decision"] == "action" and answer["lang"] == lang, answer
        assert "DHL" in answer["text"] and "JD014600003828" in answer["text"], answer
        assert format_date(eta, format="long", locale=lang) in answer["text"], (lang, answer["text"])
        assert answer["resolution"] == {"kind": "info", "order_id": "10234"}


async def test_a_wrong_email_discloses_nothing_about_the_order(connect, edge):
    shopper = await connect(edge.ws_url, lang="en")
    answer = (await shopper.say("Where is order 10234? my email is liam.walker@example.com"))[-1]
    assert "JD014600003828" not in answer["text"] and "DHL" not in answer["text"]
    assert answer.get("resolution") is None
    signed_in = await connect(edge.ws_url, customer="c-1002", lang="en")  # Liam, not Anna
    answer = (await signed_in.say("Where is my order 10234?"))[-1]
    assert "JD014600003828" not in answer["text"] and "DHL" not in answer["text"]


async def test_a_signed_in_shopper_with_several_open_orders_picks_one_from_quick_replies(connect, edge):
    shopper = await connect(edge.ws_url, customer="c-1001", lang="de")
    asked = (await shopper.say("Wo ist meine Bestellung?"))[-1]
    assert asked["decision"] == "clarify" and set(asked["options"]) == {"10231", "10234"}
    answer = (await shopper.say("Die Nummer ist 10234"))[-1]
    assert "JD014600003828" in answer["text"] and answer["lang"] == "de"


async def test_a_pending_action_survives_an_edge_restart(connect, edge):
    shopper = await connect(edge.ws_url, lang="fr")
    await shopper.say("Où est ma commande ?")
    await shopper.say("10235")
    session = shopper.session
    edge.kill()
    edge.start()
    ws = await _resume(edge.ws_url, session, 4, resume_key=shopper.resume_key)
    try:
        answer = (await Shopper(ws, session).say("camille.roux@example.com", msg_id="m3"))[-1]
    finally:
        await ws.close()
    assert "6A19283746501" in answer["text"] and answer["lang"] == "fr"


def _refunds(shop: ShopProcess, order_id: str) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in shop.order(order_id)["refunds"]]


async def test_cancelling_a_processing_order_refunds_its_total_once_in_the_shoppers_money_format(connect, edge, shop):
    shopper = await connect(edge.ws_url, customer="c-1001", lang="de")
    answer = (await shopper.say("Ich möchte Bestellung 10231 stornieren"))[-1]
    assert format_currency(Decimal("54.75"), "EUR", locale="de") in answer["text"], answer  # "54,75\xa0€" (CLDR)
    assert answer["resolution"] == {"kind": "cancelled", "order_id": "10231", "amount": "54.75", "currency": "EUR"}
    other_visit = await connect(edge.ws_url, customer="c-1001", lang="de")  # a new session, a new message
    again = (await other_visit.say("Ich möchte Bestellung 10231 stornieren"))[-1]
    assert again["decision"] == "action" and "bereits storniert" in again["text"]
    assert shop.order("10231")["status"] == "cancelled"
    assert _refunds(shop, "10231") == [Decimal("54.75")]


async def test_a_shipped_order_is_not_cancelled_and_the_shopper_is_offered_the_return(connect, edge, shop):
    shopper = await connect(edge.ws_url, customer="c-1002", lang="en")
    answer = (await shopper.say("Can I cancel order 10239?"))[-1]
    assert "return" in answer["text"].lower()
    assert shop.order("10239")["status"] == "delivered" and _refunds(shop, "10239") == []


async def test_an_edge_killed_between_the_shops_refund_and_the_answer_refunds_once(connect, demo_bundle, shop,
                                                                                 tmp_path):
    edge = _edge(demo_bundle, shop, tmp_path, TRIAGE_SHOP__TIMEOUT_S="10")
    try:
        shop.faults("slow_after_commit", count=1, delay_s=3.0)  # the shop commits, then takes 3 s to answer
        shopper = await connect(edge.ws_url, customer="c-1001", lang="en")
        await shopper.ws.send(json.dumps({"type": "message", "id": "cancel-1", "text": "Please cancel order 10231"}))
        deadline = time.monotonic() + 10
        while shop.order("10231")["status"] != "cancelled":
            assert time.monotonic() < deadline, "the shop never committed the cancellation"
            await asyncio.sleep(0.05)
        edge.kill()  # after the shop's write, before the edge stored or sent any answer
        edge.start()
        ws = await _resume(edge.ws_url, shopper.session, 0, "c-1001")
        try:
            answer = (await Shopper(ws, shopper.session).say("Please cancel order 10231", msg_id="cancel-1"))[-1]
        finally:
            await ws.close()
        assert "€54.75" in answer["text"] and answer["resolution"]["kind"] == "cancelled"
        assert _refunds(shop, "10231") == [Decimal("54.75")]
    finally:
        edge.stop()


PROMPT_EN = "I can't reach our order system right now"


@pytest.mark.parametrize("mode", ["down", "slow", "error", "malformed", "oversized"])
async def test_a_shop_that_fails_gets_an_honest_answer_and_the_question_is_kept(connect, edge, shop, tmp_path, mode):
    shop.faults(mode, count=1000, delay_s=3.0)
    shopper = await connect(edge.ws_url, customer="c-1002", lang="en")
    frames = await shopper.say("Where is my order 10232?")
    assert frames[0]["source"] == "edge" and frames[0]["decision"] == "escalate"
    assert frames[0]["text"].startswith(PROMPT_EN), frames
    assert frames[-1]["source"] == "queued"  # no cloud in this test: the escalation waits in the outbox
    with sqlite3.connect(tmp_path / "edge.db") as db:
        (waiting,) = db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()
        outbox = db.execute("SELECT request FROM outbox").fetchone()[0]
    assert waiting == 1
    assert b"10232" in outbox
    shop.faults("none", count=1000, delay_s=0.0)
    fresh = await connect(edge.ws_url, customer="c-1002", lang="en")
    answer = (await fresh.say("Where is my order 10232?"))[-1]  # the edge keeps serving
    assert "prepar" in answer["text"]


async def test_an_anonymous_shoppers_email_never_reaches_the_cloud(connect, edge, shop, tmp_path):
    shop.faults("down", count=1000, delay_s=0.0)
    shopper = await connect(edge.ws_url, lang="en")
    await shopper.say("Where is order 10234? my email is anna.schmidt@example.com")
    with sqlite3.connect(tmp_path / "edge.db") as db:
        requests = [r[0] for r in db.execute("SELECT request FROM outbox")]
    assert requests and all(b"anna.schmidt" not in r for r in requests)


def test_triage_dialogues_passes_the_status_cancellation_and_identity_rows(demo_bundle, shop, tmp_path, edge):
    rows = [json.loads(line) for line in (SHARED_DATA / "eval" / "dialogues_dev.jsonl").read_text().splitlines()]
    chosen = [r for r in rows if r["id"] in {"dev01", "dev02", "dev03", "dev04", "dev05", "dev20", "dev21"}]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in chosen))
    out = subprocess.run(
        [sys.executable, "-m", "commands", "dialogues", "--url", edge.ws_url, "--shop", shop.url, "--shop-secret",
         SHOP_SECRET, "--data", str(data), "--session-secret", SECRET, "--json", "--timeout", "30"],
        capture_output=True, text=True, timeout=300, env=os.environ)
    report = json.loads(out.stdout)
    assert out.returncode == 0, report["failures"]
    assert report["rows"] == report["passed"] == 7
    assert set(report["per_language"]) == {"en", "de", "fr"}
