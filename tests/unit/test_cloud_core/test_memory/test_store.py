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


async def test_export_holds_every_row_and_is_json(store):
    alice = store.customer("demo", "alice")
    await alice.add_turn("shopper", "where is my parcel?", "e1")
    await alice.put_fact("order_id", "A-1001", "context:order_id")
    await alice.set_summary("waiting for A-1001")
    document = json.loads(json.dumps(await alice.export()))
    assert document["customer"] == "alice"
    assert [t["text"] for t in document["turns"]] == ["where is my parcel?"]
    assert document["facts"][0]["source"] == "context:order_id"
    assert document["summary"] == "waiting for A-1001"


async def test_forget_deletes_one_customer_and_nobody_else(store):
    alice, bob = store.customer("demo", "alice"), store.customer("demo", "bob")
    for scope in (alice, bob):
        await scope.add_turn("shopper", "hello")
        await scope.put_fact("k", "v", "test")
        await scope.set_summary("s")
        await scope.save_reply("key", b"x")
    counts = await alice.forget()
    assert (counts.turns, counts.facts, counts.summaries, counts.replies) == (1, 1, 1, 1)
    assert await alice.export() == {"tenant": "demo", "customer": "alice", "turns": [], "facts": [], "summary": ""}
    assert len(await bob.turns()) == 1 and await bob.summary() == "s" and await bob.reply("key") == b"x"


async def test_retention_purges_old_turns_for_everyone(store):
    old = time.time() - 400 * 86400
    alice, bob = store.customer("demo", "alice"), store.customer("other-shop", "bob")
    await alice.add_turn("shopper", "old", at=old)
    await bob.add_turn("shopper", "old", at=old)
    await alice.add_turn("shopper", "new")
    assert await store.purge_older_than(time.time() - 365 * 86400) == 2
    assert [t.text for t in await alice.turns()] == ["new"]
    assert await bob.turns() == []


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
