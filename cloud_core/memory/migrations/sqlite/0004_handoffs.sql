CREATE TABLE handoffs (
    tenant TEXT NOT NULL,
    case_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL,
    view BLOB NOT NULL,
    route BLOB NOT NULL,
    follow_up_at REAL NOT NULL,
    followed_up INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (tenant, case_id)
);
CREATE INDEX handoffs_open ON handoffs (tenant, state);
CREATE INDEX handoffs_follow_up ON handoffs (followed_up, follow_up_at);
CREATE TABLE case_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    view BLOB NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX case_events_by_tenant ON case_events (tenant, seq);
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    edge TEXT NOT NULL,
    case_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    acked_at REAL
);
CREATE INDEX deliveries_pending ON deliveries (tenant, edge, acked_at, created_at)
