"""The cloud core: gRPC escalation service, LLM backends, grounding guard and customer memory."""
