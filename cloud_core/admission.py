"""A bound on the calls anyone may hold open without a token: health checks and reflection.

The server's ``maximum_concurrent_rpcs`` counts every call, so 82 unauthenticated ``Health.Watch``
streams (which never end on their own) used to take every place and leave authenticated
``Escalate`` and ``GetMemory`` calls with RESOURCE_EXHAUSTED. Open calls now have a budget of their
own, below the server's cap, and one past it is refused at once; authenticated calls keep the rest
(escalations are further bounded by the generation slots).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import grpc

from cloud_core.auth import is_open_method

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["OpenCallBudget"]


class OpenCallBudget(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or not is_open_method(handler_call_details.method):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary), request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream), request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler  # reflection's bidirectional stream: one per client connection, bounded by keepalive

    async def _enter(self, context: grpc.aio.ServicerContext) -> None:
        if self.open >= self.limit:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"{self.limit} unauthenticated calls are open already; close one or retry later")
        self.open += 1

    def _unary(self, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def bounded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._enter(context)
            try:
                return await behavior(request, context)
            finally:
                self.open -= 1

        return bounded

    def _stream(self, behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        generates = inspect.isasyncgenfunction(behavior)

        async def bounded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await self._enter(context)
            try:
                if generates:
                    async for item in behavior(request, context):
                        yield item
                else:  # written with context.write (grpc's health servicer)
                    await behavior(request, context)
            finally:
                self.open -= 1

        return bounded
