"""Whatever a client sends that is not a valid frame, a real edge answers with one error frame and
keeps the connection usable: the next ping gets its pong and the next message its answer."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from tests.conftest import EdgeProcess

pytestmark = pytest.mark.slow

_CODES = {"too_large", "rate_limited", "bad_request", "bad_encoding", "unauthorized", "unknown_type", "internal"}
_VALID_TYPES = {"hello", "message", "ping"}

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_non_strings = _json_values.filter(lambda v: not isinstance(v, str))
# Objects that look like frames but are not: unknown types, and messages with a wrong or missing field.
_near_frames = st.one_of(
    st.fixed_dictionaries({"type": st.text(max_size=12).filter(lambda t: t not in _VALID_TYPES)},
                          optional={"id": _json_values, "text": _json_values}),
    st.fixed_dictionaries({"type": st.just("message")},
                          optional={"id": _non_strings,
                                    "text": _json_values}),
    st.fixed_dictionaries({"type": st.just("message"), "id": st.text(max_size=8),
                           "text": st.one_of(st.just(""), st.just("   "), _non_strings)}),
)
_bad_frames = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=200).filter(lambda t: not t.lstrip().startswith("{")),
    _json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    _near_frames.map(json.dumps),
    st.text(min_size=4100, max_size=4200, alphabet="ab"),  # over the 4 KiB frame limit
)


async def _exchange(url: str, frames: list[str | bytes]) -> None:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": "", "session": None,
                                  "last_seq": 0}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "welcome"
        for data in frames:
            await ws.send(data)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reply["type"] == "error", (data[:60], reply)
            assert reply["code"] in _CODES and reply["message"], reply
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"  # nothing else was owed
        await ws.send(json.dumps({"type": "message", "id": "after", "text": "How much is shipping?"}))
        while (reply := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "answer":
            assert reply["type"] == "typing", reply
        assert reply["reply_to"] == "after" and reply["source"] == "edge"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(_bad_frames, min_size=1, max_size=6))
def test_any_bad_frame_gets_one_error_and_the_connection_stays_usable(edge: EdgeProcess, frames) -> None:
    asyncio.run(_exchange(edge.ws_url, frames))
