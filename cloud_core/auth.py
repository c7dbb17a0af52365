"""Bearer-token authentication for every call except health checks and reflection."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["BearerAuthInterceptor", "is_open_method"]

_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def is_open_method(method: str) -> bool:
    """Health checks and reflection answer without a token (load balancers and grpcurl need them)."""
    return method.startswith(_OPEN_PREFIXES)


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = tuple(tokens)

    def _allowed(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                presented = value[len("Bearer "):].encode()
                return any(hmac.compare_digest(presented, token.encode()) for token in self._tokens)
        return False

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if is_open_method(method) or self._allowed(handler_call_details.invocation_metadata):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        message = "missing or invalid bearer token: send metadata 'authorization: Bearer <token>'"

        async def deny_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            yield  # pragma: no cover - abort raises

        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                deny_stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return grpc.unary_unary_rpc_method_handler(
            deny_unary, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
