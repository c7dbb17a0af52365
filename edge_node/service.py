"""One edge node: a loaded bundle, the policy that turns a message into an answer, and its store."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edge_node.escalation.relay import Escalator
from edge_node.knowledge import Knowledge, load_knowledge
from edge_node.metrics import EdgeMetrics
from edge_node.redaction import redact
from edge_node.router import Decision, Router
from edge_node.semantic_cache import SemanticCache
from edge_node.signals import ConversationSignals, conversation_signals, dispute_signals
from edge_node.store import EdgeStore
from edge_node.understanding import Analysis, Understanding
from protos.triage.v1 import escalation_pb2 as pb
from triage.bundle.manifest import BundleError
from triage.bundle.signing import parse_keys
from triage.config import CostConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from triage.config import EdgeConfig

__all__ = ["EdgeService", "Reply"]

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    analysis: Analysis
    decision: Decision
    elapsed_s: float
    conversation: ConversationSignals


@dataclass
class EdgeService:
    knowledge: Knowledge
    config: EdgeConfig
    cost: CostConfig = field(default_factory=CostConfig)
    metrics: EdgeMetrics = field(default_factory=EdgeMetrics)
    store: EdgeStore = field(init=False)
    escalator: Escalator = field(init=False)

    def __post_init__(self) -> None:
        self._pipeline = (Understanding(self.knowledge, self.config.langid), self._router_for(self.knowledge))
        """Swapped in one assignment on reload: a reply in flight sees the old pair or the new one, whole."""
        # One thread runs the understanding pipeline: the encoder releases the GIL, so the event loop
        # keeps reading and writing frames meanwhile (bench: p50 and p99 at 200 paced sessions -25-30%).
        self._understanding_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-understand")
        self.store = EdgeStore(self.config.store)
        self.escalator = Escalator(self.store, None, self.config, self.cost, self.metrics)
        self.escalator.on_answer = self._remember
        self.cache = SemanticCache(self.config.cache_min_similarity, self.config.cache_ttl_s, self.config.cache_entries)
        self.cache.invalidate(self.knowledge.manifest.catalog_hash)

    def _router_for(self, knowledge: Knowledge) -> Router:
        """The configured knob wins; a negative one means the bundle's calibrated value."""
        knob = self.config.cost_quality if self.config.cost_quality >= 0 else None
        return Router(knowledge.catalog, knowledge.calibration, knob)

    @classmethod
    def from_bundle(cls, bundle: Path, config: EdgeConfig, cost: CostConfig | None = None) -> EdgeService:
        keys = parse_keys(config.bundle_keys)
        return cls(load_knowledge(bundle, threads=config.encoder_threads, keys=keys), config, cost or CostConfig())

    async def reload(self, bundle: Path) -> Knowledge:
        """Load a new bundle beside the running one and swap it in at once when it is ready.

        Loading (checksums, signature, encoder session, index) runs in a worker thread while the
        old bundle keeps answering; the (understanding, router) pair is replaced in one assignment,
        and a reply reads it once, so a message is analysed by the old bundle or the new one, never
        by a mix (replies run on the understanding thread, not between awaits). Open websockets and
        their sessions are untouched. A bundle that fails to load leaves the old one in place.
        """
        keys = parse_keys(self.config.bundle_keys)
        knowledge = await asyncio.to_thread(load_knowledge, bundle, threads=self.config.encoder_threads, keys=keys)
        if knowledge.catalog.storefront.id != self.storefront:
            raise BundleError(f"{bundle} is for storefront {knowledge.catalog.storefront.id!r}, this edge serves "
                              f"{self.storefront!r}")
        understanding = await asyncio.to_thread(Understanding, knowledge, self.config.langid)
        router = self._router_for(knowledge)
        self.knowledge, self._pipeline = knowledge, (understanding, router)
        if knowledge.manifest.catalog_hash != self.cache.catalog_hash:
            self.cache.invalidate(knowledge.manifest.catalog_hash)  # a new catalog may change the right answers
        self.metrics.reloads.inc()
        return knowledge

    @property
    def understanding(self) -> Understanding:
        return self._pipeline[0]

    @property
    def router(self) -> Router:
        return self._pipeline[1]

    @property
    def _bundle_setting(self) -> str:
        return f"bundle:{self.storefront}"

    async def swap_bundle(self, bundle: Path) -> Knowledge:
        """Reload here, then record the bundle in the store so the other workers follow."""
        knowledge = await self.reload(bundle)
        await self.store.set_setting(self._bundle_setting, str(knowledge.path))
        return knowledge

    async def _follow_bundle(self) -> None:
        """Serve the bundle another worker on this store swapped in (a failed one is not retried)."""
        failed: str | None = None
        while True:
            await asyncio.sleep(self.config.bundle_poll_s)
            wanted = await self.store.setting(self._bundle_setting)
            if wanted is None or wanted == failed or wanted == str(self.knowledge.path):
                continue
            try:
                await self.reload(Path(wanted))
            except (BundleError, OSError, ValueError) as exc:
                failed = wanted
                logging.getLogger(__name__).error("cannot follow bundle %s: %s", wanted, exc)

    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        """Open the store and the cloud channel inside the serving event loop (grpc.aio binds to it)."""
        await self.store.open()
        if self.config.cloud:
            from edge_node.escalation.client import CloudClient

            self.escalator.client = CloudClient(self.config.cloud, self.config.cloud_token, self.config.cloud_tls_ca)
        self.escalator.start()
        if self.config.workers > 1:
            self.track(self._follow_bundle())

    async def reply_off_loop(self, text: str, previous_lang: str | None, earlier: Sequence[str] = (),
                             then: Callable[[Reply], T] | None = None) -> tuple[Reply, T | None]:
        """``reply`` on the understanding thread, so the event loop serves other sessions meanwhile;
        ``then(reply)`` runs right after it on the same thread (storing an edge answer: one hop, not two)."""
        def work() -> tuple[Reply, T | None]:
            reply = self.reply(text, previous_lang, earlier)
            return reply, then(reply) if then is not None else None

        return await asyncio.get_running_loop().run_in_executor(self._understanding_thread, work)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.escalator.stop()
        await self.store.close()
        self._understanding_thread.shutdown(wait=False)

    def track(self, work: Coroutine[Any, Any, None]) -> None:
        """Run an escalation beyond the connection that started it: a shopper who leaves still gets
        the answer on their next visit. Cancelled only when the edge shuts down (the outbox keeps it)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def storefront(self) -> str:
        return self.knowledge.catalog.storefront.id

    def cacheable(self, text: str, conversation: ConversationSignals, customer: str) -> bool:
        """Only generic questions of anonymous shoppers: no dispute, no conversation context, nothing redacted."""
        if not self.config.cache_enabled or customer or redact(text) != text or dispute_signals(text).any:
            return False
        c = conversation
        return not (c.repeated or c.wants_human or c.rising_frustration or c.follow_up)

    def _remember(self, request: pb.EscalateRequest, final: pb.Final) -> None:
        if (final.personal or final.flagged_for_human or final.finish_reason == pb.FINISH_REASON_GUARDED
                or request.customer.customer_id or request.conversation
                or any(mark in request.message for mark in ("[card number]", "[IBAN]", "[e-mail]"))
                or not self.cacheable(request.message, conversation_signals(request.message, ()), "")):
            return
        vector = self.knowledge.encoder.encode_one(request.message)
        self.cache.store(vector, request.message, final.text, request.lang)
        self.metrics.cache.labels("stored").inc()

    def reply(self, text: str, previous_lang: str | None, earlier: Sequence[str] = ()) -> Reply:
        """Analyse and route one message; ``earlier`` are the shopper's previous messages, oldest first."""
        started = time.perf_counter()
        understanding, router = self._pipeline
        analysis = understanding.analyze(text, previous_lang)
        conversation = conversation_signals(text, earlier)
        decision = router.decide(analysis, conversation)
        self.metrics.decisions.labels(decision.kind, decision.lang).inc()
        self.metrics.scoring.labels(analysis.path).inc()
        return Reply(analysis, decision, time.perf_counter() - started, conversation)
