-- The edge nodes of each tenant that subscribed to deliveries: where a customer's erasure is sent.
CREATE TABLE delivery_edges (
    tenant TEXT NOT NULL,
    edge TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (tenant, edge)
);
CREATE INDEX escalations_by_age ON escalations (created_at);
CREATE INDEX handoffs_by_customer ON handoffs (tenant, customer)
