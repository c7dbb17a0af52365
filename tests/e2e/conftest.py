"""Fixtures of the end-to-end tests: shoppers on an edge's websocket, the demo shop, and Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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


CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, check=False, timeout=600)
        if not Path(CHROMIUM).exists():
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, check=False,
                           timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium: `apt-get install chromium` "
                    "(Playwright's own browser download does not work here)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (the widget's and the agent console's tests)."""
    from playwright.sync_api import sync_playwright

    executable = _ensure_chromium()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield instance
        instance.close()
