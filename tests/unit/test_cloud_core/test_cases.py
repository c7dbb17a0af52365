"""The case desk over a real memory store, both backends: cases open once, every change is an event a
watcher resumes after, a person's reply is delivered once per request, a follow-up goes once, and a
closed case takes no more replies."""

from __future__ import annotations

import asyncio
import time

import pytest

from cloud_core.cases import CaseConflict, CaseDesk, CaseNotFound
from cloud_core.memory import open_store
from cloud_core.metrics import CloudMetrics
from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import escalation_pb2 as pb
from triage.config import AgentCredential, CloudConfig

ANNA = AgentCredential("demo", "anna", "Anna")
BOB = AgentCredential("other", "bob", "Bob")


@pytest.fixture(params=["sqlite", "postgres"])
async def desk(request, tmp_path):
    url = f"sqlite:///{tmp_path}/memory.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    memory = open_store(url)
    await memory.open()
    yield CaseDesk(memory, CloudConfig(follow_up_after_s=60, cases_poll_s=0.05), {}, CloudMetrics())
    await memory.close()


def _escalation(key: str = "s1:m1", session: str = "s1") -> tuple[pb.EscalateRequest, pb.Final]:
    request = pb.EscalateRequest(idempotency_key=key, customer=pb.CustomerRef(tenant="demo", customer_id="c-1"),
                                 lang="de", message="Ich will mit einem Menschen sprechen", intent="to_person",
                                 route=pb.ReplyRoute(edge="edge-a", session=session, message_id="m1"))
    request.passages.append(pb.Passage(id="faq", text="Unser Team antwortet werktags."))
    final = pb.Final(text="Ein Mitglied unseres Teams antwortet hier.", flagged_for_human=True, escalation_id="e1")
    return request, final


async def _events(desk: CaseDesk, tenant: str, cursor: int, n: int) -> list[cpb.CaseEvent]:
    stream = desk.watch(tenant, cursor)
    try:
        return [await asyncio.wait_for(anext(stream), 5) for _ in range(n)]
    finally:
        await stream.aclose()


async def test_a_flagged_answer_opens_one_case_whatever_is_retried(desk):
    request, final = _escalation()
    await desk.open_from_escalation(request, final)
    await desk.open_from_escalation(request, final)  # the edge's retry, replayed
    [snapshot] = await _events(desk, "demo", 0, 1)
    case = snapshot.case
    assert snapshot.kind == "snapshot" and case.state == cpb.CASE_STATE_FLAGGED and case.deliverable
    assert [m.text for m in case.conversation] == [request.message, final.text]
    assert case.suggested_reply == "Unser Team antwortet werktags.", "no catalog: the edge's passage is the start"
    assert await desk.memory.cases("demo").open_views() == [case.SerializeToString()]


async def test_an_answer_nobody_flagged_opens_nothing(desk):
    request, final = _escalation()
    final.flagged_for_human = False
    await desk.open_from_escalation(request, final)
    assert await desk.memory.cases("demo").open_views() == []


async def test_a_reply_is_delivered_once_per_request_id_and_recorded_once(desk):
    request, final = _escalation()
    await desk.open_from_escalation(request, final)
    [opened] = await _events(desk, "demo", 0, 1)
    case_id = opened.case.case_id
    first = await desk.reply(ANNA, case_id, "Hallo, ich bin Anna.", ["Danke"], "r1")
    again = await desk.reply(ANNA, case_id, "Hallo, ich bin Anna.", ["Danke"], "r1")
    assert first.state == again.state == cpb.CASE_STATE_ANSWERED
    assert [m.author for m in again.conversation if m.role == pb.ROLE_AGENT] == ["Anna"]
    stream = desk.deliveries("demo", "edge-a")
    delivery = await asyncio.wait_for(anext(stream), 5)
    assert (delivery.kind, delivery.author, delivery.text, list(delivery.quick_replies)) == (
        "human", "Anna", "Hallo, ich bin Anna.", ["Danke"])
    assert (delivery.route.session, delivery.route.message_id) == ("s1", "m1")
    with pytest.raises(TimeoutError):  # sent once per stream, though not acknowledged yet
        await asyncio.wait_for(anext(stream), 0.3)
    await stream.aclose()
    assert [d.delivery_id for d in [await asyncio.wait_for(anext(desk.deliveries("demo", "edge-a")), 5)]] == [
        delivery.delivery_id], "a new subscription gets what was never acknowledged"
    assert await desk.ack("demo", delivery.delivery_id) is True
    assert await desk.memory.cases("demo").pending_deliveries("edge-a") == []
    assert await desk.ack("other", delivery.delivery_id) is False, "another tenant cannot acknowledge it"


async def test_a_watcher_resuming_from_a_cursor_gets_each_later_change_once_in_order(desk):
    request, final = _escalation()
    await desk.open_from_escalation(request, final)
    [opened] = await _events(desk, "demo", 0, 1)
    case_id = opened.case.case_id
    await desk.reply(ANNA, case_id, "Erste Antwort", [], "r1")
    await desk.reply(ANNA, case_id, "Zweite Antwort", [], "r2")
    await desk.close(ANNA, case_id, "to_person", {}, edge_could_answer=False, flagged=False)
    later = await _events(desk, "demo", opened.cursor, 3)
    assert [e.kind for e in later] == ["replied", "replied", "closed"]
    assert [e.cursor for e in later] == sorted({e.cursor for e in later}) and later[0].cursor > opened.cursor
    stream = desk.watch("demo", later[-1].cursor)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.3)
    await stream.aclose()


async def test_a_closed_case_takes_no_reply_and_another_tenant_sees_no_case(desk):
    request, final = _escalation()
    await desk.open_from_escalation(request, final)
    [opened] = await _events(desk, "demo", 0, 1)
    case_id = opened.case.case_id
    with pytest.raises(CaseNotFound):
        await desk.reply(BOB, case_id, "hello", [], "r1")
    await desk.close(ANNA, case_id, "", {}, edge_could_answer=False, flagged=True)
    with pytest.raises(CaseConflict):
        await desk.reply(ANNA, case_id, "too late", [], "r2")
    with pytest.raises(CaseConflict):
        await desk.decide(ANNA, case_id, approve=True, note="")
    with pytest.raises(ValueError):
        await desk.reply(ANNA, case_id, "   ", [], "r3")


async def test_a_case_no_person_answers_in_time_gets_one_follow_up(desk):
    request, final = _escalation()
    await desk.open_from_escalation(request, final)
    await desk.open_from_escalation(*_escalation("s2:m1", session=""))  # no chat session: nothing to follow up
    assert await desk.send_follow_ups() == 0, "not yet due"
    later = time.time() + 61
    assert await desk.send_follow_ups(now=later) == 1
    assert await desk.send_follow_ups(now=later + 60) == 0, "once per case"
    [follow_up] = [d async for d in _take(desk.deliveries("demo", "edge-a"), 1)]
    assert follow_up.kind == "follow_up" and "C-" in follow_up.text and follow_up.lang == "de"


async def _take(stream, n: int):
    try:
        for _ in range(n):
            yield await asyncio.wait_for(anext(stream), 5)
    finally:
        await stream.aclose()
