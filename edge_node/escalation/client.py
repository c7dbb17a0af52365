"""The gRPC client of the cloud core: deadlines, retries in the service config, keepalive, auth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["CloudClient"]

# Retries apply before the first response message only (gRPC's rule for streaming calls), which is
# exactly when a retry is safe; later failures go back to the outbox with the same idempotency key.
SERVICE_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "triage.v1.Escalation"}],
        "retryPolicy": {
            "maxAttempts": 3,
            "initialBackoff": "0.2s",
            "maxBackoff": "2s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }],
})
CHANNEL_OPTIONS = [
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class CloudClient:
    def __init__(self, target: str, token: str = "", tls_ca: str = "", tls_cert: str = "", tls_key: str = "") -> None:
        """``tls_cert``/``tls_key``: the client certificate for a cloud that requires mTLS."""
        self.target = target
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        if tls_ca:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=Path(tls_ca).read_bytes(),
                private_key=Path(tls_key).read_bytes() if tls_key else None,
                certificate_chain=Path(tls_cert).read_bytes() if tls_cert else None)
            self._channel = grpc.aio.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = pb_grpc.EscalationStub(self._channel)

    def escalate(self, request: pb.EscalateRequest, timeout_s: float) -> AsyncIterator[pb.EscalateEvent]:
        call: AsyncIterator[pb.EscalateEvent] = self._stub.Escalate(request, metadata=self._metadata,
                                                                    timeout=timeout_s)
        return call

    def subscribe_deliveries(self, tenant: str, edge: str) -> AsyncIterator[pb.Delivery]:
        """No deadline: the stream lives as long as the edge (keepalive pings find a dead peer)."""
        call: AsyncIterator[pb.Delivery] = self._stub.SubscribeDeliveries(
            pb.SubscribeDeliveriesRequest(tenant=tenant, edge=edge), metadata=self._metadata)
        return call

    async def ack_delivery(self, tenant: str, delivery_id: str, timeout_s: float = 10.0) -> bool:
        response = await self._stub.AckDelivery(pb.AckDeliveryRequest(tenant=tenant, delivery_id=delivery_id),
                                                metadata=self._metadata, timeout=timeout_s)
        return bool(response.acknowledged)

    async def close(self) -> None:
        await self._channel.close(grace=1.0)
