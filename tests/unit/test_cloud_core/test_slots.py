"""Generation slots: bounded concurrency, a bounded queue, and nothing held after a cancel."""

from __future__ import annotations

import asyncio

import pytest

from cloud_core.slots import GenerationSlots, QueueFull


async def test_past_the_queue_limit_a_call_is_refused_at_once():
    slots = GenerationSlots(concurrent=1, queue=1)
    release = asyncio.Event()

    async def hold():
        async with slots.slot():
            await release.wait()

    running = asyncio.create_task(hold())
    queued = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    assert (slots.running, slots.waiting) == (1, 1)
    with pytest.raises(QueueFull, match="1 generations running and 1 waiting"):
        async with slots.slot():
            pass
    release.set()
    await asyncio.gather(running, queued)
    assert (slots.running, slots.waiting) == (0, 0)


async def test_a_cancelled_holder_frees_its_slot():
    slots = GenerationSlots(concurrent=1, queue=0)

    async def hold():
        async with slots.slot():
            await asyncio.sleep(60)

    task = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with slots.slot():
        assert slots.running == 1
