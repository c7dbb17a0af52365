"""Bounded generation slots with a bounded wait queue.

The model can run only a few generations at once on a small machine; a burst beyond the queue
gets an immediate, explicit refusal (RESOURCE_EXHAUSTED) instead of piling up until deadlines expire.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["GenerationSlots", "QueueFull"]


class QueueFull(RuntimeError):
    pass


class GenerationSlots:
    def __init__(self, concurrent: int, queue: int) -> None:
        self.concurrent = concurrent
        self.queue_limit = queue
        self._semaphore = asyncio.Semaphore(concurrent)
        self.waiting = 0
        self.running = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one generation slot; released at once when the holder is cancelled."""
        if self._semaphore.locked() and self.waiting >= self.queue_limit:
            raise QueueFull(f"{self.running} generations running and {self.waiting} waiting; retry later")
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._semaphore.release()
