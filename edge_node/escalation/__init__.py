"""Edge -> cloud escalation: the gRPC client, its circuit breaker, and the durable outbox relay."""
