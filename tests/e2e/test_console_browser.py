"""The reference agent console and the widget in one headless Chromium, against real processes (demo
shop, cloud core with the demo procedures, edge, ``triage agent``): dev16's refund proposal reaches a
person, who approves and replies, and the shopper sees the reply live and after a reload, exactly once,
with the shop holding exactly one refund; also with the edge SIGKILLed while the reply is in flight.
Screenshots go to docs/ when TRIAGE_UPDATE_DOCS=1."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import CLOUD_TOKEN, ROOT, EdgeProcess
from tests.e2e.handoff import AGENT_TOKEN, DEV16, ConsoleProcess, handoff_cloud
from tests.e2e.shoppers import SECRET, SHOP_SECRET
from triage.session_token import mint_token

pytestmark = pytest.mark.slow

REPLY = "Goedemiddag Sanne, ik heb de terugbetaling van € 249,00 goedgekeurd; u ziet hem binnen 3 werkdagen. Anna"
WIDGET = "document.querySelector('triage-chat').shadowRoot"
PEOPLE = f"[...{WIDGET}.querySelectorAll('.g.p')]"


@pytest.fixture
def stack(llm_folder, shop, demo_bundle, tmp_path):
    cloud = handoff_cloud(llm_folder, shop, tmp_path / "memory.db")
    edge = EdgeProcess(demo_bundle, {
        "TRIAGE_SHOP__URL": shop.url, "TRIAGE_SHOP__SECRET": SHOP_SECRET, "TRIAGE_EDGE__SESSION_SECRET": SECRET,
        "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "10",
        "TRIAGE_EDGE__QUEUED_AFTER_S": "15"}, store=tmp_path / "edge.db", cloud=cloud.address)
    console = ConsoleProcess(cloud.address)
    yield shop, edge, console
    console.stop()
    edge.stop()
    cloud.stop()


def _shots(tmp_path: Path) -> Path:
    return ROOT / "docs" if os.environ.get("TRIAGE_UPDATE_DOCS") == "1" else tmp_path


def _refunds(shop, order_id: str) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in shop.order(order_id)["refunds"]]


def _shopper(browser, edge):
    token = mint_token(SECRET, "demo", "c-1006")
    page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    page.goto(f"{edge.url}/?lang=nl&open&token={token}")
    page.wait_for_selector("triage-chat[data-ready]", state="attached", timeout=20_000)
    return page


def _agent(browser, console):
    page = browser.new_context(viewport={"width": 1280, "height": 820}).new_page()
    page.goto(console.url)
    page.fill("#token", AGENT_TOKEN)
    page.click("#login-form button")
    page.wait_for_selector("#live:not(.off)", timeout=10_000)
    assert page.inner_text("#who") == "Anna · demo"
    return page


def _ask_dispute(page) -> None:
    before = page.evaluate(f"{WIDGET}.querySelectorAll('.g.s').length")
    box = page.locator("triage-chat textarea")
    box.fill(DEV16)
    box.press("Enter")
    page.wait_for_function(f"[...{WIDGET}.querySelectorAll('.g.s')].slice({before})"
                           ".some(e => e.textContent.includes('C-'))", timeout=60_000)


def _open_proposal(agent) -> str:
    """Wait (2 s at most) for the proposal in the inbox, open it, return its case id."""
    item = agent.wait_for_selector("#cases li[data-state=CASE_STATE_PROPOSED]", timeout=2_000)
    case_id = item.get_attribute("data-case")
    item.click()
    agent.wait_for_selector("#approve")
    return str(case_id)


def _people_bubbles(page, settle_ms: int = 1500) -> list[str]:
    page.wait_for_timeout(settle_ms)  # a second copy, were one coming, would be here by now
    return page.evaluate(f"{PEOPLE}.map(e => e.firstChild.textContent)")


def test_a_proposal_reaches_the_console_and_the_persons_reply_reaches_the_widget_once(browser, stack, tmp_path):
    shop, edge, console = stack
    agent = _agent(browser, console)
    shopper = _shopper(browser, edge)
    _ask_dispute(shopper)
    shown_at = time.monotonic()
    case_id = _open_proposal(agent)
    print(f"the proposal reached the console {time.monotonic() - shown_at:.2f} s after the widget showed it")
    assert "€ 249,00" in agent.inner_text("#detail .amt") or "249" in agent.inner_text("#detail .amt")
    assert "damaged_item" in agent.inner_text("#detail") and "c-1006" in agent.inner_text("#detail")
    suggested = agent.input_value("#reply")
    assert "249,00" in suggested, "the starting point is the procedure's reply, in Dutch"
    agent.screenshot(path=str(_shots(tmp_path) / "console-proposal.png"))
    assert _refunds(shop, "10247") == []

    agent.click("#approve")
    agent.locator("#detail", has_text="approved by Anna").wait_for()
    assert _refunds(shop, "10247") == [Decimal("249.00")]
    agent.fill("#reply", REPLY)
    agent.click("#send")
    agent.locator(".m.ROLE_AGENT", has_text=REPLY[:20]).wait_for()
    shopper.wait_for_function(f"{PEOPLE}.some(e => e.textContent.includes({REPLY[:20]!r}))", timeout=10_000)
    assert _people_bubbles(shopper) == [REPLY], "live: one bubble, a person's"
    assert "Anna" in shopper.evaluate(f"{PEOPLE}[0].querySelector('.t').textContent")
    shopper.screenshot(path=str(_shots(tmp_path) / "widget-human-reply.png"))
    agent.screenshot(path=str(_shots(tmp_path) / "console-replied.png"))

    shopper.reload()
    shopper.wait_for_selector("triage-chat[data-ready]", state="attached")
    assert _people_bubbles(shopper) == [REPLY], "after a reload: still exactly one"
    agent.click("#close")
    agent.select_option("#f-state", "CASE_STATE_CLOSED")
    agent.wait_for_selector(f"#cases li[data-case='{case_id}'][data-state=CASE_STATE_CLOSED]")
    assert _refunds(shop, "10247") == [Decimal("249.00")], "exactly one refund of 249.00"


def test_the_reply_reaches_the_widget_once_when_the_edge_is_killed_while_it_is_in_flight(browser, stack):
    shop, edge, console = stack
    agent = _agent(browser, console)
    shopper = _shopper(browser, edge)
    _ask_dispute(shopper)
    _open_proposal(agent)
    agent.click("#approve")
    agent.locator("#detail", has_text="approved by Anna").wait_for()
    edge.kill()  # SIGKILL: the widget goes offline; the reply waits in the cloud for this edge
    agent.fill("#reply", REPLY)
    agent.click("#send")
    agent.locator(".m.ROLE_AGENT", has_text=REPLY[:20]).wait_for()
    edge.start()  # same port and store: the widget reconnects by itself and resumes its session
    shopper.wait_for_function(f"{PEOPLE}.some(e => e.textContent.includes({REPLY[:20]!r}))", timeout=30_000)
    assert _people_bubbles(shopper) == [REPLY]
    shopper.reload()
    shopper.wait_for_selector("triage-chat[data-ready]", state="attached")
    assert _people_bubbles(shopper) == [REPLY]
    assert _refunds(shop, "10247") == [Decimal("249.00")]
