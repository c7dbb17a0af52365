"""Bearer-token authentication: service tokens for the Escalation service, agent tokens for Cases.

Two kinds of caller, two kinds of credential. Edges and internal services hold a service token
(``[cloud] auth_tokens``) that opens ``triage.v1.Escalation``. People and helpdesks hold an agent
token (``[cloud] agent_tokens``) that names a tenant and a person and opens only ``triage.v1.Cases``,
so a leaked console login cannot read customer memory or answer for another shop. Health checks
and reflection need no token.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from triage.config import AgentCredential

__all__ = ["CASES_PREFIX", "BearerAuthInterceptor", "bearer_of", "find_agent", "is_open_method"]

_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
CASES_PREFIX = "/triage.v1.Cases/"


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
    def __init__(self, tokens: frozenset[str], agents: Mapping[str, AgentCredential] | None = None) -> None:
        self._tokens = tuple(tokens)
        self._agents = dict(agents or {})

    def _refusal(self, method: str, metadata: Any) -> tuple[grpc.StatusCode, str] | None:
        presented = bearer_of(metadata)
        agent = _match(presented, tuple(self._agents))
        service = _match(presented, self._tokens)
        if method.startswith(CASES_PREFIX):
            if agent is not None:
                return None
            if service is not None:
                return grpc.StatusCode.PERMISSION_DENIED, "the Cases API takes an agent token ([cloud] agent_tokens)"
            return grpc.StatusCode.UNAUTHENTICATED, ("missing or invalid agent token: send metadata 'authorization: "
                                                     "Bearer <token>' with a token of [cloud] agent_tokens")
        if agent is not None:
            return grpc.StatusCode.PERMISSION_DENIED, "an agent token opens the Cases API only"
        if service is not None or not self._tokens:
            return None  # no service tokens: loopback development (the server refuses this elsewhere)
        return grpc.StatusCode.UNAUTHENTICATED, ("missing or invalid bearer token: send metadata "
                                                 "'authorization: Bearer <token>'")

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if is_open_method(method):
            return await continuation(handler_call_details)
        refusal = self._refusal(method, handler_call_details.invocation_metadata)
        handler = await continuation(handler_call_details)
        if refusal is None or handler is None:
            return handler
        code, message = refusal

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
