"""Every SQL statement of the memory store, shared by both backends (``?`` placeholders).

Each statement that reads or changes customer rows starts its WHERE clause with
``tenant = ? AND customer = ?``; ``tests/unit/test_cloud_core/test_memory.py`` checks that.
"""

from __future__ import annotations

__all__: list[str] = []

INSERT_TURN = "INSERT INTO turns (tenant, customer, role, text, escalation_id, created_at) VALUES (?, ?, ?, ?, ?, ?)"
RECENT_TURNS = ("SELECT role, text, escalation_id, created_at FROM turns WHERE tenant = ? AND customer = ? "
                "ORDER BY id DESC LIMIT ?")
ALL_TURNS = ("SELECT role, text, escalation_id, created_at FROM turns WHERE tenant = ? AND customer = ? "
             "ORDER BY id")
UPSERT_FACT = ("INSERT INTO facts (tenant, customer, key, value, source, recorded_at) VALUES (?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (tenant, customer, key) DO UPDATE SET value = excluded.value, "
               "source = excluded.source, recorded_at = excluded.recorded_at")
SELECT_FACTS = "SELECT key, value, source, recorded_at FROM facts WHERE tenant = ? AND customer = ? ORDER BY key"
SELECT_SUMMARY = "SELECT text FROM summaries WHERE tenant = ? AND customer = ?"
UPSERT_SUMMARY = ("INSERT INTO summaries (tenant, customer, text, updated_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (tenant, customer) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at")
SELECT_REPLY = "SELECT payload FROM replies WHERE tenant = ? AND customer = ? AND idempotency_key = ?"
INSERT_REPLY = ("INSERT INTO replies (tenant, customer, idempotency_key, payload, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (tenant, customer, idempotency_key) DO NOTHING")
DELETE_TURNS = "DELETE FROM turns WHERE tenant = ? AND customer = ?"
DELETE_FACTS = "DELETE FROM facts WHERE tenant = ? AND customer = ?"
DELETE_SUMMARY = "DELETE FROM summaries WHERE tenant = ? AND customer = ?"
DELETE_REPLIES = "DELETE FROM replies WHERE tenant = ? AND customer = ?"

# Retention runs over all customers but returns only a count, never rows.
PURGE_TURNS = "DELETE FROM turns WHERE created_at < ?"
PURGE_REPLIES = "DELETE FROM replies WHERE created_at < ?"

CUSTOMER_STATEMENTS = (RECENT_TURNS, ALL_TURNS, SELECT_FACTS, SELECT_SUMMARY, SELECT_REPLY, DELETE_TURNS,
                       DELETE_FACTS, DELETE_SUMMARY, DELETE_REPLIES)
INSERT_STATEMENTS = (INSERT_TURN, UPSERT_FACT, UPSERT_SUMMARY, INSERT_REPLY)
GLOBAL_STATEMENTS = (PURGE_TURNS, PURGE_REPLIES)
