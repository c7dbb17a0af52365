"""Prometheus metrics of one edge node, in its own registry (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["EdgeMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "triage_edge_messages", "Client frames by outcome", ["outcome"], registry=self.registry
        )
        self.decisions = Counter(
            "triage_edge_decisions", "Router decisions", ["decision", "lang"], registry=self.registry
        )
        self.latency = Histogram(
            "triage_edge_answer_seconds",
            "Time from receiving a message to sending its answer",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sessions = Counter("triage_edge_sessions", "Sessions opened or resumed", ["kind"],
                                registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
