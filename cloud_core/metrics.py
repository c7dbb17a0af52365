"""Prometheus metrics of the cloud core, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from triage.cpu import cpu_labels

__all__ = ["CloudMetrics"]


class CloudMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.escalations = Counter("triage_cloud_escalations", "Escalations by outcome", ["outcome"],
                                   registry=self.registry)
        self.tokens = Counter("triage_cloud_tokens", "Tokens by kind (input, cached_input, output)", ["kind"],
                              registry=self.registry)
        self.draft_proposed = Counter("triage_cloud_draft_tokens_proposed", "Speculative draft tokens proposed",
                                      registry=self.registry)
        self.draft_accepted = Counter("triage_cloud_draft_tokens_accepted", "Speculative draft tokens accepted",
                                      registry=self.registry)
        self.acceptance_rate = Gauge("triage_cloud_speculation_acceptance_rate",
                                     "Accepted / proposed draft tokens since start", registry=self.registry)
        self.guarded = Counter("triage_cloud_guarded_answers",
                               "Answers replaced by the safe template (an ungrounded claim, or nothing left to send)",
                               registry=self.registry)
        self.repetition_cuts = Counter("triage_cloud_repetition_cuts",
                                       "Answers ended at the first sentence that repeated an earlier one",
                                       registry=self.registry)
        self.queue_rejections = Counter("triage_cloud_queue_rejections", "Calls refused with RESOURCE_EXHAUSTED",
                                        registry=self.registry)
        self.ttft = Histogram("triage_cloud_ttft_seconds", "Time to first token", registry=self.registry,
                              buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        self.procedures = Counter("triage_cloud_procedure_cases", "Disputes decided by a shop procedure, by outcome",
                                  ["procedure", "outcome"], registry=self.registry)
        self.procedure_latency = Histogram("triage_cloud_procedure_seconds", "Time to decide and carry out a "
                                           "procedure (shop reads and writes included)", registry=self.registry,
                                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))
        self.cases = Counter("triage_cloud_cases", "Hand-off case events (opened, replied, approved, rejected, "
                             "followed_up, closed)", ["kind"], registry=self.registry)
        self.deliveries = Counter("triage_cloud_deliveries", "Replies to shoppers queued for an edge, and acknowledged",
                                  ["outcome"], registry=self.registry)
        self.cpu = Gauge("triage_cloud_cpu", "The CPU of this replica and the int8 kernel ONNX Runtime picks there",
                         ["model", "isa_class", "int8_kernel"], registry=self.registry)
        self.cpu.labels(**cpu_labels()).set(1)

    def speculation(self, proposed: int, accepted: int) -> None:
        self.draft_proposed.inc(proposed)
        self.draft_accepted.inc(accepted)
        total = self.draft_proposed._value.get()
        if total:
            self.acceptance_rate.set(self.draft_accepted._value.get() / total)
