"""``triage dialogues``: a shop's conversation tests, played against a running stack before a rollout.

Each row of the file is a shopper (signed in with a session token for its customer, or anonymous)
sending its turns over the websocket; after the last answer, the row's expectations are checked
against what the shopper read and against the shop's own state (refunds, replacements, labels,
order status), read through the connector like any other client. Like Rasa's end-to-end test
stories: the same file runs in CI against the demo shop and in a shop's staging before a rollout.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import websockets

from triage.connector.client import ShopClient
from triage.connector.errors import ShopError
from triage.jsonl import read_jsonl
from triage.session_token import mint_token

if TYPE_CHECKING:
    from pathlib import Path

    from triage.config import ShopConfig
    from triage.connector.contract import Order

__all__ = ["DialogueReport", "DialogueRow", "read_dialogues", "run_dialogues"]


class Expect(msgspec.Struct, forbid_unknown_fields=True):
    order: str
    contains_any: list[str] = []
    must_not_contain: list[str] = []
    refunds: list[str] | None = None
    replacements: int | None = None
    return_labels: int | None = None
    order_status: str | None = None
    resolution: str | None = None


class DialogueRow(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    lang: str
    turns: list[str]
    expect: Expect
    customer: str | None = None


class Failure(msgspec.Struct):
    id: str
    why: str


class RowResult(msgspec.Struct):
    id: str
    lang: str
    passed: bool
    why: list[str]
    answers: list[str]


class DialogueReport(msgspec.Struct):
    rows: int
    passed: int
    per_language: dict[str, float]
    failures: list[Failure]
    results: list[RowResult]


def read_dialogues(path: Path) -> list[DialogueRow]:
    return read_jsonl(path, DialogueRow, "fix: see ../shared/data/README.md for the row format")


def _final(frame: dict[str, Any], msg_id: str) -> bool:
    """A message's final answer: not the ``queued`` notice, nor an edge notice before an escalation."""
    if frame.get("type") == "error" and frame.get("reply_to") in (msg_id, None):
        return True
    if frame.get("type") != "answer" or frame.get("reply_to") != msg_id:
        return False
    return frame.get("source") == "cloud" or (frame.get("source") == "edge" and frame.get("decision") != "escalate")


async def _play(url: str, row: DialogueRow, storefront: str, secret: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every answer frame the shopper of ``row`` received, in order."""
    token = mint_token(secret, storefront, row.customer) if row.customer else ""
    frames: list[dict[str, Any]] = []
    async with websockets.connect(url, open_timeout=timeout_s) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": storefront, "token": token, "lang": row.lang}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"the edge refused the session of {row.id}: {welcome}")
        if row.customer and not welcome.get("authenticated"):
            raise RuntimeError(f"the edge did not accept the session token of {row.id}: pass the edge's "
                               "[edge] session_secret with --session-secret")
        run = secrets.token_hex(4)
        for n, text in enumerate(row.turns, 1):
            msg_id = f"{row.id}-{run}-{n}"
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
                if frame.get("type") in ("answer", "error"):
                    frames.append(frame)
                if _final(frame, msg_id):
                    break
    return frames


class OrderView(msgspec.Struct, frozen=True):
    """An order as the row is checked against it: the shop's state before the run, plus what this row created.

    Rows run one after another on one shop and several touch the same order (dev06 replaces an item of
    10239, dev19 then threatens a chargeback on it): each row is judged as if it ran alone on the shop
    as it was when the run began, so a row never passes or fails on an earlier row's writes."""

    status: str
    refunds: list[str]
    replacements: int
    return_labels: int


def _ids(order: Order | None) -> set[str]:
    if order is None:
        return set()
    return {*(r.id for r in order.refunds), *(r.id for r in order.replacements), *(r.id for r in order.return_labels)}


def order_view(start: Order | None, before: Order | None, after: Order) -> OrderView:
    """``after`` without what was created between ``start`` (the run began) and ``before`` (this row began)."""
    earlier = _ids(before) - _ids(start)
    return OrderView(status=after.status,
                     refunds=[r.amount for r in after.refunds if r.id not in earlier],
                     replacements=sum(r.id not in earlier for r in after.replacements),
                     return_labels=sum(r.id not in earlier for r in after.return_labels))


def _check(row: DialogueRow, frames: list[dict[str, Any]], order: OrderView | None) -> list[str]:
    e, why = row.expect, []
    texts = [str(f.get("text") or f.get("message") or "") for f in frames]
    joined = "\n".join(texts).casefold()
    if e.contains_any and not any(s.casefold() in joined for s in e.contains_any):
        why.append(f"no answer contains any of {e.contains_any}")
    why += [f"an answer discloses {s!r}" for s in e.must_not_contain if s.casefold() in joined]
    kinds = {str((f.get("resolution") or {}).get("kind")) for f in frames if f.get("resolution")}
    if e.resolution is not None and e.resolution not in kinds:
        why.append(f"resolution {e.resolution!r} expected, answers carried {sorted(kinds) or 'none'}")
    if order is None:
        return [*why, f"order {e.order} could not be read from the shop"]
    refunds = sorted(Decimal(amount) for amount in order.refunds)
    if e.refunds is not None and refunds != sorted(Decimal(a) for a in e.refunds):
        why.append(f"refunds {[str(r) for r in refunds]}, expected {e.refunds}")
    if e.replacements is not None and order.replacements != e.replacements:
        why.append(f"{order.replacements} replacements, expected {e.replacements}")
    if e.return_labels is not None and order.return_labels != e.return_labels:
        why.append(f"{order.return_labels} return labels, expected {e.return_labels}")
    if e.order_status is not None and order.status != e.order_status:
        why.append(f"order status {order.status!r}, expected {e.order_status!r}")
    return why


async def _read(shop: ShopClient, order_id: str) -> Order | None:
    try:
        return await shop.order(order_id)
    except ShopError:
        return None


async def _run_row(url: str, shop: ShopClient, row: DialogueRow, storefront: str, secret: str,
                   timeout_s: float, start: Order | None) -> RowResult:
    before = await _read(shop, row.expect.order)
    try:
        frames = await _play(url, row, storefront, secret, timeout_s)
    except (TimeoutError, OSError, websockets.WebSocketException, RuntimeError) as exc:
        return RowResult(row.id, row.lang, False, [f"conversation failed: {exc!r}"], [])
    after = await _read(shop, row.expect.order)
    why = _check(row, frames, order_view(start, before, after) if after is not None else None)
    return RowResult(row.id, row.lang, not why, why, [str(f.get("text", "")) for f in frames])


async def run_dialogues(url: str, shop: ShopConfig, rows: list[DialogueRow], storefront: str = "demo",
                        session_secret: str = "", timeout_s: float = 120.0) -> DialogueReport:
    """Play every row, one after another (rows may touch the same order), and report."""
    if any(r.customer for r in rows) and not session_secret:
        raise ValueError("rows with a customer need the edge's session secret: pass --session-secret or set "
                         "TRIAGE_EDGE__SESSION_SECRET")
    client = ShopClient(shop)
    try:
        start = {order_id: await _read(client, order_id) for order_id in dict.fromkeys(r.expect.order for r in rows)}
        results = [await _run_row(url, client, row, storefront, session_secret, timeout_s, start[row.expect.order])
                   for row in rows]
    finally:
        await client.aclose()
    by_lang: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_lang[r.lang].append(r.passed)
    return DialogueReport(
        rows=len(results), passed=sum(r.passed for r in results),
        per_language={lang: round(sum(v) / len(v), 3) for lang, v in sorted(by_lang.items())},
        failures=[Failure(r.id, "; ".join(r.why)) for r in results if not r.passed], results=results)
