"""Hand-offs that reach a person and come back, with real processes (demo shop, cloud core with the demo
procedures and an agent credential, edge) over real HTTP, gRPC and websockets: a proposal is approved
once and pays once, a person's reply reaches the shopper once whoever restarts, a helpdesk's watch
resumes from its cursor, credentials open only what they name, and an unanswered case gets a follow-up."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from decimal import Decimal

import grpc
import pytest

from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc
from tests.conftest import CLOUD_ADMIN_TOKEN, CLOUD_TOKEN, EdgeProcess
from tests.e2e.handoff import AGENT_TOKEN, DEV16, OTHER_TENANT_TOKEN, Helpdesk, handoff_cloud
from tests.e2e.shoppers import SECRET, SHOP_SECRET, _resume

pytestmark = pytest.mark.slow

REPLY = "Goedemiddag, ik heb de terugbetaling van € 249,00 goedgekeurd. Excuses voor de kapotte jas! Anna"


@pytest.fixture
def cloud(llm_folder, shop, tmp_path):
    process = handoff_cloud(llm_folder, shop, tmp_path / "memory.db")
    yield process
    process.stop()


def _edge(demo_bundle, shop, cloud, tmp_path) -> EdgeProcess:
    return EdgeProcess(demo_bundle, {
        "TRIAGE_SHOP__URL": shop.url, "TRIAGE_SHOP__SECRET": SHOP_SECRET, "TRIAGE_EDGE__SESSION_SECRET": SECRET,
        "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "10",
        "TRIAGE_EDGE__NODE_ID": "edge-test-1"}, store=tmp_path / "edge.db", cloud=cloud.address)


@pytest.fixture
def edge(demo_bundle, shop, cloud, tmp_path):
    process = _edge(demo_bundle, shop, cloud, tmp_path)
    yield process
    process.stop()


@pytest.fixture
async def helpdesk(cloud):
    desk = Helpdesk(cloud.address)
    yield desk
    await desk.close()


def _refunds(shop, order_id: str) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in shop.order(order_id)["refunds"]]


async def _proposal(connect, edge) -> tuple[str, str]:
    """dev16 said by its shopper: (session, case id) of the proposal the cloud made."""
    shopper = await connect(edge.ws_url, "c-1006", "nl")
    frames = await shopper.say(DEV16, timeout=30)
    final = frames[-1]
    if final["source"] == "queued":  # the cloud's answer comes after the notice
        while final["source"] != "cloud":
            final = json.loads(await asyncio.wait_for(shopper.ws.recv(), 30))
    assert final["resolution"] == {"kind": "proposed", "order_id": "10247", "amount": "249.00", "currency": "EUR"}
    case_id = final["text"].rsplit(" ", 1)[-1].rstrip(".")
    assert case_id.startswith("C-"), final["text"]
    return shopper.session, case_id


async def _people_frames(url: str, session: str, settle_s: float = 2.0, want: int = 1) -> list[dict]:
    """Every answer frame of the session written by a person or about a case: resumed from the start, waited
    on until ``want`` came and then ``settle_s`` longer, so one more would be seen too."""
    ws = await _resume(url, session, 0, "c-1006")
    found: list[dict] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            wait = settle_s if len(found) >= want else deadline - time.monotonic()
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, wait)))
            except TimeoutError:
                if len(found) >= want:
                    break
                continue
            if frame.get("type") == "answer" and frame.get("case_id"):
                found.append(frame)
    finally:
        await ws.close()
    return found


async def test_two_proposals_of_one_claim_approved_one_after_the_other_pay_once(connect, edge, shop, helpdesk):
    _, first = await _proposal(connect, edge)
    _, second = await _proposal(connect, edge)  # the shopper claimed again before anyone looked
    assert first != second
    for case_id in (first, second):
        await helpdesk.wait_for_case(case_id, cpb.CASE_STATE_PROPOSED)
    assert (await helpdesk.decide(first, approve=True)).decision.startswith("approved by Anna")
    again = await helpdesk.decide(second, approve=True)
    assert "did not go through" in again.decision and "already has refund" in again.decision, again.decision
    assert _refunds(shop, "10247") == [Decimal("249.00")] and len(shop.order("10247")["return_labels"]) == 1


async def test_a_proposal_is_seen_approved_once_and_paid_once_and_the_reply_reaches_the_shopper_live_once(
        connect, edge, shop, helpdesk):
    session, case_id = await _proposal(connect, edge)
    event, _ = await helpdesk.wait_for_case(case_id, cpb.CASE_STATE_PROPOSED)
    case = event.case
    assert case.lang == "nl" and case.customer_id == "c-1006" and case.order_id == "10247"
    assert (case.proposed.currency, case.proposed.amount_minor) == ("EUR", 24900)
    assert case.summary.procedure == "damaged_item" and case.summary.rule == "9"
    assert [m.role for m in case.conversation][-2:] == [pb.ROLE_SHOPPER, pb.ROLE_ASSISTANT]
    assert "249,00" in case.suggested_reply, "the starting point is the procedure's reply, in Dutch"
    assert case.deliverable and _refunds(shop, "10247") == []

    approved = await helpdesk.decide(case_id, approve=True)
    assert approved.state == cpb.CASE_STATE_ANSWERED and approved.decision.startswith("approved by Anna")
    assert _refunds(shop, "10247") == [Decimal("249.00")]
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await helpdesk.decide(case_id, approve=True)
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _refunds(shop, "10247") == [Decimal("249.00")], "a second approval pays nothing"

    live = await _resume(edge.ws_url, session, 10_000, "c-1006")  # connected, nothing to replay
    try:
        await helpdesk.reply(case_id, REPLY, request_id="reply-1", quick_replies=("Dank je!",))
        await helpdesk.reply(case_id, REPLY, request_id="reply-1")  # a retried request
        frame = json.loads(await asyncio.wait_for(live.recv(), 10))
    finally:
        await live.close()
    assert frame["type"] == "answer" and frame["source"] == "human" and frame["author"] == "Anna"
    assert frame["text"] == REPLY and frame["options"] == ["Dank je!"] and frame["case_id"] == case_id
    replayed = await _people_frames(edge.ws_url, session)
    assert [f["text"] for f in replayed] == [REPLY], "the reply is in the session once, and only once"

    closed = await helpdesk.close_case(case_id, intent="damaged_item")
    assert closed.state == cpb.CASE_STATE_CLOSED
    async with grpc.aio.insecure_channel(edge.cloud) as channel:
        stub = pb_grpc.EscalationStub(channel)
        resolutions = [r async for r in stub.ListResolutions(pb.ListResolutionsRequest(tenant="demo"),
                                                              metadata=(("authorization",
                                                                          f"Bearer {CLOUD_ADMIN_TOKEN}"),))]
    assert [(r.intent, r.resolved_by) for r in resolutions] == [("damaged_item", "agent:anna")]


async def test_a_reply_made_while_the_edge_is_killed_reaches_the_shopper_once_after_it_restarts(
        connect, edge, shop, helpdesk, tmp_path):
    session, case_id = await _proposal(connect, edge)
    await helpdesk.wait_for_case(case_id, cpb.CASE_STATE_PROPOSED)
    edge.kill()  # SIGKILL: the reply is made while no edge holds the delivery stream
    await helpdesk.decide(case_id, approve=True)
    await helpdesk.reply(case_id, REPLY, request_id="while-down")
    edge.start()
    assert [f["text"] for f in await _people_frames(edge.ws_url, session)] == [REPLY]
    edge.kill()  # and again, after it stored (and acknowledged) the reply: nothing comes twice
    edge.start()
    assert [f["text"] for f in await _people_frames(edge.ws_url, session)] == [REPLY]
    with sqlite3.connect(edge.store) as db:
        assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 1
    assert _refunds(shop, "10247") == [Decimal("249.00")]


async def test_a_delivery_the_edge_stored_but_did_not_acknowledge_is_stored_once(
        connect, edge, shop, helpdesk, cloud):
    """Two subscriptions of the same edge (a process killed after storing, before acknowledging, and its
    restart) receive the same delivery: the store keeps one frame."""
    session, case_id = await _proposal(connect, edge)
    await helpdesk.wait_for_case(case_id, cpb.CASE_STATE_PROPOSED)
    edge.kill()
    await helpdesk.reply(case_id, REPLY, request_id="unacked")
    async with grpc.aio.insecure_channel(cloud.address) as channel:  # what a dying edge saw, and never acked
        stub = pb_grpc.EscalationStub(channel)
        call = stub.SubscribeDeliveries(pb.SubscribeDeliveriesRequest(tenant="demo", edge="edge-test-1"),
                                        metadata=(("authorization", f"Bearer {CLOUD_TOKEN}"),))
        seen = await asyncio.wait_for(call.read(), 10)
        call.cancel()
    assert seen.text == REPLY and seen.route.session == session
    edge.start()
    assert [f["text"] for f in await _people_frames(edge.ws_url, session)] == [REPLY]


async def test_a_watch_cut_and_resumed_from_its_cursor_misses_nothing_and_repeats_nothing(connect, edge, helpdesk):
    _, case_id = await _proposal(connect, edge)
    opened, _ = await helpdesk.wait_for_case(case_id, cpb.CASE_STATE_PROPOSED)
    cursor = opened.cursor
    await helpdesk.decide(case_id, approve=False, note="wrong item photo")
    await helpdesk.reply(case_id, "Kunt u een foto van de jas sturen?", request_id="r1")
    await helpdesk.close_case(case_id)
    call = helpdesk.watch(cursor)  # the helpdesk reconnects after missing three changes
    kinds = []
    try:
        while len(kinds) < 3:
            event = await asyncio.wait_for(call.read(), 10)
            assert event.cursor > cursor
            cursor = event.cursor
            kinds.append((event.kind, event.case.state))
        with pytest.raises(TimeoutError):  # and then nothing more
            await asyncio.wait_for(call.read(), 1.5)
    finally:
        call.cancel()
    assert kinds == [("rejected", cpb.CASE_STATE_ANSWERED), ("replied", cpb.CASE_STATE_ANSWERED),
                     ("closed", cpb.CASE_STATE_CLOSED)]
    who = await helpdesk.stub.WhoAmI(cpb.WhoAmIRequest(), metadata=helpdesk.metadata)
    assert (who.tenant, who.agent_id, who.display_name) == ("demo", "anna", "Anna")


async def test_credentials_open_only_what_they_name(connect, edge, cloud):
    _, case_id = await _proposal(connect, edge)
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        escalation = pb_grpc.EscalationStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as agent_on_memory:
            customer = pb.CustomerRef(tenant="demo", customer_id="c-1006")
            await escalation.GetMemory(pb.GetMemoryRequest(customer=customer),
                                       metadata=(("authorization", f"Bearer {AGENT_TOKEN}"),))
        assert agent_on_memory.value.code() == grpc.StatusCode.PERMISSION_DENIED
    service = Helpdesk(cloud.address, CLOUD_TOKEN)
    other = Helpdesk(cloud.address, OTHER_TENANT_TOKEN)
    nobody = Helpdesk(cloud.address, "not-a-token-at-all-000")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as service_on_cases:
            await service.reply(case_id, "hello")
        assert service_on_cases.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as other_shop:
            await other.reply(case_id, "hello")
        assert other_shop.value.code() == grpc.StatusCode.NOT_FOUND, "another shop's case does not exist for Bob"
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await nobody.decide(case_id, approve=True)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        for desk in (service, other, nobody):
            await desk.close()


async def test_a_case_nobody_answers_in_time_sends_one_follow_up_in_the_shoppers_language(
        connect, demo_bundle, shop, llm_folder, tmp_path):
    cloud = handoff_cloud(llm_folder, shop, tmp_path / "memory.db", follow_up_after_s=1.0)
    edge = _edge(demo_bundle, shop, cloud, tmp_path)
    try:
        session, case_id = await _proposal(connect, edge)
        frames = await _people_frames(edge.ws_url, session, settle_s=3.0)
        assert len(frames) == 1 and frames[0]["source"] == "cloud" and frames[0]["lang"] == "nl"
        assert case_id in frames[0]["text"] and "niemand" in frames[0]["text"]
    finally:
        edge.stop()
        cloud.stop()


async def test_a_customer_forgotten_in_the_cloud_is_erased_at_the_edge_and_no_card_number_is_kept(connect, edge,
                                                                                                  cloud):
    shopper = await connect(edge.ws_url, "c-1001", "en")
    await shopper.say("How much is shipping? My card is 4111 1111 1111 1111 if you need it")
    with sqlite3.connect(edge.store) as db:
        texts = [row[0] for row in db.execute("SELECT text FROM messages")]
    assert texts and not any("4111" in t for t in texts), f"the old edge kept the card number at rest: {texts}"
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        forgotten = await pb_grpc.EscalationStub(channel).ForgetCustomer(
            pb.ForgetCustomerRequest(customer=pb.CustomerRef(tenant="demo", customer_id="c-1001")),
            metadata=(("authorization", f"Bearer {CLOUD_ADMIN_TOKEN}"),), timeout=10)
    assert forgotten.edges_notified == 1, "the old ForgetCustomer never reached the edge"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(edge.store) as db:
            left = db.execute("SELECT COUNT(*) FROM sessions WHERE customer = 'c-1001'").fetchone()[0]
            messages = db.execute("SELECT COUNT(*) FROM messages WHERE session = ?", (shopper.session,)).fetchone()[0]
        if left == 0 and messages == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the edge still holds {left} sessions and {messages} messages of the forgotten customer")
