CREATE TABLE cases (
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    case_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    procedure_name TEXT NOT NULL,
    state TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, customer, idempotency_key)
);
CREATE UNIQUE INDEX cases_by_id ON cases (tenant, case_id);
CREATE INDEX cases_by_state ON cases (tenant, state, created_at)
