"""Disputes resolved in the cloud: real processes (demo shop, cloud core with the demo procedures, edge),
real HTTP and gRPC. The demo's dialogues all pass, and a refund is made exactly once and answered
exactly once whoever is killed, and whatever the shop answers after committing it."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest

from commands.clients.dialogues import read_dialogues, run_dialogues
from edge_node.report import dispute_tally
from edge_node.store import SqliteEdgeStore
from tests.conftest import CLOUD_TOKEN, DEMO_CATALOG, CloudProcess, EdgeProcess, shared_data
from tests.e2e.shoppers import SECRET, SHOP_SECRET, _resume
from tests.shop_process import ShopProcess

pytestmark = pytest.mark.slow

DUPLICATE = "Mir wurde für Bestellung 10243 zweimal 49,85 € abgebucht"  # dev12: the duplicate is refunded


@pytest.fixture
def cloud(llm_folder, shop, tmp_path):
    process = CloudProcess(llm_folder, tmp_path / "memory.db", env={
        "TRIAGE_CLOUD__CATALOG": str(DEMO_CATALOG), "TRIAGE_SHOP__URL": shop.url,
        "TRIAGE_SHOP__SECRET": SHOP_SECRET, "TRIAGE_SHOP__TIMEOUT_S": "10"}).start()
    yield process
    process.stop()


def _edge(demo_bundle, shop: ShopProcess, cloud: CloudProcess, tmp_path, **extra: str) -> EdgeProcess:
    return EdgeProcess(demo_bundle, {
        "TRIAGE_SHOP__URL": shop.url, "TRIAGE_SHOP__SECRET": SHOP_SECRET, "TRIAGE_EDGE__SESSION_SECRET": SECRET,
        "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "5", **extra},
        store=tmp_path / "edge.db", cloud=cloud.address)


@pytest.fixture
def edge(demo_bundle, shop, cloud, tmp_path):
    process = _edge(demo_bundle, shop, cloud, tmp_path)
    yield process
    process.stop()


def _refunds(shop: ShopProcess, order_id: str) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in shop.order(order_id)["refunds"]]


async def _wait_for_refund(shop: ShopProcess, order_id: str) -> None:
    deadline = time.monotonic() + 20
    while not shop.order(order_id)["refunds"]:
        assert time.monotonic() < deadline, "the shop never committed the refund"
        await asyncio.sleep(0.05)


async def _cloud_answers(url: str, session: str, customer: str, msg_id: str, settle_s: float = 3.0) -> list[dict]:
    """Every cloud answer to ``msg_id`` the session holds: resumed from the start, waited on until one came
    and then ``settle_s`` longer, so a second one would be seen too."""
    ws = await _resume(url, session, 0, customer)
    answers: list[dict] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            remaining = settle_s if answers else deadline - time.monotonic()
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, remaining)))
            except TimeoutError:
                if answers:
                    break
                continue
            if frame.get("type") == "answer" and frame.get("reply_to") == msg_id and frame.get("source") == "cloud":
                answers.append(frame)
    finally:
        await ws.close()
    return answers


async def test_the_demo_dialogues_all_pass_against_shop_cloud_and_edge(edge, shop) -> None:
    rows = read_dialogues(shared_data("eval", "dialogues_dev.jsonl"))
    report = await run_dialogues(edge.ws_url, shop.config(timeout_s=10.0), rows, session_secret=SECRET,
                                 timeout_s=60.0)
    assert report.failures == [], report.failures
    assert (report.passed, report.rows) == (22, 22)
    proposed = next(r for r in report.results if r.id == "dev16")  # Dutch, 249.00: above the automatic limit
    assert "249,00" in " ".join(proposed.answers) and "C-" in " ".join(proposed.answers)
    store = SqliteEdgeStore(edge.store)  # what `triage report` reads
    await store.open()
    try:
        tally = dispute_tally(await store.outcomes())["*"]
    finally:
        await store.close()
    # 13 dispute rows, and dev15 (no refund for a returned order: the edge's refund action hands it on, the
    # cloud's where_is_refund gives it to a person with a case summary)
    assert (tally.cases, tally.resolved_without_a_person, tally.proposals_pending, tally.handed_to_a_person) == (
        14, 7, 2, 5)
    assert tally.refunded == {"EUR": "203.60"}  # 89.00 (dev08) + 64.75 (dev10) + 49.85 (dev12)


async def test_a_cloud_killed_after_the_shops_refund_and_before_its_answer_refunds_and_answers_once(
        connect, edge, shop, cloud) -> None:
    shop.faults("slow_after_commit", count=1, delay_s=4.0)  # the refund commits, then its answer takes 4 s
    shopper = await connect(edge.ws_url, customer="c-1010", lang="de")
    await shopper.ws.send(json.dumps({"type": "message", "id": "dup-1", "text": DUPLICATE}))
    await _wait_for_refund(shop, "10243")
    cloud.kill()  # after the shop's write, before the cloud stored or sent any answer
    cloud.start()
    answers = await _cloud_answers(edge.ws_url, shopper.session, "c-1010", "dup-1")
    assert len(answers) == 1, answers
    assert "49,85\xa0€" in answers[0]["text"] and answers[0]["resolution"]["kind"] == "refunded"
    assert answers[0]["resolution"]["amount"] == "49.85"
    assert _refunds(shop, "10243") == [Decimal("49.85")]


async def test_an_edge_killed_while_the_cloud_refunds_gets_one_answer_for_one_refund(
        connect, demo_bundle, shop, cloud, tmp_path) -> None:
    edge = _edge(demo_bundle, shop, cloud, tmp_path)
    try:
        shop.faults("slow_after_commit", count=1, delay_s=4.0)
        shopper = await connect(edge.ws_url, customer="c-1010", lang="de")
        await shopper.ws.send(json.dumps({"type": "message", "id": "dup-1", "text": DUPLICATE}))
        await _wait_for_refund(shop, "10243")
        edge.kill()  # the cloud's call is cut mid-write; the outbox keeps the escalation
        edge.start()
        answers = await _cloud_answers(edge.ws_url, shopper.session, "c-1010", "dup-1")
        assert len(answers) == 1, answers
        assert answers[0]["resolution"] == {"kind": "refunded", "order_id": "10243", "amount": "49.85",
                                            "currency": "EUR"}
        assert _refunds(shop, "10243") == [Decimal("49.85")]
    finally:
        edge.stop()


async def test_an_escalation_acknowledged_to_the_shopper_survives_an_edge_killed_right_after(
        connect, demo_bundle, shop, cloud, tmp_path) -> None:
    # An anonymous shopper's order is checked against the e-mail at the edge, here on a slow shop: the
    # escalation used to be queued only after that check, long after the shopper was told it was in hand.
    edge = _edge(demo_bundle, shop, cloud, tmp_path)
    try:
        shop.faults("slow", count=1, delay_s=2.0)
        shopper = await connect(edge.ws_url, lang="es")
        text = "Mi pedido 10236 nunca llegó, mi correo es lucia.garcia@example.com"
        await shopper.ws.send(json.dumps({"type": "message", "id": "lost-1", "text": text}))
        while (frame := json.loads(await asyncio.wait_for(shopper.ws.recv(), 30)))["type"] != "typing":
            assert frame["type"] != "error", frame
        edge.kill()  # acknowledged: the escalation must be stored, whatever happens next
        edge.start()
        ws = await _resume(edge.ws_url, shopper.session, 0, resume_key=shopper.resume_key)
        try:
            while not ((frame := json.loads(await asyncio.wait_for(ws.recv(), 60)))["type"] == "answer"
                       and frame["reply_to"] == "lost-1" and frame["source"] == "cloud"):
                pass
        finally:
            await ws.close()
        assert frame["resolution"]["kind"] == "replacement"
        assert len(shop.order("10236")["replacements"]) == 1
    finally:
        edge.stop()


async def test_a_shop_answering_500_after_committing_the_refund_still_refunds_once(connect, edge, shop) -> None:
    shop.faults("commit_then_500", count=1)
    shopper = await connect(edge.ws_url, customer="c-1005", lang="it")
    text = "Il corriere dice che il pacco dell'ordine 10237 è stato perso. Rivoglio i miei soldi"  # dev10
    await shopper.ws.send(json.dumps({"type": "message", "id": "lost-1", "text": text}))
    answers = await _cloud_answers(edge.ws_url, shopper.session, "c-1005", "lost-1")
    assert len(answers) == 1, answers
    assert "64,75\xa0€" in answers[0]["text"]
    assert _refunds(shop, "10237") == [Decimal("64.75")]
    assert shop.fault_status()["remaining"] == 0, "the fault was never hit"


async def test_a_claim_sent_again_or_money_back_after_a_replacement_gets_a_person_not_a_second_remedy(
        connect, edge, shop) -> None:
    shopper = await connect(edge.ws_url, customer="c-1002", lang="en")
    claim = "My order 10239 arrived and the socks are torn, the package was damaged"  # dev06
    first = (await shopper.say(claim, timeout=60))[-1]
    assert first["resolution"]["kind"] == "replacement"
    # the same claim again, then money back on top of the replacement: one remedy, so a person answers both
    for text in (claim, "I want my money back for the torn socks of order 10239 too"):
        again = (await shopper.say(text, timeout=60))[-1]
        assert again["source"] == "cloud" and again["resolution"] == {"kind": "human", "order_id": "10239"}
        assert "case number is C-" in again["text"]
    assert len(shop.order("10239")["replacements"]) == 1
    assert shop.order("10239")["return_labels"] == [] and _refunds(shop, "10239") == []


async def test_a_write_the_shop_cannot_take_goes_to_a_person_at_once_not_to_an_hour_of_retries(
        connect, edge, shop) -> None:
    shop.faults("write_400", count=1)  # a 400 on the replacement: not a refusal, and asking again would not help
    shopper = await connect(edge.ws_url, customer="c-1002", lang="en")
    answer = (await shopper.say("My order 10239 arrived and the socks are torn, the package was damaged",
                                timeout=60))[-1]
    assert answer["source"] == "cloud" and answer["resolution"] == {"kind": "human", "order_id": "10239"}
    assert "couldn't complete this" in answer["text"] and "case number is C-" in answer["text"]
    assert shop.order("10239")["replacements"] == [] and shop.fault_status()["remaining"] == 0


async def test_an_order_of_another_customer_is_neither_disclosed_nor_refunded(connect, edge, shop) -> None:
    shopper = await connect(edge.ws_url, customer="c-1002", lang="de")  # 10243 is Jonas Weber's (c-1010)
    answer = (await shopper.say(DUPLICATE, timeout=60))[-1]
    assert answer["source"] == "cloud"
    assert "10243" not in answer["text"] and "49,85" not in answer["text"]
    assert _refunds(shop, "10243") == []


async def test_the_answer_frame_carries_a_case_that_a_person_must_take(connect, edge, shop) -> None:
    shopper = await connect(edge.ws_url, customer="c-1002", lang="en")
    answer = (await shopper.say("If you don't refund order 10239 today I'll file a chargeback with my bank",
                                timeout=60))[-1]
    assert answer["resolution"] == {"kind": "human", "order_id": "10239"}
    assert "case number is C-" in answer["text"]
    assert _refunds(shop, "10239") == [] and shop.order("10239")["replacements"] == []


async def test_an_anonymous_shopper_with_the_orders_e_mail_is_helped_and_one_without_it_is_asked(connect, edge,
                                                                                                   shop) -> None:
    shopper = await connect(edge.ws_url, lang="es")
    asked = (await shopper.say("Mi pedido 10236 nunca llegó, el seguimiento no se mueve desde hace semanas",
                               timeout=60))[-1]
    assert asked["source"] == "cloud" and "correo" in asked["text"]  # order number and e-mail, please
    assert shop.order("10236")["replacements"] == []
    verified = (await shopper.say("Mi pedido 10236 nunca llegó, mi correo es lucia.garcia@example.com",
                                  msg_id="m-verified", timeout=60))[-1]
    assert verified["resolution"]["kind"] == "replacement"
    assert len(shop.order("10236")["replacements"]) == 1  # checked against the e-mail at the edge, which kept it
