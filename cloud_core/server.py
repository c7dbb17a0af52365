"""``triage cloud``: the grpc.aio server with health, reflection, auth, TLS and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cloud_core.admission import OpenCallBudget
from cloud_core.auth import BearerAuthInterceptor
from cloud_core.cases import CaseDesk
from cloud_core.cases.service import CasesService
from cloud_core.metrics import CloudMetrics
from cloud_core.service import EscalationService
from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import escalation_pb2 as pb
from triage.config import is_loopback_host
from triage.periodic import every

if TYPE_CHECKING:
    from cloud_core.llm.base import LLMBackend
    from cloud_core.memory import MemoryStore
    from cloud_core.procedures import ProcedureRunner
    from triage.config import CloudConfig, ShopConfig

__all__ = ["CloudServer", "ServerConfigError", "create_backend", "run_cloud"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Escalation"].full_name
CASES_SERVICE = cpb.DESCRIPTOR.services_by_name["Cases"].full_name
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_connection_idle_ms", 15 * 60_000),
    ("grpc.max_receive_message_length", 4 << 20),
]


class ServerConfigError(ValueError):
    """The cloud configuration cannot start a safe server; the message says which field to fix."""


def _credentials(config: CloudConfig) -> grpc.ServerCredentials | None:
    if not config.tls_cert and not config.tls_key:
        return None
    if not (config.tls_cert and config.tls_key):
        raise ServerConfigError("cloud.tls_cert and cloud.tls_key must be set together")
    pair = [(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())]
    if config.tls_client_ca:
        return grpc.ssl_server_credentials(pair, root_certificates=Path(config.tls_client_ca).read_bytes(),
                                           require_client_auth=True)
    return grpc.ssl_server_credentials(pair)


def create_backend(config: CloudConfig) -> LLMBackend:
    if config.backend == "openai":
        from cloud_core.llm.openai_compat import OpenAICompatBackend

        if not config.openai_url:
            raise ServerConfigError("cloud.backend = 'openai' needs cloud.openai_url (e.g. http://vllm:8000/v1)")
        return OpenAICompatBackend(config.openai_url, config.openai_model, config.openai_api_key)
    from cloud_core.llm.onnx import OnnxBackend, OnnxLM

    if config.model_dir:
        folder = Path(config.model_dir)
    else:
        from cloud_core.llm.build import build_model

        folder = build_model()
    return OnnxBackend(OnnxLM(folder, threads=config.threads), prefix_cache_bytes=config.prefix_cache_mb << 20)


_METHODS: dict[str, tuple[Any, Any, bool]] = {  # name -> (request type, response type, server-streaming)
    "Escalate": (pb.EscalateRequest, pb.EscalateEvent, True),
    "GetMemory": (pb.GetMemoryRequest, pb.CustomerMemory, False),
    "ExportMemory": (pb.GetMemoryRequest, pb.MemoryExport, False),
    "ForgetCustomer": (pb.ForgetCustomerRequest, pb.ForgetCustomerResponse, False),
    "Resolve": (pb.ResolveRequest, pb.Resolution, False),
    "ListResolutions": (pb.ListResolutionsRequest, pb.Resolution, True),
    "ListEscalations": (pb.ListEscalationsRequest, pb.EscalationRecord, True),
    "SubscribeDeliveries": (pb.SubscribeDeliveriesRequest, pb.Delivery, True),
    "AckDelivery": (pb.AckDeliveryRequest, pb.AckDeliveryResponse, False),
}
_CASES_METHODS: dict[str, tuple[Any, Any, bool]] = {
    "WhoAmI": (cpb.WhoAmIRequest, cpb.Agent, False),
    "WatchCases": (cpb.WatchCasesRequest, cpb.CaseEvent, True),
    "ReplyToCase": (cpb.ReplyToCaseRequest, cpb.CaseView, False),
    "DecideProposal": (cpb.DecideProposalRequest, cpb.CaseView, False),
    "CloseCase": (cpb.CloseCaseRequest, cpb.CaseView, False),
}


def _parsing_handler(service_name: str, service: Any, methods: dict[str, tuple[Any, Any, bool]]
                     ) -> grpc.GenericRpcHandler:
    """A service with requests parsed in the handler, not by grpc.

    grpc answers a request it cannot deserialize with UNKNOWN and logs a traceback; parsing here
    turns a malformed protobuf into INVALID_ARGUMENT with the parser's reason, and nothing else.
    """

    def unary(name: str, request_type: Any) -> Any:
        method = getattr(service, name)

        async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            return await method(await _parse(request_type, raw, context), context)

        return handle

    def streaming(name: str, request_type: Any) -> Any:
        method = getattr(service, name)

        async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            async for event in method(await _parse(request_type, raw, context), context):
                yield event

        return handle

    handlers = {}
    for name, (request_type, response_type, stream) in methods.items():
        factory = grpc.unary_stream_rpc_method_handler if stream else grpc.unary_unary_rpc_method_handler
        behaviour = streaming(name, request_type) if stream else unary(name, request_type)
        handlers[name] = factory(behaviour, request_deserializer=None,
                                 response_serializer=response_type.SerializeToString)
    return grpc.method_handlers_generic_handler(service_name, handlers)


async def _parse(request_type: Any, raw: bytes, context: grpc.aio.ServicerContext) -> Any:
    try:
        return request_type.FromString(raw)
    except DecodeError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            f"malformed {request_type.DESCRIPTOR.full_name} protobuf: {exc}")


class CloudServer:
    """One running cloud core: gRPC port, model backend and memory store."""

    def __init__(self, config: CloudConfig, backend: LLMBackend, memory: MemoryStore,
                 metrics: CloudMetrics | None = None, procedures: dict[str, ProcedureRunner] | None = None) -> None:
        if not config.tokens() and not is_loopback_host(config.host):
            raise ServerConfigError(f"cloud.host is {config.host!r} but cloud.auth_tokens is empty: set "
                                    "TRIAGE_CLOUD__AUTH_TOKENS before listening beyond loopback")
        if not config.tls_cert and not config.allow_plaintext and not is_loopback_host(config.host):
            raise ServerConfigError(f"cloud.host is {config.host!r} but cloud.tls_cert is empty: tokens and "
                                    "customer data would cross the network in the clear. Set TRIAGE_CLOUD__TLS_CERT "
                                    "and TRIAGE_CLOUD__TLS_KEY (and TLS_CLIENT_CA for mTLS), or "
                                    "TRIAGE_CLOUD__ALLOW_PLAINTEXT=true where a service mesh or a private link "
                                    "encrypts the traffic")
        if config.procedure_driver == "model" and config.backend != "openai":
            raise ServerConfigError("cloud.procedure_driver = 'model' needs cloud.backend = 'openai' (a model that "
                                    "calls tools); the built-in model leaves procedures to the engine")
        credentials = _credentials(config)
        self.config = config
        self.backend = backend
        self.memory = memory
        self.metrics = metrics or CloudMetrics()
        self.open_calls = OpenCallBudget(config.max_open_calls)
        interceptors: list[grpc.aio.ServerInterceptor] = [self.open_calls]
        agents = config.agents()
        if config.tokens() or agents:
            request_types = {f"/{SERVICE_NAME}/{name}": types[0] for name, types in _METHODS.items()}
            interceptors.append(BearerAuthInterceptor(config.credentials(), agents, request_types))
        cap = config.max_concurrent + config.max_queue + 64 + config.max_open_calls
        self.server = grpc.aio.server(interceptors=interceptors, options=KEEPALIVE_OPTIONS,
                                      maximum_concurrent_rpcs=cap)
        self.procedures = procedures or {}
        self.desk = CaseDesk(memory, config, self.procedures, self.metrics)
        self.service = EscalationService(backend, memory, config, self.metrics, procedures=self.procedures,
                                         desk=self.desk)
        self.cases = CasesService(self.desk, agents)
        self.server.add_generic_rpc_handlers((_parsing_handler(SERVICE_NAME, self.service, _METHODS),
                                              _parsing_handler(CASES_SERVICE, self.cases, _CASES_METHODS)))
        self._follow_ups: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, CASES_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            self.server)
        address = f"{config.host}:{config.port}"
        self.port = (self.server.add_secure_port(address, credentials) if credentials
                     else self.server.add_insecure_port(address))
        if self.port == 0:
            raise ServerConfigError(f"cannot listen on {address}: is the port in use?")
        # Kubelet's gRPC probes cannot speak TLS: health alone on a plaintext port of its own, with
        # nothing behind it but SERVING or NOT_SERVING.
        self._health_server: grpc.aio.Server | None = None
        self.health_port = 0
        if config.health_port:
            self._health_server = grpc.aio.server(options=KEEPALIVE_OPTIONS, maximum_concurrent_rpcs=16)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
            self.health_port = self._health_server.add_insecure_port(f"{config.host}:{config.health_port}")
            if self.health_port == 0:
                raise ServerConfigError(f"cannot listen on {config.host}:{config.health_port} (cloud.health_port)")

    async def start(self) -> None:
        await self.memory.open()
        await self.server.start()
        if self._health_server is not None:
            await self._health_server.start()
        await self._purge()
        for name in ("", SERVICE_NAME, CASES_SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        loop = asyncio.get_running_loop()
        # Tell shoppers whose case no person answered in time ([cloud] follow_up_after_s), and keep
        # retention while the core runs, not only when it starts.
        self._follow_ups = loop.create_task(every(self.config.cases_poll_s, self.desk.send_follow_ups,
                                                  "sending follow-ups"))
        self._retention = loop.create_task(every(self.config.retention_check_s, self._purge, "retention purge"))

    async def _purge(self) -> int:
        deleted = await self.memory.purge_older_than(time.time() - self.config.retention_days * 86400)
        if deleted:
            logging.getLogger(__name__).info("retention: deleted %d rows older than %d days", deleted,
                                             self.config.retention_days)
        return deleted

    async def stop(self) -> None:
        """Stop taking calls (health NOT_SERVING first, so balancers drain), let running ones finish."""
        for name in ("", SERVICE_NAME, CASES_SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        for task in (self._follow_ups, self._retention):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.server.stop(self.config.grace_s)
        if self._health_server is not None:
            await self._health_server.stop(0)
        await self.backend.close()
        for runner in self.procedures.values():
            await runner.aclose()
        await self.memory.close()


async def run_cloud(config: CloudConfig, on_ready: str = "", shop: ShopConfig | None = None) -> None:
    from rich.console import Console

    from cloud_core.memory import open_store

    console = Console(stderr=True)
    backend = create_backend(config)
    procedures: dict[str, ProcedureRunner] = {}
    if config.catalog:
        from pathlib import Path

        from cloud_core.procedures import open_procedures
        from triage.config import ShopConfig as Shop

        tenant, runner = open_procedures(Path(config.catalog), shop or Shop())
        procedures[tenant] = runner
    server = CloudServer(config, backend, open_store(config.memory), procedures=procedures)
    await server.start()
    if config.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(config.metrics_port, addr=config.host, registry=server.metrics.registry)
    console.print(f"cloud core on {config.host}:{server.port} (model {backend.model_id}, memory "
                  f"{config.memory.split('://')[0]}, auth {'on' if config.tokens() else 'off'}, "
                  f"tls {'mtls' if config.tls_client_ca else 'on' if config.tls_cert else 'off'}, procedures "
                  f"{', '.join(procedures) or 'none'}, agents {len(config.agents())}){on_ready}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    console.print("cloud core draining")
    await server.stop()
