"""Background work every N seconds (retention, follow-ups) that one failed round does not end."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ["every"]


async def every(interval_s: float, work: Callable[[], Coroutine[Any, Any, object]], what: str, *,
                now: bool = False) -> None:
    """Run ``work`` every ``interval_s`` (first at once when ``now``) until cancelled; a round that
    fails (a store hiccup) is logged as ``what`` and the next round tries again."""
    if not now:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await work()
        except Exception:
            logging.getLogger(__name__).exception("%s failed; trying again in %.0f s", what, interval_s)
        await asyncio.sleep(interval_s)
