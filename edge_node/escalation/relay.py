"""The durable escalation path: outbox first, then the cloud, then exactly one final answer.

An escalation is written to the store's outbox before the cloud is called. An attempt streams
the cloud's deltas to the shopper if they are connected here, and stores the final answer and
marks the outbox item done in the store. A failed attempt (cloud down, slow, killed mid-stream,
circuit open) leaves the item for the worker, which retries it with backoff under the same
idempotency key; the cloud core replays a reply it already produced instead of generating again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import TYPE_CHECKING, Protocol

import grpc

from edge_node.frames import Resolution, answer_encoder
from edge_node.phrases import phrase
from edge_node.store import CaseOutcome, LedgerEntry, Queued
from protos.triage.v1 import escalation_pb2 as pb
from triage.connector.breaker import CircuitBreaker

if TYPE_CHECKING:
    from edge_node.escalation.client import CloudClient
    from edge_node.metrics import EdgeMetrics
    from edge_node.store import EdgeStore, OutboxItem
    from triage.config import CostConfig, EdgeConfig

__all__ = ["EscalationListener", "Escalator"]

log = logging.getLogger(__name__)
_PERMANENT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
              grpc.StatusCode.UNIMPLEMENTED}


_KINDS = ("info", "cancelled", "refunded", "replacement", "return_label", "proposed", "human")


def resolution_of(final: pb.Final) -> Resolution | None:
    """The answer frame's ``resolution`` from a procedure's outcome (a model's answer has none)."""
    o = final.outcome
    if o.kind not in _KINDS:
        return None
    amount = currency = None
    if o.amount.currency:
        units, minor = divmod(o.amount.amount_minor, 100)
        amount, currency = f"{units}.{minor:02d}", o.amount.currency
    return Resolution(o.kind, o.order_id, amount, currency)  # type: ignore[arg-type]


class EscalationListener(Protocol):
    """What the relay tells the rest of the edge while it works."""

    async def on_delta(self, session: str, reply_to: str, text: str) -> None:
        """Streamed cloud tokens, for a shopper of the session connected here."""
        ...

    def on_stored(self, session: str) -> None:
        """A frame of the session was stored (a final cloud answer): connections here send it at once."""
        ...

    def on_cloud_answer(self, request: pb.EscalateRequest, final: pb.Final) -> None:
        """Every final cloud answer stored (the edge's semantic cache learns from it)."""
        ...


class Escalator:
    def __init__(self, store: EdgeStore, config: EdgeConfig, cost: CostConfig, metrics: EdgeMetrics,
                 listener: EscalationListener, client: CloudClient | None = None) -> None:
        self.store = store
        self.client = client
        """Set by ``start``, inside the serving event loop (grpc.aio binds to it), when a cloud is configured."""
        self.config = config
        self.cost = cost
        self.metrics = metrics
        self.listener = listener
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self._worker: asyncio.Task[None] | None = None
        self.node = config.node_id or socket.gethostname()
        """This edge's name in reply routes: the cloud delivers people's replies to its shoppers here."""

    def key(self, session: str, client_id: str) -> str:
        return f"{session}:{client_id}"

    def queued(self, session: str, client_id: str, request: pb.EscalateRequest) -> Queued:
        """The outbox row of a message's escalation, for the store to write with the message itself."""
        key = self.key(session, client_id)
        request.idempotency_key = key
        request.route.MergeFrom(pb.ReplyRoute(edge=self.node, session=session, message_id=client_id))
        return Queued(key, request.SerializeToString(), first_try_s=self.config.escalation_timeout_s + 5)

    async def try_now(self, key: str) -> bool:
        """The first attempt of an escalation just queued; True when the final answer is stored."""
        self.metrics.escalations.labels("submitted").inc()
        return await self.attempt(key)

    def _backoff(self, attempts: int) -> float:
        return float(min(self.config.outbox_max_backoff_s, self.config.outbox_retry_s * 2 ** max(0, attempts - 1)))

    async def attempt(self, key: str) -> bool:
        item = await self.store.outbox.claim(key, lease_s=self.config.escalation_timeout_s + 5)
        if item is None:
            return False
        expired = self._expired(item)
        if expired:
            await self._give_up(item, expired)
            return False
        if self.client is None:
            await self.store.outbox.retry_later(key, self._backoff(item.attempts), "no cloud core configured")
            return False
        if not self.breaker.allow():
            await self.store.outbox.retry_later(key, self._backoff(item.attempts), "circuit open")
            self.metrics.escalations.labels("circuit_open").inc()
            return False
        request = pb.EscalateRequest.FromString(item.request)
        final: pb.Final | None = None
        started = time.perf_counter()
        try:
            async for event in self.client.escalate(request, self.config.escalation_timeout_s):
                if event.HasField("delta"):
                    await self.listener.on_delta(item.session, item.client_id, event.delta.text)
                elif event.HasField("final"):
                    final = event.final
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            self.metrics.escalations.labels(f"error_{code.name.lower()}").inc()
            if code in _PERMANENT:  # this request's fault, not the cloud's: retrying cannot help, nor may it
                log.error("escalation %s refused by the cloud core: %s %s", key, code.name, exc.details())
                self.breaker.success()  # the cloud answered: other shoppers' escalations keep flowing
                await self._give_up(item, f"{code.name}: {exc.details()}")
                return False
            self.breaker.failure()
            await self.store.outbox.retry_later(key, self._backoff(item.attempts), f"{code.name}: {exc.details()}")
            return False
        if final is None:
            self.breaker.failure()
            await self.store.outbox.retry_later(key, self._backoff(item.attempts), "stream ended without a final event")
            return False
        self.breaker.success()
        await self._deliver(item.session, item.client_id, request, final, time.perf_counter() - started)
        await self.store.outbox.done(key)
        return True

    def _expired(self, item: OutboxItem) -> str:
        """Why an item is past its limits ("" while it is not)."""
        if item.attempts > self.config.outbox_max_attempts:
            return f"gave up after {item.attempts - 1} attempts ([edge] outbox_max_attempts)"
        if item.created_at and time.time() - item.created_at > self.config.outbox_max_age_s:
            return f"unanswered for {self.config.outbox_max_age_s:.0f} s ([edge] outbox_max_age_s)"
        return ""

    async def _give_up(self, item: OutboxItem, reason: str) -> None:
        """Dead-letter the item and tell the shopper honestly, in their language, instead of silence."""
        await self.store.outbox.dead(item.key, reason)
        self.metrics.escalations.labels("dead_letter").inc()
        self.metrics.outbox_dead.inc()
        request = pb.EscalateRequest.FromString(item.request)
        encode = answer_encoder(item.client_id, phrase("gave_up", request.lang or "en"), request.lang or "en",
                                request.intent or None, "edge", 1.0, "answer")
        if await self.store.frames.append(item.session, item.client_id, True, encode) is not None:
            self.listener.on_stored(item.session)

    async def _deliver(self, session: str, client_id: str, request: pb.EscalateRequest, final: pb.Final,
                       elapsed_s: float) -> None:
        resolution = resolution_of(final)
        encode = answer_encoder(client_id, final.text, request.lang, request.intent or None, "cloud", 1.0, "escalate",
                                resolution=resolution)
        stored = await self.store.frames.append(session, client_id, True, encode)
        if stored is None:
            return  # another worker stored this message's final answer first
        usage = final.usage
        cost = self.cost.cloud_cost(final.model_id, usage.input_tokens, usage.cached_input_tokens,
                                    usage.output_tokens)
        await self.store.record_cost(LedgerEntry(
            session=session, client_id=client_id, decision="escalate", source="cloud", edge_ms=0.0,
            input_tokens=usage.input_tokens, cached_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens, model=final.model_id, cost_usd=cost))
        self.metrics.cost.labels("cloud").inc(cost)
        if resolution is not None:
            await self.store.record_outcome(CaseOutcome(
                session=session, client_id=client_id, lang=request.lang, kind=resolution.kind,
                order_id=resolution.order_id, amount=resolution.amount or "", currency=resolution.currency or "",
                procedure=final.outcome.procedure))
        self.metrics.escalations.labels("delivered").inc()
        self.metrics.escalations.labels("guarded" if final.flagged_for_human else "answered").inc()
        for kind, value in (("input", usage.input_tokens), ("cached_input", usage.cached_input_tokens),
                            ("output", usage.output_tokens)):
            self.metrics.cloud_tokens.labels(kind).inc(value)
        self.metrics.cloud_latency.observe(elapsed_s)
        self.listener.on_cloud_answer(request, final)
        self.listener.on_stored(session)

    async def run_worker(self, interval_s: float = 0.25, prune_every_s: float = 60.0) -> None:
        """Retry due outbox items until they are answered or given up (one replica or several: the lease
        keeps them apart); now and then, delete answered rows past ``outbox_keep_done_s``."""
        pruned_at = 0.0
        while True:
            try:
                for key in await self.store.outbox.due():
                    await self.attempt(key)
                self.metrics.outbox_depth.set(await self.store.outbox.depth())
                if time.monotonic() - pruned_at > prune_every_s:
                    pruned_at = time.monotonic()
                    await self.store.outbox.prune(time.time() - self.config.outbox_keep_done_s)
                    self.metrics.outbox_dead.set(await self.store.outbox.dead_count())
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken item must not stop the worker; it is logged and retried
                log.exception("outbox worker iteration failed")
            await asyncio.sleep(interval_s)

    def start(self) -> None:
        if self.config.cloud and self.client is None:
            from edge_node.escalation.client import CloudClient

            self.client = CloudClient(self.config.cloud, self.config.cloud_token, self.config.cloud_tls_ca,
                                      self.config.cloud_tls_cert, self.config.cloud_tls_key)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self.run_worker())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self.client is not None:
            await self.client.close()
