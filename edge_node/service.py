"""One edge node: a loaded bundle and the policy that turns a message into an answer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edge_node.knowledge import Knowledge, load_knowledge
from edge_node.metrics import EdgeMetrics
from edge_node.router import Decision, Router
from edge_node.sessions import SessionRegistry
from edge_node.understanding import Analysis, Understanding

if TYPE_CHECKING:
    from pathlib import Path

    from triage.config import EdgeConfig

__all__ = ["EdgeService", "Reply"]


@dataclass(frozen=True)
class Reply:
    analysis: Analysis
    decision: Decision
    source: str
    elapsed_s: float


@dataclass
class EdgeService:
    knowledge: Knowledge
    config: EdgeConfig
    understanding: Understanding = field(init=False)
    router: Router = field(init=False)
    metrics: EdgeMetrics = field(default_factory=EdgeMetrics)
    sessions: SessionRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.understanding = Understanding(self.knowledge, self.config.langid)
        self.router = Router(self.knowledge.catalog, self.knowledge.calibration)
        self.sessions = SessionRegistry(self.config.max_sessions)

    @classmethod
    def from_bundle(cls, bundle: Path, config: EdgeConfig) -> EdgeService:
        return cls(load_knowledge(bundle, threads=config.encoder_threads), config)

    @property
    def storefront(self) -> str:
        return self.knowledge.catalog.storefront.id

    def reply(self, text: str, previous_lang: str | None) -> Reply:
        started = time.perf_counter()
        analysis = self.understanding.analyze(text, previous_lang)
        decision = self.router.decide(analysis)
        # Without a cloud tier attached, an escalation is acknowledged honestly as queued.
        source = "queued" if decision.kind == "escalate" else "edge"
        self.metrics.decisions.labels(decision.kind, decision.lang).inc()
        return Reply(analysis, decision, source, time.perf_counter() - started)
