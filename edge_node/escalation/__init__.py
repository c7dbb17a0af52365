"""Edge -> cloud escalation: the gRPC client and the durable outbox relay (its breaker is triage.connector.breaker)."""
