"""People's replies coming back: the cloud's deliveries stored as numbered frames, then acknowledged.

Each edge process holds one subscription to the cloud's deliveries for this edge node. A delivery
is stored in the shopper's session (once per delivery id, in one transaction), the session's
connections on this process are woken, and only then is it acknowledged. A process killed between
storing and acknowledging gets the delivery again on its next subscription and stores nothing new;
one killed before storing gets it again and stores it. So each reply reaches the shopper's session
exactly once, live if they are connected and otherwise on resume, like every other frame.
Processes of one node sharing the store all subscribe: whichever stores a delivery first, every
one of them wakes its own connections of that session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import grpc

from edge_node.frames import answer_encoder

if TYPE_CHECKING:
    from collections.abc import Callable

    from edge_node.escalation.client import CloudClient
    from edge_node.frames import AnswerSource
    from edge_node.metrics import EdgeMetrics
    from edge_node.store import EdgeStore
    from protos.triage.v1 import escalation_pb2 as pb

__all__ = ["DeliveryReceiver"]

log = logging.getLogger(__name__)


class DeliveryReceiver:
    def __init__(self, store: EdgeStore, metrics: EdgeMetrics, tenant: str, node: str,
                 on_stored: Callable[[str], None], retry_s: float = 1.0, max_retry_s: float = 10.0) -> None:
        self.store = store
        self.metrics = metrics
        self.tenant = tenant
        self.node = node
        self.on_stored = on_stored
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s

    async def receive(self, delivery: pb.Delivery) -> None:
        """Store one delivery; once this returns it may be acknowledged (stored now, before, or not ours)."""
        if delivery.kind == "forget":  # a customer's erasure in the cloud reaches this edge's store too
            erased = await self.store.forget_customer(delivery.forget_customer)
            log.info("erased %d rows of a forgotten customer (delivery %s)", erased, delivery.delivery_id)
            self.metrics.deliveries.labels("forgotten").inc()
            return
        source: AnswerSource = "human" if delivery.kind == "human" else "cloud"
        encode = answer_encoder(delivery.route.message_id, delivery.text, delivery.lang or "en", None, source, 1.0,
                                "answer", list(delivery.quick_replies), author=delivery.author or None,
                                case_id=delivery.case_id or None)
        delivered = await self.store.deliver(delivery.delivery_id, delivery.route.session, delivery.route.message_id,
                                             encode)
        if not delivered.known:
            log.warning("delivery %s is for session %s, which this edge's store does not hold; dropped",
                        delivery.delivery_id, delivery.route.session)
            self.metrics.deliveries.labels("unknown_session").inc()
            return
        self.metrics.deliveries.labels("stored" if delivered.frame is not None else "repeated").inc()
        self.on_stored(delivery.route.session)

    async def wake_for_others(self, interval_s: float = 0.5, lookback_s: float = 10.0) -> None:
        """Wake this process's connections of sessions another process of the node stored a reply for
        (it may have acknowledged the delivery before this process's stream saw it).

        Each row's time comes from the clock of the host that stored it, before its commit, so rows
        become visible out of time order; reading only past the newest time seen skipped the late ones
        for good (a person's reply never pushed to a shopper on another host). Each read looks back
        ``lookback_s`` and wakes a row once; waking twice would be harmless anyway. A row's time never moves
        the reading point past this host's own clock, so a host whose clock runs ahead skips nobody's rows."""
        since = time.time()
        woken: set[tuple[str, float]] = set()
        while True:
            await asyncio.sleep(interval_s)
            try:
                for session, at in await self.store.delivered_since(since - lookback_s):
                    if (session, at) not in woken:
                        woken.add((session, at))
                        self.on_stored(session)
                    since = max(since, min(at, time.time()))  # a host whose clock runs ahead moves it no further
                woken = {row for row in woken if row[1] > since - lookback_s}
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking for deliveries stored by other processes failed")

    async def run(self, client: CloudClient) -> None:
        """Subscribe, store, acknowledge; after a broken stream, subscribe again (with backoff)."""
        backoff = self.retry_s
        while True:
            try:
                async for delivery in client.subscribe_deliveries(self.tenant, self.node):
                    backoff = self.retry_s
                    await self.receive(delivery)
                    await client.ack_delivery(self.tenant, delivery.delivery_id)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                log.info("delivery stream from the cloud ended (%s: %s); subscribing again in %.1f s",
                         exc.code().name, exc.details(), backoff)
            except Exception:  # a broken delivery must not end the subscription; it is sent again
                log.exception("storing a delivery failed")
                self.metrics.deliveries.labels("error").inc()
            await asyncio.sleep(backoff)
            backoff = min(self.max_retry_s, backoff * 2)
