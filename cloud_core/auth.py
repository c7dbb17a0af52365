"""Bearer-token authentication: service, admin and agent tokens, each scoped to tenants.

Three kinds of caller, three kinds of credential. Edges and internal services hold a service token
(``[cloud] auth_tokens``) that opens ``Escalate`` and the delivery stream, nothing else: an edge that
is broken into cannot read, export or erase customer memory, resolve cases or list them. Admin
tools hold an admin token (``[cloud] admin_tokens``) that opens every ``triage.v1.Escalation``
method. Both name the tenants they may act for (``demo|shop2=token``; a bare token: every tenant),
and a request naming another tenant is refused before it reaches the service. People and helpdesks
hold an agent token (``[cloud] agent_tokens``) that names a tenant and a person and opens only
``triage.v1.Cases``. Health checks and reflection need no token.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    from triage.config import AgentCredential, ServiceCredential

__all__ = ["CASES_PREFIX", "BearerAuthInterceptor", "bearer_of", "find_agent", "is_open_method", "tenant_of"]

_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
CASES_PREFIX = "/triage.v1.Cases/"
_SERVICE_METHODS = frozenset({"/triage.v1.Escalation/Escalate", "/triage.v1.Escalation/SubscribeDeliveries",
                              "/triage.v1.Escalation/AckDelivery"})
"""What a service token opens: what an edge needs, and no customer data beyond its own requests."""


def tenant_of(request: Any) -> str:
    """The tenant a request names (its ``tenant`` field, or its customer's)."""
    fields = request.DESCRIPTOR.fields_by_name
    if "tenant" in fields:
        return str(request.tenant)
    if "customer" in fields:
        return str(request.customer.tenant)
    return ""


def is_open_method(method: str) -> bool:
    """Health checks and reflection answer without a token (load balancers and grpcurl need them)."""
    return method.startswith(_OPEN_PREFIXES)


def bearer_of(metadata: Any) -> bytes | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value[len("Bearer "):].encode("utf-8", "surrogatepass")
    return None


def _match(presented: bytes | None, tokens: tuple[str, ...]) -> str | None:
    if presented is None:
        return None
    found = None
    for token in tokens:  # every token compared, in constant time each
        if hmac.compare_digest(presented, token.encode()):
            found = token
    return found


def find_agent(metadata: Any, agents: Mapping[str, AgentCredential]) -> AgentCredential | None:
    """The agent an agent token in ``metadata`` names, if any."""
    token = _match(bearer_of(metadata), tuple(agents))
    return agents[token] if token is not None else None


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, credentials: Mapping[str, ServiceCredential],
                 agents: Mapping[str, AgentCredential] | None = None,
                 request_types: Mapping[str, Any] | None = None) -> None:
        """``request_types``: method path -> request message class, for handlers that take raw bytes
        (the server parses requests itself, to answer a malformed one with INVALID_ARGUMENT)."""
        self._request_types = dict(request_types or {})
        self._credentials = dict(credentials)
        self._tokens = tuple(self._credentials)
        self._agents = dict(agents or {})

    def _check(self, method: str, metadata: Any) -> tuple[grpc.StatusCode, str] | ServiceCredential | None:
        """A refusal, the service credential whose tenants the request must stay within, or None (allowed)."""
        presented = bearer_of(metadata)
        agent = _match(presented, tuple(self._agents))
        token = _match(presented, self._tokens)
        if method.startswith(CASES_PREFIX):
            if agent is not None:
                return None
            if token is not None:
                return grpc.StatusCode.PERMISSION_DENIED, "the Cases API takes an agent token ([cloud] agent_tokens)"
            return grpc.StatusCode.UNAUTHENTICATED, ("missing or invalid agent token: send metadata 'authorization: "
                                                     "Bearer <token>' with a token of [cloud] agent_tokens")
        if agent is not None:
            return grpc.StatusCode.PERMISSION_DENIED, "an agent token opens the Cases API only"
        if token is None:
            if not self._tokens:
                return None  # no service tokens: loopback development (the server refuses this elsewhere)
            return grpc.StatusCode.UNAUTHENTICATED, ("missing or invalid bearer token: send metadata "
                                                     "'authorization: Bearer <token>'")
        credential = self._credentials[token]
        if credential.role == "service" and method not in _SERVICE_METHODS:
            return grpc.StatusCode.PERMISSION_DENIED, (f"{method.rsplit('/', 1)[-1]} needs an admin token "
                                                       "([cloud] admin_tokens); a service token opens Escalate and "
                                                       "the delivery stream only")
        return credential

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if is_open_method(method):
            return await continuation(handler_call_details)
        checked = self._check(method, handler_call_details.invocation_metadata)
        handler = await continuation(handler_call_details)
        if checked is None or handler is None:
            return handler
        if isinstance(checked, tuple):
            return _denying(handler, *checked)
        return _within_tenants(handler, checked, self._request_types.get(method))


def _tenant_refusal(credential: ServiceCredential, request: Any, request_type: Any) -> str | None:
    if isinstance(request, bytes):
        if request_type is None:
            return "this method takes no tenant-scoped token"
        try:
            request = request_type.FromString(request)
        except DecodeError:
            return None  # malformed: the handler parses the same bytes and answers INVALID_ARGUMENT
    tenant = tenant_of(request)
    if credential.covers(tenant):
        return None
    return f"this token acts for tenants {', '.join(sorted(credential.tenants))} only, not {tenant!r}"


def _within_tenants(handler: Any, credential: ServiceCredential, request_type: Any) -> Any:
    """The handler, refusing a request that names a tenant the token is not for."""
    from triage.config import ALL_TENANTS

    if ALL_TENANTS in credential.tenants:
        return handler
    if handler.response_streaming:
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            refusal = _tenant_refusal(credential, request, request_type)
            if refusal is not None:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
            async for item in inner_stream(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(stream, request_deserializer=handler.request_deserializer,
                                                    response_serializer=handler.response_serializer)
    inner_unary = handler.unary_unary

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        refusal = _tenant_refusal(credential, request, request_type)
        if refusal is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal)
        return await inner_unary(request, context)

    return grpc.unary_unary_rpc_method_handler(unary, request_deserializer=handler.request_deserializer,
                                               response_serializer=handler.response_serializer)


def _denying(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    async def deny_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            deny_stream, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(
        deny_unary, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)
