CREATE TABLE escalations (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    customer TEXT NOT NULL,
    message TEXT NOT NULL,
    lang TEXT NOT NULL,
    intent TEXT NOT NULL,
    answer TEXT NOT NULL,
    guarded INTEGER NOT NULL,
    personal INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX escalations_by_customer ON escalations (tenant, customer);
CREATE TABLE resolutions (
    escalation_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    intent TEXT NOT NULL,
    answers TEXT NOT NULL,
    edge_could_answer INTEGER NOT NULL,
    resolved_by TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    resolved_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX resolutions_by_tenant ON resolutions (tenant, resolved_at);
