"""The shoppers connected to this process: where streamed deltas and "a frame was stored" go.

The escalation relay and the service speak to sessions, not to sockets; a websocket connection
attaches itself here while it serves a session and detaches when it closes, so nothing outlives
the connections (a session nobody is connected to has no entry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from prometheus_client import Gauge

__all__ = ["LiveSessions", "Subscriber"]


class Subscriber(Protocol):
    """One connection serving a session."""

    async def on_delta(self, reply_to: str, text: str) -> None:
        """Streamed cloud tokens for ``reply_to`` (not stored: the final answer is)."""
        ...

    def wake(self) -> None:
        """A numbered frame of the session was stored: send what this connection has not sent."""
        ...


class LiveSessions:
    def __init__(self, gauge: Gauge | None = None) -> None:
        self._by_session: dict[str, set[Subscriber]] = {}
        self._gauge = gauge
        """Sessions with a connection here, for /metrics."""

    def _count(self) -> None:
        if self._gauge is not None:
            self._gauge.set(len(self._by_session))

    def attach(self, session: str, subscriber: Subscriber) -> None:
        self._by_session.setdefault(session, set()).add(subscriber)
        self._count()

    def detach(self, session: str, subscriber: Subscriber) -> None:
        subscribers = self._by_session.get(session)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._by_session[session]
        self._count()

    def __len__(self) -> int:
        """Sessions with at least one live connection here."""
        return len(self._by_session)

    async def delta(self, session: str, reply_to: str, text: str) -> None:
        for subscriber in list(self._by_session.get(session, ())):
            await subscriber.on_delta(reply_to, text)

    def wake(self, session: str) -> None:
        for subscriber in self._by_session.get(session, ()):
            subscriber.wake()
