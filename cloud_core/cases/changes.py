"""Wake-ups per tenant on this replica: a change wakes its watchers and delivery streams at once.

Changes another replica makes are found by the streams' polling (``[cloud] cases_poll_s``); this
only makes this replica's own changes immediate.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Changes"]


class Changes:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def current(self, tenant: str) -> asyncio.Event:
        """Take this before reading the store: a change made after the read still wakes the waiter."""
        return self._events.setdefault(tenant, asyncio.Event())

    def notify(self, tenant: str) -> None:
        event = self._events.pop(tenant, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
