"""uvicorn's HTTP/1.1 protocol with a deadline for receiving a whole request.

uvicorn has no timeout covering a request in transmission: its keep-alive timer covers the idle
time between requests and is reset by every byte received, so a client that sends a request line
and then one header byte a second holds a connection (and its memory) for ever; a few thousand
such clients exhaust a node. Here every connection has ``[edge] request_deadline_s`` to deliver a
complete request (line, headers and body) or a websocket upgrade, from its first byte or from the
end of its previous response; past it the connection is closed. A request that has arrived, a
streaming response and an upgraded websocket are never cut.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    import asyncio

__all__ = ["DeadlineH11Protocol"]

log = logging.getLogger("triage.edge")


@functools.cache
def _deadline_s() -> float:
    """Read once per process (uvicorn workers are separate processes that read the environment)."""
    from triage.config import load_config

    return load_config().edge.request_deadline_s


class DeadlineH11Protocol(H11Protocol):
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(_deadline_s(), self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s that did not send a whole request within %.0f s",
                     self.client[0] if self.client else "?", _deadline_s())
            self.transport.close()

    def _request_in(self) -> bool:
        return self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._request_in():
            self._disarm()  # the whole request is in: what follows is the application's time

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request has the same deadline, unless it was pipelined and is in already.
        if not self.transport.is_closing() and not self._request_in():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
