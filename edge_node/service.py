"""One edge node: a loaded bundle, the policy that turns a message into an answer, and its store."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_node.actions import ActionRequest, ActionRunner
from edge_node.actions.choose import Routed, action_to_run, routed_from
from edge_node.escalation.context import build_request
from edge_node.escalation.deliveries import DeliveryReceiver
from edge_node.escalation.identity import attach_order
from edge_node.escalation.relay import Escalator
from edge_node.frames import answer_encoder
from edge_node.knowledge import Knowledge, load_knowledge
from edge_node.live_sessions import LiveSessions
from edge_node.metrics import EdgeMetrics
from edge_node.redaction import redact
from edge_node.router import Decision, Router
from edge_node.semantic_cache import SemanticCache
from edge_node.signals import ConversationSignals, conversation_signals, dispute_signals
from edge_node.store import EdgeStore, LedgerEntry, MessageOutcome, StoredFrame, open_edge_store
from edge_node.understanding import Analysis, Understanding
from protos.triage.v1 import escalation_pb2 as pb
from triage.bundle.manifest import BundleError
from triage.bundle.signing import parse_keys
from triage.config import CostConfig, ShopConfig, is_postgres_url
from triage.connector.client import ShopClient
from triage.periodic import every

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from edge_node.frames import AnswerSource, Resolution
    from edge_node.store import PendingAction, Queued
    from triage.config import EdgeConfig

__all__ = ["EdgeService", "Handled", "Reply", "Turn"]

@dataclass(frozen=True)
class Reply:
    analysis: Analysis
    decision: Decision
    elapsed_s: float
    conversation: ConversationSignals


@dataclass(frozen=True)
class Turn:
    """One accepted shopper message, as the gateway hands it over."""

    session: str
    customer: str
    """The verified customer id, or "" for an anonymous shopper."""
    client_id: str
    text: str
    lang: str | None
    """The session's language so far."""
    earlier: Sequence[str] = ()
    """The shopper's previous messages in this session, oldest first."""
    pending: PendingAction | None = None
    """The session's action waiting for a detail (an order number, an e-mail, a pick)."""


@dataclass(frozen=True)
class Handled:
    """What became of a turn, for the gateway to deliver."""

    processed: bool
    """False for a re-sent id that was already answered: its answer is replayed from the store."""
    lang: str
    frame: StoredFrame | None = None
    """The edge's own answer, stored and ready to send."""
    escalated: bool = False
    """The answer comes later from the cloud (streamed deltas, then a stored final frame)."""
    pending: PendingAction | None = None
    pending_changed: bool = False
    """The session's pending action is now ``pending``."""


@dataclass
class EdgeService:
    knowledge: Knowledge
    config: EdgeConfig
    cost: CostConfig = field(default_factory=CostConfig)
    shop: ShopConfig = field(default_factory=ShopConfig)
    """The shop's API that actions call; without a URL an action intent answers with its catalog text."""
    metrics: EdgeMetrics = field(default_factory=EdgeMetrics)
    store: EdgeStore = field(init=False)
    live: LiveSessions = field(init=False)
    """Shoppers connected to this process (the gateway attaches its connections)."""
    escalator: Escalator = field(init=False)

    def __post_init__(self) -> None:
        self._pipeline = (Understanding(self.knowledge, self.config.langid), self._router_for(self.knowledge))
        """Swapped in one assignment on reload: a reply in flight sees the old pair or the new one, whole."""
        self.store = open_edge_store(self.config.store)
        self.live = LiveSessions(self.metrics.live_sessions)
        self.escalator = Escalator(self.store, self.config, self.cost, self.metrics, listener=self)
        self.cache = SemanticCache(self.config.cache_min_similarity, self.config.cache_ttl_s, self.config.cache_entries)
        self.cache.invalidate(self.knowledge.manifest.catalog_hash)
        self._shop_client = ShopClient(self.shop) if self.shop.url else None
        self.actions = ActionRunner(self.knowledge.catalog, self._shop_client)

    def _router_for(self, knowledge: Knowledge) -> Router:
        """The configured knob wins; a negative one means the bundle's calibrated value."""
        knob = self.config.cost_quality if self.config.cost_quality >= 0 else None
        return Router(knowledge.catalog, knowledge.calibration, knob)

    @classmethod
    def from_bundle(cls, bundle: Path, config: EdgeConfig, cost: CostConfig | None = None,
                    shop: ShopConfig | None = None) -> EdgeService:
        keys = parse_keys(config.bundle_keys)
        return cls(load_knowledge(bundle, threads=config.encoder_threads, keys=keys), config, cost or CostConfig(),
                   shop or ShopConfig())

    async def reload(self, bundle: Path) -> Knowledge:
        """Load a new bundle beside the running one and swap it in at once when it is ready.

        Loading (checksums, signature, encoder session, index) runs in a worker thread while the
        old bundle keeps answering; the (understanding, router) pair is replaced in one assignment,
        and a reply reads it once, so a message is analysed by the old bundle or the new one, never
        by a mix (a reply runs on the event loop without an await in between). Open websockets and
        their sessions are untouched. A bundle that fails to load leaves the old one in place.
        """
        async with self._reloading:  # two reloads at once (admin and follower) must not pass one check each
            return await self._reload(bundle)

    async def _reload(self, bundle: Path) -> Knowledge:
        keys = parse_keys(self.config.bundle_keys)
        knowledge = await asyncio.to_thread(load_knowledge, bundle, threads=self.config.encoder_threads, keys=keys)
        if knowledge.catalog.storefront.id != self.storefront:
            raise BundleError(f"{bundle} is for storefront {knowledge.catalog.storefront.id!r}, this edge serves "
                              f"{self.storefront!r}")
        if knowledge.release < self.knowledge.release:
            raise BundleError(f"{bundle} is signed as release {knowledge.release}, older than release "
                              f"{self.knowledge.release} served now: a downgrade is refused. To roll back, sign "
                              "the older build again as a new release (`triage deploy sign --bundle PATH`)")
        understanding = await asyncio.to_thread(Understanding, knowledge, self.config.langid)
        router = self._router_for(knowledge)
        self.knowledge, self._pipeline = knowledge, (understanding, router)
        self.actions = ActionRunner(knowledge.catalog, self._shop_client)
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

    async def _purge(self) -> None:
        """Erase sessions idle past ``[edge] retention_days``."""
        erased = await self.store.purge_older_than(time.time() - self.config.retention_days * 86400)
        if erased:
            logging.getLogger(__name__).info("retention: erased %d rows of idle sessions", erased)

    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _reloading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        """Open the store and the cloud channel inside the serving event loop (grpc.aio binds to it)."""
        await self.store.open()
        self.escalator.start()
        # Other processes may share the store (workers of this host, or the hosts of a region on
        # PostgreSQL): a reply one of them stores wakes this one's connections, and a bundle one swaps
        # is followed here.
        shared = self.config.workers > 1 or is_postgres_url(self.config.store)
        if self.escalator.client is not None:  # people's replies to this node's shoppers come back this way
            receiver = DeliveryReceiver(self.store, self.metrics, self.storefront, self.escalator.node, self.live.wake)
            self.track(receiver.run(self.escalator.client))
            if shared:
                self.track(receiver.wake_for_others())
        if shared:
            self.track(self._follow_bundle())
        self.track(every(self.config.retention_check_s, self._purge, "retention purge of the edge store", now=True))

    async def handle(self, turn: Turn) -> Handled:
        """Turn an accepted message into its outcome: understood, routed, answered from the catalog,
        by an action against the shop or from the semantic cache, written to the store with its
        ledger entry, or escalated."""
        cost = self.cost.edge_cost()

        # The reply runs on the event loop, not on a thread of its own: the hop there and back (executor
        # future, a futex wake, the loop's wake-up) cost more than the overlap it bought once uvicorn's
        # sans-I/O websocket protocol stopped reading a socket until its message is taken. 4 alternating
        # rounds at 200 paced sessions on an AVX2 EPYC: edge CPU a message 2.55 -> 2.27 ms (1 worker),
        # 2.73 -> 2.47 ms and p99 27.9 -> 17.5 ms (2 workers) (docs/benchmarks.md).
        reply = self.reply(turn.text, turn.lang, turn.earlier)
        routed = Routed(reply.decision)
        acting = self._shop_client is not None and (reply.decision.kind == "action" or turn.pending is not None)
        record_here = self.store.inline_recorder
        queued: Queued | None = None
        if reply.decision.kind == "escalate" or acting or record_here is None:
            # The cache, an action or the pending one decide on the loop; a network store is awaited.
            routed = await self._route_on_loop(turn, reply)
            queued = await self._queued(turn, reply, routed.decision)
            recorded = await self.store.record_message(self._outcome(turn, routed, reply, cost, queued))
        else:  # a catalog answer is stored right after it is decided, with no await in between
            recorded = record_here(self._outcome(turn, routed, reply, cost))
        d = routed.decision
        if not recorded.processed:
            return Handled(processed=False, lang=d.lang)
        self.metrics.cost.labels("edge").inc(cost)
        handled = Handled(processed=True, lang=d.lang, frame=recorded.frame, pending=routed.pending,
                          pending_changed=routed.pending_changed)
        if queued is None:  # only an escalation is queued
            self.metrics.messages.labels("answered").inc()
            return handled
        self.metrics.messages.labels("escalated").inc()
        self.track(self._escalate(turn.session, turn.client_id, d, queued.key))
        return dataclasses.replace(handled, escalated=True)

    async def _queued(self, turn: Turn, reply: Reply, d: Decision) -> Queued | None:
        """An escalation's outbox row, with the order the shopper means and how it is verified (the
        e-mail check asks the shop), so the message and its escalation are stored together."""
        if d.kind != "escalate":
            return None
        request = build_request(self.knowledge.catalog, turn.customer, turn.text, reply.analysis, d, turn.earlier)
        await attach_order(request, (*turn.earlier, turn.text), self.actions.slots, self._shop_client)
        return self.escalator.queued(turn.session, turn.client_id, request)

    async def _route_on_loop(self, turn: Turn, reply: Reply) -> Routed:
        """Run the action the message starts or continues; else the semantic cache may answer."""
        d = reply.decision
        runner = self.actions
        # Without a shop to call ([shop] url empty), an action intent answers with its catalog text.
        action = action_to_run(self.knowledge.catalog, runner.slots, turn.text, d, turn.pending) \
            if self._shop_client is not None else None
        if action is None:
            dropped = turn.pending is not None  # the shopper moved on
            return Routed(self._from_cache(turn, reply) if d.kind == "escalate" else d, pending_changed=dropped)
        continuing = d.action != action
        intent = turn.pending.intent if continuing and turn.pending is not None else d.intent
        pending = turn.pending if continuing else None
        result = await runner.run(ActionRequest(
            action=action, intent=intent, lang=d.lang, customer=turn.customer, text=turn.text,
            earlier=tuple(turn.earlier), pending=pending, key=f"{turn.session}:{turn.client_id}:{action}"))
        self.metrics.actions.labels(action, result.outcome).inc()
        return routed_from(result, d, action, intent)

    def _outcome(self, turn: Turn, routed: Routed, reply: Reply, cost: float,
                 queued: Queued | None = None) -> MessageOutcome:
        d = routed.decision
        entry = LedgerEntry(turn.session, turn.client_id, d.kind, "edge", reply.elapsed_s * 1000, cost_usd=cost)
        answer = None
        if d.kind != "escalate" or routed.notice:
            answer = self._answer(turn.client_id, d, "edge", routed.resolution)
        # Stored redacted: no card number or IBAN a shopper typed is kept at rest (the live message
        # was already routed and acted on).
        return MessageOutcome(session=turn.session, client_id=turn.client_id, text=redact(turn.text), lang=d.lang,
                              lang_changed=d.lang != turn.lang, intent=d.intent, decision=d.kind, entry=entry,
                              answer=answer, answer_final=d.kind != "escalate", pending=routed.pending,
                              pending_changed=routed.pending_changed, escalation=queued)

    @staticmethod
    def _answer(reply_to: str, d: Decision, source: AnswerSource,
                resolution: Resolution | None = None) -> Callable[[int], bytes]:
        return answer_encoder(reply_to, d.text, d.lang, d.intent, source, d.confidence, d.kind, d.options,
                              resolution)

    def _from_cache(self, turn: Turn, reply: Reply) -> Decision:
        """A cloud answer to the same generic question, with the same details, instead of escalating."""
        d = reply.decision
        if turn.customer or not self.cacheable(turn.text, reply.conversation, ""):
            return d
        cached = self.cache.lookup(reply.analysis.embedding, turn.text, d.lang)
        self.metrics.cache.labels("hit" if cached else "miss").inc()
        if cached is None:
            return d
        return Decision("answer", cached.answer, d.lang, d.intent, d.confidence, reason="semantic cache")

    async def _escalate(self, session: str, reply_to: str, d: Decision, key: str) -> None:
        """Try the cloud now (the outbox holds the escalation already); tell the shopper honestly when the
        answer will come later."""
        attempt = asyncio.ensure_future(self.escalator.try_now(key))
        done, _ = await asyncio.wait({attempt}, timeout=self.config.queued_after_s)
        answered = attempt in done and attempt.result()
        if not answered and await self.store.frames.append(session, reply_to, False,
                                                           self._answer(reply_to, d, "queued"),
                                                           unless_answered=True) is not None:
            self.metrics.messages.labels("queued").inc()
            self.live.wake(session)
        if not done:
            await attempt

    # EscalationListener: the relay's news goes to the shoppers connected here -------------------
    async def on_delta(self, session: str, reply_to: str, text: str) -> None:
        await self.live.delta(session, reply_to, text)

    def on_stored(self, session: str) -> None:
        self.live.wake(session)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.escalator.stop()
        if self._shop_client is not None:
            await self._shop_client.aclose()
        await self.store.close()

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

    def on_cloud_answer(self, request: pb.EscalateRequest, final: pb.Final) -> None:
        """The semantic cache learns generic cloud answers to anonymous shoppers."""
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
