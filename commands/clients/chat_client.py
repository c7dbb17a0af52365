"""``triage chat``: a command-line shopper speaking the websocket protocol.

A client of the edge, not part of it: it knows only the websocket schema, as a browser does.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import websockets

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["ask"]


async def ask(
    url: str, texts: list[str], storefront: str = "demo", timeout: float = 90.0
) -> AsyncIterator[dict[str, object]]:
    """Send each text in one session and yield its answer frames: a ``queued`` notice, if any, then
    the final answer (or error). A message still queued after ``timeout`` seconds is left to the
    outbox; the next text is sent."""
    async with websockets.connect(url, open_timeout=timeout) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": storefront, "token": "", "session": None,
                                  "last_seq": 0}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"edge refused the session: {welcome}")
        for n, text in enumerate(texts, 1):
            msg_id = f"cli-{n}"
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))
            while True:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                except TimeoutError:
                    break
                if frame.get("type") in ("answer", "error") and frame.get("reply_to") in (msg_id, None):
                    yield frame
                    if frame.get("source") != "queued":
                        break
