CREATE TABLE handoffs (
    tenant TEXT NOT NULL,
    case_id TEXT NOT NULL,
    customer TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL,
    view BYTEA NOT NULL,
    route BYTEA NOT NULL,
    follow_up_at DOUBLE PRECISION NOT NULL,
    followed_up INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, case_id)
);
CREATE INDEX handoffs_open ON handoffs (tenant, state);
CREATE INDEX handoffs_follow_up ON handoffs (followed_up, follow_up_at);
CREATE TABLE case_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    view BYTEA NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX case_events_by_tenant ON case_events (tenant, seq);
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    edge TEXT NOT NULL,
    case_id TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    acked_at DOUBLE PRECISION
);
CREATE INDEX deliveries_pending ON deliveries (tenant, edge, acked_at, created_at)
