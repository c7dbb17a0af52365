"""Shoppers on the edge's websocket, for the tests of actions and disputes."""

from __future__ import annotations

import asyncio
import json

import websockets

from triage.session_token import mint_token

__all__ = ["SECRET", "SHOP_SECRET", "Shopper", "_resume"]

SECRET = "test-session-secret-0123456789"
SHOP_SECRET = "test-shop-secret-0123456789"


class Shopper:
    def __init__(self, ws, session: str, resume_key: str = "") -> None:
        self.ws = ws
        self.session = session
        self.resume_key = resume_key
        """What an anonymous shopper shows with ``session`` to resume it."""
        self.n = 0

    @classmethod
    async def connect(cls, url: str, customer: str | None = None, lang: str | None = None) -> Shopper:
        ws = await websockets.connect(url)
        token = mint_token(SECRET, "demo", customer) if customer else ""
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": token, "lang": lang}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["authenticated"] == bool(customer)
        return cls(ws, welcome["session"], welcome["resume_key"])

    async def say(self, text: str, msg_id: str | None = None, timeout: float = 20) -> list[dict]:
        """The answer frames for one message, up to its final answer (or a queued notice)."""
        self.n += 1
        msg_id = msg_id or f"m{self.n}"
        await self.ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))
        frames = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame["type"] == "answer" and frame["reply_to"] == msg_id:
                frames.append(frame)
                if frame["source"] in ("cloud", "queued") or frame["decision"] != "escalate":
                    return frames


async def _resume(url: str, session: str, last_seq: int, customer: str | None = None, resume_key: str = ""):
    ws = await websockets.connect(url)
    token = mint_token(SECRET, "demo", customer) if customer else ""
    await ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": session, "last_seq": last_seq,
                              "token": token, "resume_key": resume_key}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws
