CREATE TABLE turns (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    escalation_id TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX turns_by_customer ON turns (tenant, customer, id);
CREATE INDEX turns_by_age ON turns (created_at);
CREATE TABLE facts (
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, customer, key)
);
CREATE TABLE summaries (
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    text TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, customer)
);
CREATE TABLE replies (
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, customer, idempotency_key)
);
