"""Fixtures of the end-to-end tests that talk to an edge as shoppers."""

from __future__ import annotations

import pytest

from tests.e2e.shoppers import SHOP_SECRET, Shopper
from tests.shop_process import ShopProcess


@pytest.fixture
def shop(tmp_path):
    """The demo shop (``triage shop``) on a free port, on its own database, with faults allowed."""
    process = ShopProcess(str(tmp_path / "shop.db"), secret=SHOP_SECRET).start()
    yield process
    process.stop()


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
