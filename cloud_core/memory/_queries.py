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

DELETE_ESCALATIONS = "DELETE FROM escalations WHERE tenant = ? AND customer = ?"
# Erasure also takes what hangs off the customer's escalations and hand-offs: resolutions (their
# message is the escalation's), the hand-offs' event log and deliveries (a person's replies).
_CUSTOMER_ESCALATIONS = "SELECT id FROM escalations WHERE tenant = ? AND customer = ?"
_CUSTOMER_HANDOFFS = "SELECT tenant, case_id FROM handoffs WHERE tenant = ? AND customer = ?"
DELETE_RESOLUTIONS = f"DELETE FROM resolutions WHERE escalation_id IN ({_CUSTOMER_ESCALATIONS})"
DELETE_CASE_EVENTS = f"DELETE FROM case_events WHERE (tenant, case_id) IN ({_CUSTOMER_HANDOFFS})"
DELETE_CASE_DELIVERIES = f"DELETE FROM deliveries WHERE (tenant, case_id) IN ({_CUSTOMER_HANDOFFS})"
DELETE_HANDOFFS = "DELETE FROM handoffs WHERE tenant = ? AND customer = ?"
EXPORT_ESCALATIONS = ("SELECT id, message, lang, intent, answer, created_at FROM escalations WHERE tenant = ? AND "
                      "customer = ? ORDER BY created_at")
EXPORT_CASES = ("SELECT case_id, order_id, procedure_name, state, created_at, updated_at FROM cases WHERE tenant = ? "
                "AND customer = ? ORDER BY created_at")
EXPORT_HANDOFFS = ("SELECT case_id, state, created_at FROM handoffs WHERE tenant = ? AND customer = ? "
                   "ORDER BY created_at")
EXPORT_REPLIES = ("SELECT idempotency_key, payload, created_at FROM replies WHERE tenant = ? AND customer = ? "
                  "ORDER BY created_at")
EXPORT_DELIVERIES = (f"SELECT payload FROM deliveries WHERE (tenant, case_id) IN ({_CUSTOMER_HANDOFFS}) "
                     "ORDER BY created_at")
INSERT_ESCALATION = ("INSERT INTO escalations (id, tenant, customer, message, lang, intent, answer, guarded, personal, "
                     "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")

# A dispute's case: the procedure's plan is written before the shop is called, so a retried or
# restarted escalation carries out the same plan (the shop replays each write by its key).
INSERT_CASE = ("INSERT INTO cases (tenant, customer, idempotency_key, case_id, order_id, procedure_name, state, plan, "
               "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (tenant, customer, idempotency_key) DO NOTHING")
SELECT_CASE = ("SELECT case_id, order_id, procedure_name, state, plan FROM cases WHERE tenant = ? AND customer = ? "
               "AND idempotency_key = ?")
UPDATE_CASE = ("UPDATE cases SET state = ?, plan = ?, updated_at = ? WHERE tenant = ? AND customer = ? "
               "AND idempotency_key = ?")
DELETE_CASES = "DELETE FROM cases WHERE tenant = ? AND customer = ?"
SELECT_CASE_COUNTS = "SELECT state, COUNT(*) FROM cases WHERE tenant = ? GROUP BY state"

# Learning is tenant-wide by design (an internal service distils a shop's resolved cases); the
# messages are redacted at the edge and a forgotten customer's escalations are deleted with them.
UPSERT_RESOLUTION = ("INSERT INTO resolutions (escalation_id, tenant, intent, answers, edge_could_answer, resolved_by, "
                     "flagged, resolved_at) SELECT id, tenant, ?, ?, ?, ?, ?, ? FROM escalations "
                     "WHERE tenant = ? AND id = ? ON CONFLICT (escalation_id) DO UPDATE SET intent = excluded.intent, "
                     "answers = excluded.answers, edge_could_answer = excluded.edge_could_answer, "
                     "resolved_by = excluded.resolved_by, flagged = excluded.flagged, "
                     "resolved_at = excluded.resolved_at")
SELECT_RESOLUTIONS = ("SELECT r.escalation_id, e.message, e.lang, r.intent, r.answers, r.edge_could_answer, "
                      "r.resolved_by, r.flagged, e.guarded, r.resolved_at FROM resolutions r JOIN escalations e "
                      "ON e.id = r.escalation_id WHERE r.tenant = ? AND r.resolved_at >= ? ORDER BY r.resolved_at")

# Retention runs over all customers but returns only a count, never rows.
PURGE_TURNS = "DELETE FROM turns WHERE created_at < ?"
PURGE_REPLIES = "DELETE FROM replies WHERE created_at < ?"
PURGE_RESOLUTIONS = ("DELETE FROM resolutions WHERE escalation_id IN (SELECT id FROM escalations WHERE "
                     "created_at < ?)")
PURGE_ESCALATIONS = "DELETE FROM escalations WHERE created_at < ?"
PURGE_CASES = "DELETE FROM cases WHERE updated_at < ?"
# A hand-off goes by its last activity, with its whole event log and its deliveries, never in part.
_IDLE_HANDOFFS = "SELECT tenant, case_id FROM handoffs WHERE updated_at < ?"
PURGE_CASE_EVENTS = f"DELETE FROM case_events WHERE (tenant, case_id) IN ({_IDLE_HANDOFFS})"
PURGE_DELIVERIES = f"DELETE FROM deliveries WHERE (tenant, case_id) IN ({_IDLE_HANDOFFS})"
PURGE_ERASURES = "DELETE FROM deliveries WHERE case_id = '' AND created_at < ?"
PURGE_HANDOFFS = "DELETE FROM handoffs WHERE updated_at < ?"
PURGE_DELIVERY_EDGES = "DELETE FROM delivery_edges WHERE last_seen < ?"
PURGE_ALL = (PURGE_TURNS, PURGE_REPLIES, PURGE_RESOLUTIONS, PURGE_ESCALATIONS, PURGE_CASES, PURGE_CASE_EVENTS,
             PURGE_DELIVERIES, PURGE_ERASURES, PURGE_HANDOFFS, PURGE_DELIVERY_EDGES)
"""In this order: a resolution before the escalation it is found by, a hand-off's events and
deliveries before the hand-off they are found by."""

CUSTOMER_STATEMENTS = (RECENT_TURNS, ALL_TURNS, SELECT_FACTS, SELECT_SUMMARY, SELECT_REPLY, DELETE_TURNS,
                       DELETE_FACTS, DELETE_SUMMARY, DELETE_REPLIES, DELETE_ESCALATIONS, SELECT_CASE, UPDATE_CASE,
                       DELETE_CASES, DELETE_RESOLUTIONS, DELETE_CASE_EVENTS, DELETE_CASE_DELIVERIES, DELETE_HANDOFFS,
                       EXPORT_ESCALATIONS, EXPORT_CASES, EXPORT_HANDOFFS, EXPORT_REPLIES, EXPORT_DELIVERIES)
INSERT_STATEMENTS = (INSERT_TURN, UPSERT_FACT, UPSERT_SUMMARY, INSERT_REPLY, INSERT_CASE)
SELECT_ESCALATIONS = ("SELECT e.id, e.message, e.lang, e.intent, e.answer, e.guarded, e.personal, e.created_at "
                      "FROM escalations e WHERE tenant = ? AND (? = 0 OR NOT EXISTS "
                      "(SELECT 1 FROM resolutions r WHERE r.escalation_id = e.id)) ORDER BY e.created_at")

# Hand-offs: a case a person must look at, its changes as a numbered event log (a helpdesk's watch
# resumes from a cursor), and what people wrote to the shopper until the edge acknowledges it.
INSERT_HANDOFF = ("INSERT INTO handoffs (tenant, case_id, customer, idempotency_key, state, view, route, follow_up_at, "
                  "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (tenant, case_id) DO NOTHING")
SELECT_HANDOFF = ("SELECT case_id, customer, idempotency_key, state, view, route, followed_up FROM handoffs "
                  "WHERE tenant = ? AND case_id = ?")
UPDATE_HANDOFF = ("UPDATE handoffs SET state = ?, view = ?, updated_at = ? WHERE tenant = ? AND case_id = ? "
                  "AND state = ?")
MARK_FOLLOWED_UP = ("UPDATE handoffs SET followed_up = 1, view = ?, updated_at = ? WHERE tenant = ? AND case_id = ? "
                    "AND followed_up = 0")
SELECT_OPEN_HANDOFFS = ("SELECT view FROM handoffs WHERE tenant = ? AND state <> 'closed' ORDER BY created_at")
SELECT_DUE_FOLLOW_UPS = ("SELECT case_id, customer, idempotency_key, state, view, route, followed_up FROM handoffs "
                         "WHERE tenant = ? AND followed_up = 0 AND follow_up_at <= ? "
                         "AND state IN ('flagged', 'person', 'proposed')")
INSERT_CASE_EVENT = ("INSERT INTO case_events (tenant, case_id, kind, view, at) VALUES (?, ?, ?, ?, ?) RETURNING seq")
# PostgreSQL: sequence numbers are taken in one order and may commit in another, so a watcher could
# read seq 7 before seq 6 commits and resume past it. A per-tenant lock held until the statement
# commits makes the numbers commit in order.
INSERT_CASE_EVENT_LOCKED = ("WITH l AS (SELECT pg_advisory_xact_lock(hashtext(?))) INSERT INTO case_events "
                            "(tenant, case_id, kind, view, at) SELECT ?, ?, ?, ?, ? FROM l RETURNING seq")
SELECT_CASE_EVENTS = ("SELECT seq, kind, view FROM case_events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?")
SELECT_LAST_CASE_EVENT = "SELECT COALESCE(MAX(seq), 0) FROM case_events WHERE tenant = ?"
INSERT_DELIVERY = ("INSERT INTO deliveries (delivery_id, tenant, edge, case_id, payload, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING")
SELECT_PENDING_DELIVERIES = ("SELECT payload FROM deliveries WHERE tenant = ? AND edge = ? AND acked_at IS NULL "
                             "ORDER BY created_at LIMIT ?")
ACK_DELIVERY = "UPDATE deliveries SET acked_at = ? WHERE tenant = ? AND delivery_id = ? AND acked_at IS NULL"
SELECT_DELIVERY = "SELECT acked_at FROM deliveries WHERE tenant = ? AND delivery_id = ?"
UPSERT_DELIVERY_EDGE = ("INSERT INTO delivery_edges (tenant, edge, last_seen) VALUES (?, ?, ?) "
                        "ON CONFLICT (tenant, edge) DO UPDATE SET last_seen = excluded.last_seen")
SELECT_DELIVERY_EDGES = "SELECT edge FROM delivery_edges WHERE tenant = ? AND last_seen >= ? ORDER BY edge"
# An erasure's delivery names the customer it erases: gone once the edge has applied it.
DELETE_ACKED_ERASURE = ("DELETE FROM deliveries WHERE tenant = ? AND delivery_id = ? AND case_id = '' "
                        "AND acked_at IS NOT NULL")

TENANT_STATEMENTS = (UPSERT_RESOLUTION, SELECT_RESOLUTIONS, SELECT_ESCALATIONS, SELECT_CASE_COUNTS, SELECT_HANDOFF,
                     UPDATE_HANDOFF, MARK_FOLLOWED_UP, SELECT_OPEN_HANDOFFS, SELECT_DUE_FOLLOW_UPS,
                     SELECT_CASE_EVENTS, SELECT_LAST_CASE_EVENT, SELECT_PENDING_DELIVERIES, ACK_DELIVERY,
                     SELECT_DELIVERY, SELECT_DELIVERY_EDGES, DELETE_ACKED_ERASURE)
TENANT_INSERTS = (INSERT_HANDOFF, INSERT_CASE_EVENT, INSERT_CASE_EVENT_LOCKED, INSERT_DELIVERY, UPSERT_DELIVERY_EDGE)
# The one cross-tenant read: which tenants have a follow-up due (tenant ids only, never rows).
FOLLOW_UP_TENANTS = "SELECT DISTINCT tenant FROM handoffs WHERE followed_up = 0 AND follow_up_at <= ?"
GLOBAL_STATEMENTS = PURGE_ALL
