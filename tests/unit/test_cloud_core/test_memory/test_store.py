"""The memory store: one suite, both backends, and no path from one customer to another's rows."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_core.memory import _queries as q
from cloud_core.memory import open_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    url = f"sqlite:///{tmp_path}/memory.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    memory = open_store(url)
    await memory.open()
    yield memory
    await memory.close()


async def test_turns_come_back_oldest_first_and_bounded(store):
    alice = store.customer("demo", "alice")
    for i in range(5):
        await alice.add_turn("shopper", f"message {i}")
    recent = await alice.turns(limit=3)
    assert [t.text for t in recent] == ["message 2", "message 3", "message 4"]


async def test_a_newer_fact_replaces_the_old_value_and_its_provenance(store):
    alice = store.customer("demo", "alice")
    await alice.put_fact("preferred_carrier", "DHL", "escalation:e1")
    await alice.put_fact("preferred_carrier", "UPS", "agent:maria")
    facts = await alice.facts()
    assert [(f.key, f.value, f.source) for f in facts] == [("preferred_carrier", "UPS", "agent:maria")]


async def test_summary_is_rolling(store):
    alice = store.customer("demo", "alice")
    assert await alice.summary() == ""
    await alice.set_summary("asked about order 1001")
    await alice.set_summary("order 1001 refunded")
    assert await alice.summary() == "order 1001 refunded"


async def test_a_reply_is_stored_once_per_idempotency_key(store):
    alice = store.customer("demo", "alice")
    assert await alice.reply("k1") is None
    assert await alice.save_reply("k1", b"first") is True
    assert await alice.save_reply("k1", b"second") is False
    assert await alice.reply("k1") == b"first"


async def _a_handled_dispute(store, customer: str, key: str) -> None:
    """An escalation with its answer, its resolution, a hand-off with an event and a person's reply."""
    from protos.triage.v1 import escalation_pb2 as pb

    scope = store.customer("demo", customer)
    await scope.add_turn("shopper", "hello")
    await scope.put_fact("k", "v", "test")
    await scope.set_summary("s")
    await scope.save_reply(key, pb.Final(text=f"answer for {customer}").SerializeToString())
    await scope.record_escalation(f"esc-{customer}", f"my parcel {customer}", "en", "parcel", "sorry",
                                  guarded=False, personal=True)
    assert await store.learning("demo").resolve(f"esc-{customer}", "parcel_lost", {"en": "We resend it."},
                                                edge_could_answer=False, resolved_by="agent:maria", flagged=False)
    cases = store.cases("demo")
    assert await cases.open(f"case-{customer}", customer, key, "open", b"view", b"route", time.time() + 900)
    await cases.add_event(f"case-{customer}", "opened", b"view")
    reply = pb.Delivery(delivery_id=f"d-{customer}", tenant="demo", case_id=f"case-{customer}", kind="human",
                        text=f"Maria to {customer}", author="Maria")
    await cases.add_delivery(reply.delivery_id, "edge-1", f"case-{customer}", reply.SerializeToString())


async def test_export_holds_every_row_of_the_customer_and_is_json(store):
    await _a_handled_dispute(store, "alice", "k1")
    document = json.loads(json.dumps(await store.customer("demo", "alice").export()))
    assert document["customer"] == "alice"
    assert [t["text"] for t in document["turns"]] == ["hello"]
    assert document["facts"][0]["source"] == "test" and document["summary"] == "s"
    # The old export held turns, facts and the summary only.
    assert [e["message"] for e in document["escalations"]] == ["my parcel alice"]
    assert [a["text"] for a in document["answers"]] == ["answer for alice"]
    assert [h["case_id"] for h in document["handoffs"]] == ["case-alice"]
    assert [(m["author"], m["text"]) for m in document["messages_from_people"]] == [("Maria", "Maria to alice")]


async def test_forget_deletes_one_customer_and_nobody_else(store):
    for customer in ("alice", "bob"):
        await _a_handled_dispute(store, customer, "key")
    alice, bob = store.customer("demo", "alice"), store.customer("demo", "bob")
    counts = await alice.forget()
    assert (counts.turns, counts.facts, counts.summaries, counts.replies) == (1, 1, 1, 1)
    assert counts.cases == 5  # resolution, escalation, hand-off, its event and its delivery
    exported = await alice.export()
    assert all(not exported[key] for key in ("turns", "facts", "summary", "escalations", "answers", "handoffs",
                                             "messages_from_people"))
    # The old forget left the resolution (and the hand-off with the person's reply) behind.
    assert [r.escalation_id for r in await store.learning("demo").resolutions()] == ["esc-bob"]
    assert await store.cases("demo").get("case-alice") is None and await store.cases("demo").get("case-bob")
    assert len(await bob.turns()) == 1 and await bob.summary() == "s" and await bob.reply("key")


async def test_retention_purges_every_old_row_for_everyone(store):
    old = time.time() - 400 * 86400
    alice, bob = store.customer("demo", "alice"), store.customer("other-shop", "bob")
    await alice.add_turn("shopper", "old", at=old)
    await bob.add_turn("shopper", "old", at=old)
    await alice.add_turn("shopper", "new")
    assert await store.purge_older_than(time.time() - 365 * 86400) == 2
    assert [t.text for t in await alice.turns()] == ["new"]
    assert await bob.turns() == []
    await _a_handled_dispute(store, "carol", "k")
    assert await store.purge_older_than(time.time() + 1) >= 7, "escalations, cases and hand-offs age out too"
    exported = await store.customer("demo", "carol").export()
    assert not exported["escalations"] and not exported["handoffs"] and not exported["messages_from_people"]
    assert await store.learning("demo").resolutions() == []


async def test_migrations_are_recorded_and_reopening_is_a_no_op(store):
    version = await store.schema_version()
    assert version >= 1
    await store.close()
    await store.open()
    assert await store.schema_version() == version


def test_anonymous_shoppers_have_no_memory():
    store = open_store("sqlite:///:memory:")
    with pytest.raises(ValueError, match="anonymous"):
        store.customer("demo", "")


def test_an_unknown_url_says_which_urls_work():
    with pytest.raises(ValueError, match=r"sqlite:///.*postgresql://"):
        open_store("mysql://localhost/db")


def test_every_customer_statement_is_bound_to_tenant_and_customer():
    for statement in q.CUSTOMER_STATEMENTS:
        assert re.search(r"WHERE tenant = \? AND customer = \?", statement), statement
    for statement in q.INSERT_STATEMENTS:
        assert re.search(r"\(tenant, customer,", statement), statement
    for statement in q.TENANT_STATEMENTS:
        assert re.search(r"tenant = \?", statement), statement
    for statement in q.TENANT_INSERTS:
        assert re.search(r"\((delivery_id, )?tenant,", statement), statement
    for statement in q.GLOBAL_STATEMENTS:
        assert statement.startswith("DELETE"), f"a cross-customer statement may only delete: {statement}"
    assert q.FOLLOW_UP_TENANTS.startswith("SELECT DISTINCT tenant FROM"), "the cross-tenant read lists tenant ids only"


_ids = st.sampled_from(["alice", "bob", "Alice", "alice ", "al'ice", "bob;--"])
_tenants = st.sampled_from(["demo", "other", "DEMO"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.tuples(_tenants, _ids, st.text(min_size=1, max_size=20)), min_size=1, max_size=12))
async def test_no_customer_ever_reads_another_customers_rows(tmp_path_factory, writes):
    memory = open_store(f"sqlite:///{tmp_path_factory.mktemp('iso')}/m.db")
    await memory.open()
    try:
        for tenant, customer, text in writes:
            scope = memory.customer(tenant, customer)
            await scope.add_turn("shopper", f"{tenant}|{customer}|{text}")
            await scope.put_fact(f"{tenant}|{customer}", text, "test")
        for tenant, customer in {(t, c) for t, c, _ in writes}:
            exported = await memory.customer(tenant, customer).export()
            assert all(t["text"].startswith(f"{tenant}|{customer}|") for t in exported["turns"])
            assert all(f["key"] == f"{tenant}|{customer}" for f in exported["facts"])
    finally:
        await memory.close()


async def test_an_erasure_sent_to_an_edge_is_deleted_once_acknowledged_and_stale_edges_get_none(store):
    cases = store.cases("demo")
    await cases.note_edge("edge-1")
    assert await cases.edges(seen_since=time.time() - 60) == ["edge-1"]
    assert await cases.edges(seen_since=time.time() + 60) == [], "a name not seen for long is no edge any more"
    await cases.add_delivery("forget-1", "edge-1", "", b"names the customer")
    assert await cases.pending_deliveries("edge-1") == [b"names the customer"]
    assert await cases.ack_delivery("forget-1")
    assert await cases.pending_deliveries("edge-1") == []
    assert not await cases.ack_delivery("forget-1"), "the acknowledged erasure no longer exists"
