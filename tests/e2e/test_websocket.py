"""A real ``triage edge`` process over a real websocket, as DESIGN.md specifies the wire."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import TYPE_CHECKING

import httpx
import pytest
import websockets

from tests.conftest import DEMO_CATALOG
from triage.catalog import load_catalog

if TYPE_CHECKING:
    from tests.conftest import EdgeProcess

pytestmark = pytest.mark.slow


async def _hello(ws, session: str | None = None, last_seq: int = 0, resume_key: str = "") -> dict:
    await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": "", "session": session,
                              "resume_key": resume_key, "last_seq": last_seq}))
    frame = json.loads(await ws.recv(10))
    assert frame["type"] == "welcome"
    return frame


async def _ask(ws, msg_id: str, text: str) -> dict:
    await ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))
    while True:
        frame = json.loads(await ws.recv(10))
        if frame["type"] in ("answer", "error"):
            return frame


FAQ_QUESTIONS = [
    ("en", "Do you ship to the UK?", "shipping_countries"),
    ("de", "Was kostet der Versand?", "shipping_cost"),
    ("fr", "Vendez-vous des cartes cadeaux ?", "gift_cards"),
    ("es", "¿Hacéis envoltorio para regalo?", "gift_wrapping"),
    ("it", "Avete un programma fedeltà?", "loyalty_program"),
    ("pt", "Vocês têm aplicação para telemóvel?", "mobile_app"),
    ("nl", "Hoe was ik mijn regenjas?", "jacket_care"),
    ("pl", "Czy macie zniżkę dla studentów?", "student_discount"),
]


async def test_faq_questions_in_eight_languages_are_answered_in_the_same_language(edge: EdgeProcess) -> None:
    answers = {f.id: f.answers for f in load_catalog(DEMO_CATALOG).faqs}
    async with websockets.connect(edge.ws_url) as ws:
        await _hello(ws)
        for n, (lang, text, faq) in enumerate(FAQ_QUESTIONS, 1):
            frame = await _ask(ws, f"m{n}", text)
            assert next(iter(frame)) == "type"
            assert frame["type"] == "answer" and frame["reply_to"] == f"m{n}"
            assert frame["seq"] == n
            assert frame["lang"] == lang, (text, frame)
            assert frame["source"] == "edge"
            assert frame["text"] == answers[faq][lang], (text, frame)


async def test_bad_input_gets_an_error_frame_and_the_connection_stays_usable(edge: EdgeProcess) -> None:
    async with websockets.connect(edge.ws_url) as ws:
        await _hello(ws)
        cases = [
            ("x" * 5000, "too_large"),
            ("{not json", "bad_request"),
            (json.dumps({"type": "shout", "text": "hi"}), "unknown_type"),
            (json.dumps({"type": "message", "id": "a"}), "bad_request"),
            (json.dumps({"type": "message", "id": "a", "text": "   "}), "bad_request"),
            # a shopper-chosen id is stored, echoed and logged: no newline, escape or 1 KB of it (issue #22, low)
            (json.dumps({"type": "message", "id": "m1\nERROR forged log line", "text": "hi"}), "bad_request"),
            (json.dumps({"type": "message", "id": "\u001b[31mred", "text": "hi"}), "bad_request"),
            (json.dumps({"type": "message", "id": "x" * 65, "text": "hi"}), "bad_request"),
            (json.dumps([1, 2, 3]), "bad_request"),
        ]
        for data, code in cases:
            await ws.send(data)
            frame = json.loads(await ws.recv(10))
            assert frame["type"] == "error" and frame["code"] == code, (data[:40], frame)
        # PostgreSQL's text refuses NUL: refused here for every store, with the message's id as the receipt
        await ws.send(json.dumps({"type": "message", "id": "nul", "text": "hi\u0000there"}))
        frame = json.loads(await ws.recv(10))
        assert (frame["code"], frame["reply_to"]) == ("bad_request", "nul") and "NUL" in frame["message"]
        await ws.send(b"\x00\x01binary")
        assert json.loads(await ws.recv(10))["code"] == "bad_request"
        await ws.send(b"\xff\xfe\xfa invalid utf-8")
        assert json.loads(await ws.recv(10))["code"] == "bad_encoding"
        frame = await _ask(ws, "after", "How much is shipping?")
        assert frame["type"] == "answer" and frame["reply_to"] == "after"


async def test_message_before_hello_is_refused_politely(edge: EdgeProcess) -> None:
    async with websockets.connect(edge.ws_url) as ws:
        frame = await _ask(ws, "early", "hello?")
        assert frame["code"] == "bad_request" and "hello" in frame["message"]


async def test_a_flood_is_rate_limited_without_closing_the_socket(edge: EdgeProcess) -> None:
    async with websockets.connect(edge.ws_url) as ws:
        await _hello(ws)
        for n in range(30):
            await ws.send(json.dumps({"type": "message", "id": f"f{n}", "text": "How much is shipping?"}))
        answered: set[str] = set()
        limited = 0
        while len(answered) + limited < 30:  # each message is answered (edge or queued) or refused
            frame = json.loads(await ws.recv(10))
            limited += frame.get("code") == "rate_limited"
            if frame["type"] == "answer":
                answered.add(frame["reply_to"])
        assert limited and answered
        await asyncio.sleep(0.5)  # the connection's bucket refills (pings count against it too)
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv(10))["type"] == "pong"


async def test_resume_replays_missed_answers_exactly_once(edge: EdgeProcess) -> None:
    async with websockets.connect(edge.ws_url) as ws:
        hello = await _hello(ws)
        session = hello["session"]
        first = await _ask(ws, "r1", "How much is shipping?")
        second = await _ask(ws, "r2", "Do you sell gift cards?")
    async with websockets.connect(edge.ws_url) as ws:
        # The session id alone (it is in the logs) no longer resumes an anonymous session.
        assert (await _hello(ws, session=session, last_seq=first["seq"]))["session"] != session
    async with websockets.connect(edge.ws_url) as ws:
        welcome = await _hello(ws, session=session, last_seq=first["seq"], resume_key=hello["resume_key"])
        assert welcome["session"] == session and welcome["seq"] == second["seq"]
        replay = json.loads(await ws.recv(10))
        assert replay == second
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv(10))["type"] == "pong"


def test_health_readiness_metrics_and_demo_page(edge: EdgeProcess) -> None:
    assert httpx.get(edge.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(edge.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["storefront"] == "demo"
    metrics = httpx.get(edge.url + "/metrics").text
    assert "triage_edge_answer_seconds_bucket" in metrics and "triage_edge_decisions_total" in metrics
    page = httpx.get(edge.url + "/")
    assert page.status_code == 200 and "/widget.js" in page.text
    assert "WebSocket" in httpx.get(edge.url + "/widget.js").text


def test_triage_chat_prints_the_answers(edge: EdgeProcess) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "commands", "chat", "--url", edge.ws_url, "Was kostet der Versand?"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.startswith("[de edge") and "4,95" in out.stdout


def test_bundle_reload_is_refused_without_the_admin_token(edge: EdgeProcess) -> None:
    response = httpx.post(edge.url + "/admin/bundle", json={"path": "/tmp"}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 401 and "admin_token" in response.json()["error"]


@pytest.fixture(scope="module")
def secured_edge(demo_bundle):
    from tests.conftest import EdgeProcess

    process = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__SESSION_SECRET": "a-shop-backend-secret",
                                        "TRIAGE_EDGE__ALLOWED_ORIGINS": "https://shop.example"})
    yield process
    process.stop()


async def test_a_signed_customer_token_authenticates_and_anyone_else_is_anonymous(secured_edge) -> None:
    import subprocess
    import sys

    token = subprocess.run([sys.executable, "-m", "commands", "token", "--customer", "c-42", "--secret",
                            "a-shop-backend-secret"], capture_output=True, text=True, check=True).stdout.strip()
    origin = {"Origin": "https://shop.example"}
    async with websockets.connect(secured_edge.ws_url, additional_headers=origin) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": token}))
        signed_in = json.loads(await ws.recv(10))
        assert signed_in["authenticated"] is True
    async with websockets.connect(secured_edge.ws_url, additional_headers=origin) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": token[:-3] + "abc"}))
        anonymous = json.loads(await ws.recv(10))
        assert anonymous["authenticated"] is False
    async with websockets.connect(secured_edge.ws_url, additional_headers=origin) as ws:
        # The customer's session cannot be resumed without the customer's token.
        await ws.send(json.dumps({"type": "hello", "storefront": "demo", "session": signed_in["session"]}))
        assert json.loads(await ws.recv(10))["session"] != signed_in["session"]


async def test_a_page_from_another_origin_cannot_open_the_chat(secured_edge) -> None:
    async with websockets.connect(secured_edge.ws_url, additional_headers={"Origin": "https://evil.example"}) as ws:
        frame = json.loads(await ws.recv(10))
        assert frame["code"] == "unauthorized" and "evil.example" in frame["message"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv(10)
        assert closed.value.rcvd.code == 4403


async def test_a_hello_beyond_max_sessions_is_refused_until_a_session_leaves(demo_bundle, tmp_path):
    from tests.conftest import EdgeProcess

    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__MAX_SESSIONS": "2"}, store=tmp_path / "edge.db")
    try:
        first, second = await websockets.connect(edge.ws_url), await websockets.connect(edge.ws_url)
        await _hello(first)
        await _hello(second)
        async with websockets.connect(edge.ws_url) as third:
            await third.send(json.dumps({"type": "hello", "storefront": "demo"}))
            refused = json.loads(await third.recv(10))
            assert refused["type"] == "error" and refused["code"] == "overloaded"
            await first.close()
            for _ in range(50):  # the edge notices the close
                await third.send(json.dumps({"type": "hello", "storefront": "demo"}))
                frame = json.loads(await third.recv(10))
                if frame["type"] == "welcome":
                    break
                await asyncio.sleep(0.1)  # hellos are rate limited too
            assert frame["type"] == "welcome"
        await second.close()
    finally:
        edge.stop()


def _live_sessions(edge: EdgeProcess) -> float:
    for line in httpx.get(edge.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("triage_edge_live_sessions "):
            return float(line.split()[1])
    raise AssertionError("no triage_edge_live_sessions in /metrics")


async def test_many_hellos_on_one_socket_leave_one_live_session_and_none_after_it_closes(edge):
    # Before: after 500 hellos on one socket the relay kept 499 listener entries and the gateway
    # 500 empty session keys, for as long as the process lived; and each hello made a session row.
    before = _live_sessions(edge)
    welcomed = limited = 0
    async with websockets.connect(edge.ws_url) as ws:
        for _ in range(200):
            await ws.send(json.dumps({"type": "hello", "storefront": "demo", "token": "", "session": None}))
            frame = json.loads(await ws.recv())
            welcomed += frame["type"] == "welcome"
            limited += frame.get("code") == "rate_limited"
        assert welcomed + limited == 200 and welcomed <= 20, "hellos count against the connection's limit"
        assert _live_sessions(edge) == before + 1
    for _ in range(50):
        if _live_sessions(edge) == before:
            break
        await __import__("asyncio").sleep(0.1)
    assert _live_sessions(edge) == before


async def test_a_reconnect_flood_from_one_address_is_refused_not_turned_into_sessions(demo_bundle, tmp_path):
    """Before: limits were per connection, so a new connection per hello made a session row per hello
    (500 hellos in 0.9 s, 500 rows). Now one address's hellos share a bucket across its connections."""
    from tests.conftest import EdgeProcess

    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__ADDRESS_RATE_PER_S": "1", "TRIAGE_EDGE__ADDRESS_RATE_BURST": "20"},
                       store=tmp_path / "edge.db")
    welcomed = limited = 0
    try:
        for _ in range(100):
            async with websockets.connect(edge.ws_url) as ws:
                await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
                frame = json.loads(await ws.recv(10))
                welcomed += frame["type"] == "welcome"
                limited += frame.get("code") == "rate_limited"
    finally:
        edge.stop()
    assert welcomed + limited == 100 and welcomed <= 25, (welcomed, limited)
    with sqlite3.connect(tmp_path / "edge.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == welcomed


async def test_a_websocket_that_never_says_hello_is_closed(demo_bundle, tmp_path):
    """Before: a websocket that never said hello stayed open for ever (issue #22, finding 6)."""
    from tests.conftest import EdgeProcess

    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__HELLO_TIMEOUT_S": "1"}, store=tmp_path / "edge.db")
    try:
        async with websockets.connect(edge.ws_url) as silent:
            frame = json.loads(await silent.recv(10))
            assert frame["type"] == "error" and "hello" in frame["message"]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await silent.recv(10)
            assert closed.value.rcvd.code == 4408
        async with websockets.connect(edge.ws_url) as polite:  # one that says hello in time is served
            await _hello(polite)
            await asyncio.sleep(1.5)
            await polite.send(json.dumps({"type": "ping"}))
            assert json.loads(await polite.recv(10))["type"] == "pong"
    finally:
        edge.stop()


async def test_connections_past_the_cap_are_refused_before_any_work(demo_bundle, tmp_path):
    """Before: no connection cap (issue #22, finding 6); now the process refuses the handshake."""
    from tests.conftest import EdgeProcess

    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__MAX_CONNECTIONS": "3"}, store=tmp_path / "edge.db")
    held = []
    try:
        refused = None
        for _ in range(6):
            try:
                held.append(await websockets.connect(edge.ws_url))
            except websockets.InvalidStatus as exc:
                refused = exc.response.status_code
                break
        assert refused is not None and refused >= 400 and len(held) == 3
        await held.pop().close()
        await asyncio.sleep(0.3)
        again = await websockets.connect(edge.ws_url)  # a place came free
        await _hello(again)
        await again.close()
    finally:
        for ws in held:
            await ws.close()
        edge.stop()
