"""Prometheus metrics of one edge node, in its own registry (no process-global state).

With several worker processes (``[edge] workers``), ``triage edge`` points
``PROMETHEUS_MULTIPROC_DIR`` at a folder the workers share; every worker then writes its samples
there and ``/metrics`` on any worker reports the whole node.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from triage.cpu import cpu_labels

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
        self.scoring = Counter(
            "triage_edge_scoring_path",
            "Messages by how their intent was scored: catalog (regression), thin (vote checked by the "
            "regression: a thinly covered catalog language), outside (vote: a language without examples)",
            ["path"], registry=self.registry,
        )
        self.latency = Histogram(
            "triage_edge_answer_seconds",
            "Time from receiving a message to sending its answer",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sessions = Counter("triage_edge_sessions", "Sessions opened or resumed", ["kind"],
                                registry=self.registry)
        self.escalations = Counter("triage_edge_escalations", "Escalations by outcome", ["outcome"],
                                   registry=self.registry)
        self.cloud_tokens = Counter("triage_edge_cloud_tokens", "Cloud tokens by kind", ["kind"],
                                    registry=self.registry)
        self.cost = Counter("triage_edge_cost_usd", "Priced cost by tier (edge, cloud)", ["tier"],
                            registry=self.registry)
        self.cloud_latency = Histogram("triage_edge_cloud_answer_seconds", "Escalation attempt to final answer",
                                       buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=self.registry)
        self.cache = Counter("triage_edge_semantic_cache", "Semantic cache events (hit, miss, stored)", ["event"],
                             registry=self.registry)
        self.live_sessions = Gauge("triage_edge_live_sessions", "Sessions with a connection to this node now",
                                   registry=self.registry, multiprocess_mode="livesum")
        self.actions = Counter("triage_edge_actions", "Actions run against the shop, by outcome "
                               "(answered, asking for a detail, handoff)", ["action", "outcome"],
                               registry=self.registry)
        self.reloads = Counter("triage_edge_bundle_reloads", "Bundles swapped in while serving",
                               registry=self.registry)
        self.deliveries = Counter("triage_edge_deliveries", "People's replies and follow-ups from the cloud: "
                                  "stored (a new frame), repeated (stored before), unknown_session, error",
                                  ["outcome"], registry=self.registry)
        self.outbox_dead = Gauge("triage_edge_outbox_dead", "Escalations given up (refused as invalid, too many "
                                 "attempts, too old): the shopper got an honest answer, a person may look",
                                 registry=self.registry, multiprocess_mode="max")
        self.outbox_depth = Gauge("triage_edge_outbox_depth", "Escalations waiting for the cloud",
                                  registry=self.registry, multiprocess_mode="max")  # one store: same value
        # A Gauge at 1, not an Info: Info has no multiprocess mode, and every worker sees the same CPU.
        self.cpu = Gauge("triage_edge_cpu", "The CPU this node runs on and the int8 kernel ONNX Runtime picks there",
                         ["model", "isa_class", "int8_kernel"], registry=self.registry, multiprocess_mode="max")
        self.cpu.labels(**cpu_labels()).set(1)

    def render(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not folder:
            return generate_latest(self.registry)
        node = CollectorRegistry()
        MultiProcessCollector(node, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(node)
