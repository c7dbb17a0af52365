"""``triage agent``: the console's HTTP side, a thin translation of page requests into Cases calls.

Everything a person does goes through the cloud's gRPC Cases API with that person's own agent
token, so the console holds no case state and enforces nothing the API would not: it is a client
like any helpdesk integration. The case stream reaches the page as server-sent events (``id`` is
the watch cursor, so the browser's automatic reconnect resumes where it stopped).

Requests that change something must carry ``X-Triage-Console: 1``: a header another site's page
cannot add without a CORS preflight this app never grants, on top of the SameSite=Strict cookie.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import msgspec
from google.protobuf import json_format
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import ServerSentEvent, ServerSentEventMessage

from cloud_core.console.logins import Login, Logins
from protos.triage.v1 import cases_pb2 as cpb
from protos.triage.v1 import cases_pb2_grpc as cpb_grpc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from litestar.handlers import BaseRouteHandler

    from triage.config import ConsoleConfig

__all__ = ["create_console"]

log = logging.getLogger("triage.console")
COOKIE = "triage_console"
_HTTP = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.UNAUTHENTICATED: 401,
         grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
         grpc.StatusCode.FAILED_PRECONDITION: 409, grpc.StatusCode.UNAVAILABLE: 503}
_KEEPALIVE_S = 15.0


class LoginForm(msgspec.Struct):
    token: str


class ReplyForm(msgspec.Struct):
    text: str
    request_id: str
    quick_replies: list[str] = []


class DecideForm(msgspec.Struct):
    approve: bool
    note: str = ""


class CloseForm(msgspec.Struct):
    intent: str = ""
    edge_could_answer: bool = False
    flagged: bool = False


def _static(name: str) -> bytes:
    return files("cloud_core.console").joinpath("static", name).read_bytes()


def _json(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return out


class Console:
    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.logins = Logins()
        self._channel: grpc.aio.Channel | None = None
        self._stub: cpb_grpc.CasesStub | None = None

    @property
    def stub(self) -> cpb_grpc.CasesStub:
        if self._stub is None:  # made inside the serving loop (grpc.aio binds to it)
            if self.config.cloud_tls_ca:
                credentials = grpc.ssl_channel_credentials(Path(self.config.cloud_tls_ca).read_bytes())
                self._channel = grpc.aio.secure_channel(self.config.cloud, credentials)
            else:
                self._channel = grpc.aio.insecure_channel(self.config.cloud)
            self._stub = cpb_grpc.CasesStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=1.0)

    @staticmethod
    def metadata(token: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {token}"),)

    def login_of(self, request: Request[Any, Any, Any]) -> Login | None:
        return self.logins.get(request.cookies.get(COOKIE))

    @staticmethod
    def refused(exc: grpc.aio.AioRpcError) -> Response[dict[str, str]]:
        return Response({"error": exc.details() or exc.code().name, "code": exc.code().name},
                        status_code=_HTTP.get(exc.code(), 502))


def _guarded(request: Request[Any, Any, Any]) -> Response[dict[str, str]] | None:
    if request.headers.get("x-triage-console") != "1":
        return Response({"error": "send the X-Triage-Console: 1 header"}, status_code=400)
    return None


def _routes(console: Console) -> list[BaseRouteHandler]:
    unauthorized = Response({"error": "sign in with your agent token"}, status_code=401)

    @get("/")
    async def page() -> Response[bytes]:
        return Response(_static("console.html"), media_type=MediaType.HTML,
                        headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
                                 "X-Frame-Options": "DENY"})

    @get("/console.js")
    async def script() -> Response[bytes]:
        return Response(_static("console.js"), media_type="application/javascript")

    @post("/api/login", status_code=200)
    async def login(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        if (bad := _guarded(request)) is not None:
            return bad
        try:
            form = msgspec.json.decode(await request.body(), type=LoginForm)
        except msgspec.DecodeError as exc:
            return Response({"error": f"send {{\"token\": \"...\"}} ({exc})"}, status_code=400)
        token = form.token.strip()
        try:
            agent = await console.stub.WhoAmI(cpb.WhoAmIRequest(), metadata=console.metadata(token), timeout=10)
        except grpc.aio.AioRpcError as exc:
            return console.refused(exc)
        login_id = console.logins.add(token, agent.tenant, agent.agent_id, agent.display_name)
        cookie = Cookie(key=COOKIE, value=login_id, httponly=True, samesite="strict", path="/",
                        secure=console.config.secure_cookies, max_age=int(console.logins.ttl_s))
        return Response(_json(agent), cookies=[cookie])

    @post("/api/logout", status_code=200)
    async def logout(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        console.logins.remove(request.cookies.get(COOKIE))
        return Response({"status": "signed out"}, cookies=[Cookie(key=COOKIE, value="", max_age=0, path="/")])

    @get("/api/me")
    async def me(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        found = console.login_of(request)
        if found is None:
            return unauthorized
        return Response({"tenant": found.tenant, "agent_id": found.agent_id, "display_name": found.display_name})

    @get("/api/events")
    async def events(request: Request[Any, Any, Any]) -> Response[dict[str, str]] | ServerSentEvent:
        found = console.login_of(request)
        if found is None:
            return unauthorized
        resume = request.headers.get("last-event-id") or request.query_params.get("cursor") or "0"
        cursor = int(resume) if resume.isdigit() else 0

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            call = console.stub.WatchCases(cpb.WatchCasesRequest(cursor=cursor), metadata=console.metadata(found.token))
            try:
                yield ServerSentEventMessage(event="ready", data="{}", retry=1000)
                while True:
                    try:
                        event = await asyncio.wait_for(call.read(), _KEEPALIVE_S)
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keepalive")
                        continue
                    if event is grpc.aio.EOF:
                        return
                    yield ServerSentEventMessage(event="case", id=str(event.cursor),
                                                 data=msgspec.json.encode(_json(event)).decode())
            except grpc.aio.AioRpcError as exc:
                yield ServerSentEventMessage(event="failed", data=msgspec.json.encode(
                    {"error": exc.details(), "code": exc.code().name}).decode())
            finally:
                call.cancel()

        return ServerSentEvent(stream())

    def case_action(name: str, form_type: type[Any], call: Callable[[Any, str, Any], Any], timeout_s: float) -> Any:
        """``POST /api/cases/<id>/<name>``: the form, then one Cases call as the signed-in agent."""

        @post(f"/api/cases/{{case_id:str}}/{name}", status_code=200, name=f"case-{name}")
        async def act(request: Request[Any, Any, Any], case_id: str) -> Response[dict[str, Any]]:
            if (bad := _guarded(request)) is not None:
                return bad
            found = console.login_of(request)
            if found is None:
                return unauthorized
            try:
                form = msgspec.json.decode(await request.body(), type=form_type)
                view = await call(console.stub, case_id, form)(metadata=console.metadata(found.token),
                                                                timeout=timeout_s)
            except grpc.aio.AioRpcError as exc:
                return console.refused(exc)
            except msgspec.DecodeError as exc:
                return Response({"error": f"malformed request: {exc}"}, status_code=400)
            return Response(_json(view))

        return act

    reply = case_action("reply", ReplyForm, lambda stub, case_id, f: partial(stub.ReplyToCase, cpb.ReplyToCaseRequest(
        case_id=case_id, text=f.text, request_id=f.request_id, quick_replies=f.quick_replies)), 20)
    decide = case_action("decide", DecideForm, lambda stub, case_id, f: partial(
        stub.DecideProposal, cpb.DecideProposalRequest(case_id=case_id, approve=f.approve, note=f.note)), 30)
    close = case_action("close", CloseForm, lambda stub, case_id, f: partial(stub.CloseCase, cpb.CloseCaseRequest(
        case_id=case_id, intent=f.intent, edge_could_answer=f.edge_could_answer, flagged=f.flagged)), 20)

    return [page, script, login, logout, me, events, reply, decide, close]


def create_console(config: ConsoleConfig) -> Litestar:
    console = Console(config)
    return Litestar(route_handlers=_routes(console), on_shutdown=[console.close], debug=False)
