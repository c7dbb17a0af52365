"""Fixtures of the end-to-end tests that talk to an edge as shoppers."""

from __future__ import annotations

import pytest

from tests.e2e.shoppers import Shopper


@pytest.fixture
async def connect():
    """Open shoppers' websockets; all are closed when the test ends."""
    opened: list = []

    async def open_one(url: str, customer: str | None = None, lang: str | None = None) -> Shopper:
        shopper = await Shopper.connect(url, customer, lang)
        opened.append(shopper.ws)
        return shopper

    yield open_one
    for ws in opened:
        await ws.close()
