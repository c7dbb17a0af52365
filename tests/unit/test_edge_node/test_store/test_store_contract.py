"""The edge store's contract, one suite for both backends (SQLite on one host, PostgreSQL across hosts):
sessions resume only for their customer, a message is recorded once, frames are numbered once per
session however many replicas append, a message's final answer is stored once, outbox items are
leased to one replica at a time, and deliveries become one frame."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from edge_node.frames import answer_encoder
from edge_node.store import LedgerEntry, MessageOutcome, PendingAction, Queued, SessionGone, open_edge_store


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path) -> str:
    return str(tmp_path / "edge.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(location):
    opened = open_edge_store(location)
    await opened.open()
    yield opened
    await opened.close()


def _frame(reply_to: str, text: str):
    """A real answer frame's encoder: the store numbers frames of the websocket contract."""
    return answer_encoder(reply_to, text, "en", None, "edge", 1.0, "answer")


def _seq_and_text(data: bytes) -> tuple[int, str]:
    frame = msgspec.json.decode(data)
    return frame["seq"], frame["text"]


def _outcome(session: str, client_id: str, answer: bool = True, **extra) -> MessageOutcome:
    entry = LedgerEntry(session, client_id, "answer", "edge", 1.0)
    return MessageOutcome(session=session, client_id=client_id, text="hi", lang="en", lang_changed=True,
                          intent="greeting", decision="answer" if answer else "escalate", entry=entry,
                          answer=_frame(client_id, "answer") if answer else None, **extra)


async def test_a_session_resumes_only_for_the_same_customer(store):
    first = await store.open_session("demo", None, "c-1")
    assert not first.resumed and first.seq == 0
    again = await store.open_session("demo", first.session, "c-1")
    assert again.resumed and again.session == first.session
    stranger = await store.open_session("demo", first.session, "c-2")
    assert not stranger.resumed and stranger.session != first.session


async def test_an_anonymous_session_resumes_only_with_its_key(store):
    first = await store.open_session("demo", None)
    assert len(first.resume_key) >= 20
    logged_id_only = await store.open_session("demo", first.session)
    assert not logged_id_only.resumed, "the session id is in the logs: alone it must not resume"
    wrong = await store.open_session("demo", first.session, "", "not-the-key")
    assert not wrong.resumed
    again = await store.open_session("demo", first.session, "", first.resume_key)
    assert again.resumed and again.session == first.session and again.resume_key == first.resume_key


async def test_a_message_is_recorded_once_with_its_ledger_entry_and_answer(store):
    opened = await store.open_session("demo", None)
    session = opened.session
    recorded = await store.record_message(_outcome(session, "m1"))
    assert recorded.processed and recorded.frame is not None and recorded.frame.seq == 1
    assert _seq_and_text(recorded.frame.data) == (1, "answer"), "the frame carries the number it was given"
    assert [f.data for f in await store.frames.after(session, 0)] == [recorded.frame.data]
    resent = await store.record_message(_outcome(session, "m1"))
    assert not resent.processed, "a re-sent id with an answer is replayed, not answered again"
    assert [e.client_id for e in await store.ledger()] == ["m1"]
    assert await store.conversation(session) == [("m1", "hi")]
    assert (await store.open_session("demo", session, "", opened.resume_key)).lang == "en"


async def test_an_escalated_message_is_queued_in_its_own_record_and_a_resend_meanwhile_is_not_processed(store):
    session = (await store.open_session("demo", None)).session
    queued = Queued(f"{session}:m1", b"request", first_try_s=60.0)
    recorded = await store.record_message(_outcome(session, "m1", answer=False, escalation=queued))
    assert recorded.processed and recorded.frame is None
    assert await store.outbox.pending_for(session) == ["m1"], "queued with the message, not after it"
    assert await store.outbox.due() == [], "left to the process that queued it, whose own try comes first"
    claimed = await store.outbox.claim(queued.key, 30)
    assert claimed is not None and claimed.request == b"request"
    resent = await store.record_message(_outcome(session, "m1", answer=False, escalation=queued))
    assert not resent.processed, "its escalation is under way: the outbox answers it"
    assert [e.client_id for e in await store.ledger()] == ["m1"]
    assert await store.outbox.depth() == 1


async def test_one_escalated_message_recorded_by_two_replicas_at_once_is_processed_once(location, store):
    session = (await store.open_session("demo", None)).session
    other = open_edge_store(location)
    await other.open()
    try:
        for n in range(5):  # a shopper's resend reaching another replica while the first records it
            queued = Queued(f"{session}:m{n}", b"request", first_try_s=60.0)
            both = await asyncio.gather(*(replica.record_message(_outcome(session, f"m{n}", answer=False,
                                                                          escalation=queued))
                                          for replica in (store, other)))
            assert sum(r.processed for r in both) == 1, both
    finally:
        await other.close()
    assert len(await store.ledger()) == 5 and await store.outbox.depth() == 5


async def test_a_notice_is_stored_only_while_its_message_has_no_final_answer(store):
    session = (await store.open_session("demo", None)).session
    notice = await store.frames.append(session, "m1", False, _frame("m1", "later"), unless_answered=True)
    assert notice is not None, "no answer yet: the shopper is told it comes later"
    assert await store.frames.append(session, "m1", True, _frame("m1", "the answer")) is not None
    late = await store.frames.append(session, "m1", False, _frame("m1", "later"), unless_answered=True)
    assert late is None, "after the final answer, 'it comes later' would be false"
    assert [_seq_and_text(f.data)[1] for f in await store.frames.after(session, 0)] == ["later", "the answer"]


async def test_a_frame_is_stored_as_encoded_whatever_its_text_quotes(store):
    session = (await store.open_session("demo", None)).session
    text = 'Quoted back: "seq":4611686018427387903, "seq":0 and {"seq": 7}'
    stored = await store.frames.append(session, "m1", True, _frame("m1", text))
    assert stored is not None and _seq_and_text(stored.data) == (1, text)
    assert [f.data for f in await store.frames.after(session, 0)] == [stored.data]


async def test_a_pending_action_is_kept_and_cleared(store):
    session = (await store.open_session("demo", None)).session
    pending = PendingAction(action="order_status", intent="track_order", asked="order_id")
    await store.record_message(_outcome(session, "m1", pending=pending, pending_changed=True))
    assert await store.pending_action(session) == pending
    await store.record_message(_outcome(session, "m2", pending=None, pending_changed=True))
    assert await store.pending_action(session) is None


async def test_replicas_appending_at_once_number_every_frame_once_and_store_one_final_answer(location, store):
    session = (await store.open_session("demo", None)).session
    replicas = [open_edge_store(location) for _ in range(3)]
    for replica in replicas:
        await replica.open()
    try:
        appended = await asyncio.gather(*(
            replica.frames.append(session, f"r{n}-{i}", False, _frame(f"r{n}-{i}", "notice"))
            for n, replica in enumerate(replicas) for i in range(20)))
        finals = await asyncio.gather(*(
            replica.frames.append(session, "the-message", True, _frame("the-message", "final")) for replica in replicas
            for _ in range(3)))
    finally:
        for replica in replicas:
            await replica.close()
    assert sorted(f.seq for f in appended if f is not None) == list(range(1, 61))
    assert sum(f is not None for f in finals) == 1, "one final answer per message, whoever stores it"
    frames = await store.frames.after(session, 0)
    assert [f.seq for f in frames] == list(range(1, 62))
    assert [_seq_and_text(f.data)[0] for f in frames] == list(range(1, 62))
    assert await store.frames.has_final(session, "the-message")


async def test_an_outbox_item_is_leased_to_one_replica_until_it_is_retried_or_done(location, store):
    session = (await store.open_session("demo", None)).session
    await store.outbox.enqueue("k1", session, "m1", b"request")
    await store.outbox.enqueue("k1", session, "m1", b"again")  # enqueued once
    other = open_edge_store(location)
    await other.open()
    try:
        claims = await asyncio.gather(store.outbox.claim("k1", 30), other.outbox.claim("k1", 30))
        assert sum(c is not None for c in claims) == 1
        claimed = next(c for c in claims if c is not None)
        assert (claimed.request, claimed.attempts) == (b"request", 1)
        assert await other.outbox.due() == [], "leased: no replica picks it up"
        await store.outbox.retry_later("k1", 0.0, "UNAVAILABLE")
        assert await other.outbox.due() == ["k1"]
        assert (await other.outbox.claim("k1", 30)).attempts == 2
        assert await store.outbox.pending_for(session) == ["m1"]
        await other.outbox.done("k1")
    finally:
        await other.close()
    assert await store.outbox.depth() == 0 and await store.outbox.pending_for(session) == []
    await store.outbox.enqueue("k2", session, "m2", b"bad")
    await store.outbox.dead("k2", "INVALID_ARGUMENT: too long")
    assert await store.outbox.depth() == 0 and await store.outbox.claim("k2", 30) is None
    assert await store.outbox.dead_count() == 1


async def test_pruning_deletes_answered_items_only(store):
    session = (await store.open_session("demo", None)).session
    for key in ("done", "pending", "dead"):
        await store.outbox.enqueue(key, session, key, b"request")
    claimed = await store.outbox.claim("done", 30)
    assert claimed is not None and claimed.created_at > 0
    await store.outbox.done("done")
    await store.outbox.dead("dead", "gave up")
    assert await store.outbox.prune(done_before=claimed.created_at - 1) == 0, "not old enough yet"
    assert await store.outbox.prune(done_before=claimed.created_at + 3600) == 1
    assert await store.outbox.depth() == 1 and await store.outbox.dead_count() == 1


async def test_a_delivery_is_one_frame_and_settings_are_shared(location, store):
    session = (await store.open_session("demo", None)).session
    other = open_edge_store(location)
    await other.open()
    try:
        results = await asyncio.gather(*(s.deliver("d-1", session, "m1", _frame("m1", "reply"))
                                         for s in (store, other, store)))
        assert sum(r.frame is not None for r in results) == 1 and all(r.known for r in results)
        await other.set_setting("bundle:demo", "/bundles/v2")
    finally:
        await other.close()
    assert [_seq_and_text(f.data) for f in await store.frames.after(session, 0)] == [(1, "reply")]
    assert not (await store.deliver("d-2", "no-such-session", "m1", _frame("m1", "x"))).known
    assert await store.setting("bundle:demo") == "/bundles/v2"
    assert [s for s, _ in await store.delivered_since(0)] == [session]


async def test_a_forgotten_customer_is_erased_and_nobody_else(store):
    alice = (await store.open_session("demo", None, "c-alice")).session
    bob = (await store.open_session("demo", None, "c-bob")).session
    anonymous = (await store.open_session("demo", None)).session
    for session in (alice, bob, anonymous):
        await store.record_message(_outcome(session, "m1", pending=PendingAction(
            action="order_status", intent="track_order", asked="order_id"), pending_changed=True))
    await store.outbox.enqueue(f"{alice}:m2", alice, "m2", b"request")
    assert await store.forget_customer("c-alice") >= 4
    assert not (await store.open_session("demo", alice, "c-alice")).resumed
    assert await store.conversation(alice) == [] and await store.frames.after(alice, 0) == []
    assert await store.pending_action(alice) is None and await store.outbox.pending_for(alice) == []
    assert await store.conversation(bob) == [("m1", "hi")] and await store.conversation(anonymous) == [("m1", "hi")]
    assert await store.forget_customer("") == 0, "anonymous shoppers are not one customer"
    assert len(await store.ledger()) == 3, "the cost ledger keeps its rows (no text, no customer)"


async def test_retention_erases_sessions_idle_past_the_cutoff(store):
    import time

    old = (await store.open_session("demo", None, "c-1")).session
    await store.record_message(_outcome(old, "m1"))
    cutoff = time.time() + 0.001
    await asyncio.sleep(0.01)
    fresh = (await store.open_session("demo", None, "c-2")).session
    await store.record_message(_outcome(fresh, "m1"))
    assert await store.purge_older_than(cutoff) >= 2
    assert await store.conversation(old) == [] and await store.conversation(fresh) == [("m1", "hi")]


async def test_a_message_of_a_session_erased_meanwhile_leaves_nothing_behind(store):
    session = (await store.open_session("demo", None, "c-gone")).session
    await store.forget_customer("c-gone")
    for answered in (True, False):  # an edge answer, and an escalation (no frame, an outbox row)
        queued = None if answered else Queued(f"{session}:m-{answered}", b"request")
        with pytest.raises(SessionGone):
            await store.record_message(_outcome(session, f"m-{answered}", answer=answered, escalation=queued))
    assert await store.conversation(session) == [] and await store.ledger() == []
    assert await store.outbox.depth() == 0
