"""Fuzzing at scale: hypothesis-made websocket frames against a real edge, protobufs against a real cloud.

Both sides run as the product runs them (``triage edge`` and ``triage cloud`` processes on
loopback, their logs to files). The frames and messages come from hypothesis strategies: JSON
client frames with every field mutated (types, sizes, unknown keys and frame types), arbitrary
text, binary frames, oversized frames; protobufs built from random field values, then truncated
or bit-flipped, and raw bytes, for 12 of the 14 methods of ``triage.v1.Escalation`` and
``triage.v1.Cases`` (the two endless watch streams, SubscribeDeliveries and WatchCases, are left
out). What must hold, and is checked:

- the edge answers every frame it is sent, with an answer or an error frame of the contract's
  codes, never ``internal``; each connection still answers a ping after every batch and a real
  question at the end; no traceback in the edge's log;
- the cloud answers every call with OK or a status that names the caller's mistake
  (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, ...), never UNKNOWN or INTERNAL; health is
  SERVING and a real escalation is answered at the end; no traceback in the cloud's log.

An Escalate request with a key and a message would run the model, so fuzzed Escalate calls have
their key cleared (they are refused before generation); the other methods get whatever parses.

Usage: python bench/fuzz.py [--frames 100000] [--protobufs 100000] [--out docs/fuzz.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import httpx  # noqa: E402
import msgspec  # noqa: E402
import websockets  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.verdict import finish  # noqa: E402
from protos.triage.v1 import cases_pb2 as cpb  # noqa: E402
from protos.triage.v1 import escalation_pb2 as pb  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from triage.progress import progress_bar  # noqa: E402

SERVICE_TOKEN, ADMIN_TOKEN = "fuzz-service-token-0123456789", "fuzz-admin-token-0123456789"
AGENT_TOKEN = "fuzz-agent-token-0123456789"
ERROR_CODES = {"too_large", "rate_limited", "bad_request", "bad_encoding", "unauthorized", "unknown_type",
               "overloaded"}
"""Every error code of the websocket contract but ``internal`` (an unhandled exception)."""
CALLER_MISTAKES = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                   grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                   grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.ABORTED,
                   grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED,
                   grpc.StatusCode.OUT_OF_RANGE}


# strategies ---------------------------------------------------------------------------------
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4), max_leaves=8)
_field = st.one_of(st.text(max_size=80), st.integers(), st.none(), st.booleans(), _json)


def _frame_object() -> st.SearchStrategy[dict[str, Any]]:
    kinds = st.sampled_from(["hello", "message", "ping", "pong", "answer", "", "HELLO", "message "]) | st.text(
        max_size=12)
    return st.fixed_dictionaries(
        {"type": kinds},
        optional={"id": _field, "text": st.text(max_size=300) | _field, "storefront": _field, "token": _field,
                  "session": _field, "last_seq": _field, "lang": _field, "extra": _json})


_MESSAGE_ID = st.from_regex(r"\A[!-~]{1,64}\Z")
FRAMES: st.SearchStrategy[str | bytes] = st.one_of(
    # a well-formed message with any text at all: the whole pipeline (langid, encoder, router) runs on it
    st.builds(lambda i, t: json.dumps({"type": "message", "id": i, "text": t}), _MESSAGE_ID, st.text(max_size=400)),
    _frame_object().map(json.dumps),
    _frame_object().map(json.dumps).map(lambda s: s[: max(1, len(s) // 2)]),  # cut short
    st.text(max_size=200),
    st.binary(max_size=300),
    st.text(min_size=4097, max_size=6000),  # past [edge] max_frame_bytes
)

_ESCALATION_REQUESTS = {"Escalate": pb.EscalateRequest, "GetMemory": pb.GetMemoryRequest,
                        "ExportMemory": pb.GetMemoryRequest, "ForgetCustomer": pb.ForgetCustomerRequest,
                        "Resolve": pb.ResolveRequest, "ListResolutions": pb.ListResolutionsRequest,
                        "ListEscalations": pb.ListEscalationsRequest, "AckDelivery": pb.AckDeliveryRequest}
_CASES_REQUESTS = {"WhoAmI": cpb.WhoAmIRequest, "ReplyToCase": cpb.ReplyToCaseRequest,
                   "DecideProposal": cpb.DecideProposalRequest, "CloseCase": cpb.CloseCaseRequest}
STREAMING = {"Escalate", "ListResolutions", "ListEscalations"}


def _filled(message_type: Any, draw: Any) -> Any:
    """A message of ``message_type`` with random values in its scalar and nested fields."""
    message = message_type()
    for field in message.DESCRIPTOR.fields:
        if draw(st.booleans()):
            continue
        if field.message_type is not None:
            if field.label == field.LABEL_REPEATED:
                continue
            getattr(message, field.name).ParseFromString(draw(st.binary(max_size=40)))
        elif field.label == field.LABEL_REPEATED:
            continue
        elif field.type == field.TYPE_STRING:
            setattr(message, field.name, draw(st.text(max_size=60)))
        elif field.type == field.TYPE_BOOL:
            setattr(message, field.name, draw(st.booleans()))
        elif field.type in (field.TYPE_BYTES,):
            setattr(message, field.name, draw(st.binary(max_size=40)))
        elif field.type == field.TYPE_ENUM:
            setattr(message, field.name, draw(st.sampled_from([v.number for v in field.enum_type.values])))
        elif field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
            setattr(message, field.name, draw(st.floats(allow_nan=False, width=32)))
        else:
            setattr(message, field.name, draw(st.integers(0, 2**31 - 1)))
    return message


@st.composite
def _protobuf_call(draw: Any) -> tuple[str, str, bytes]:
    """(service, method, request bytes): a random message, mutated or not, or raw bytes."""
    cases = draw(st.booleans()) and draw(st.booleans())  # a quarter go to Cases
    table = _CASES_REQUESTS if cases else _ESCALATION_REQUESTS
    method = draw(st.sampled_from(sorted(table)))
    how = draw(st.sampled_from(["valid", "truncated", "flipped", "raw"]))
    if how == "raw":
        data = draw(st.binary(max_size=200))
    else:
        try:
            data = _filled(table[method], draw).SerializeToString()
        except Exception:  # a nested field's random bytes that do not parse: send them raw instead
            data = draw(st.binary(max_size=200))
        if how == "truncated" and data:
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif how == "flipped" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    return _keyless(("triage.v1.Cases" if cases else "triage.v1.Escalation"), method, data)


def _keyless(service: str, method: str, data: bytes) -> tuple[str, str, bytes]:
    """Never run the model: an Escalate request that parses loses its key, and is refused before it."""
    if method == "Escalate":
        try:
            request = pb.EscalateRequest.FromString(data)
        except Exception:
            return service, method, data
        request.idempotency_key = ""
        data = request.SerializeToString()
    return service, method, data


def _mutate(data: bytes, other: bytes, rng: random.Random) -> bytes:
    """One to three byte-level mutations: flip, insert, delete a range, duplicate a slice, splice."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(i, len(out) - 1)] ^= rng.randint(1, 255)
        elif op == 1:
            out[i:i] = bytes([rng.randrange(256)])
        elif op == 2:
            del out[i:i + rng.randint(1, 16)]
        elif op == 3:
            out[i:i] = out[i:i + rng.randint(1, 32)]
        else:
            out = out[:i] + bytearray(other[rng.randrange(len(other) + 1):])
    return bytes(out)


def expand_frames(seeds: list[str | bytes], count: int, rng: random.Random) -> list[str | bytes]:
    """The hypothesis seeds, then mutants of them up to ``count`` (text stays text where it decodes)."""
    out = list(seeds[:count])
    while len(out) < count:
        a, b = rng.choice(seeds), rng.choice(seeds)
        data = _mutate(a.encode() if isinstance(a, str) else a, b.encode() if isinstance(b, str) else b, rng)
        out.append(data.decode("utf-8", "replace") if isinstance(a, str) else data)
    return out


def expand_calls(seeds: list[tuple[str, str, bytes]], count: int,
                 rng: random.Random) -> list[tuple[str, str, bytes]]:
    out = list(seeds[:count])
    while len(out) < count:
        service, method, data = rng.choice(seeds)
        out.append(_keyless(service, method, _mutate(data, rng.choice(seeds)[2], rng)))
    return out


def generate(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy`` drawn by hypothesis (generation phase only, no shrinking)."""
    out: list[Any] = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    while len(out) < count:  # hypothesis may stop early on small spaces; top up with more rounds
        collect()
    return out[:count]


# processes ----------------------------------------------------------------------------------
def _wait(url_ok: Any, proc: subprocess.Popen[bytes], what: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited at start; see {log}")
        if url_ok():
            return
        time.sleep(0.2)
    _stop(proc)
    raise SystemExit(f"{what} did not become ready; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


FUZZ_EDGE = {"TRIAGE_EDGE__RATE_PER_S": "100000", "TRIAGE_EDGE__RATE_BURST": "100000",
             "TRIAGE_EDGE__ADDRESS_RATE_PER_S": "100000", "TRIAGE_EDGE__ADDRESS_RATE_BURST": "100000",
             "TRIAGE_EDGE__SESSION_SECRET": "fuzz-session-secret-0123456"}
"""The fuzzer sends as fast as it can from one address: the rate limits would answer most frames."""


def start_edge(bundle: Path, work: Path, settings: dict[str, str] | None = None,
               cloud: str = "") -> tuple[subprocess.Popen[bytes], int, Path]:
    """``triage edge`` on a free loopback port with ``settings`` (``TRIAGE_EDGE__*``), its log to a file."""
    port, log = free_port(), work / "edge.log"
    env = {**os.environ, "TRIAGE_EDGE__STORE": str(work / "edge.db"), **(FUZZ_EDGE if settings is None else settings)}
    with log.open("wb") as out:  # the child holds its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "commands", "edge", "--bundle", str(bundle), "--port",
                                 str(port), *(["--cloud", cloud] if cloud else [])], env=env, stdout=out,
                                stderr=subprocess.STDOUT)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(ready, proc, "the edge", log)
    return proc, port, log


def start_cloud(model_dir: Path, work: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    from commands.fleet import cloud_ready

    port, log = free_port(), work / "cloud.log"
    env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": SERVICE_TOKEN, "TRIAGE_CLOUD__ADMIN_TOKENS": ADMIN_TOKEN,
           "TRIAGE_CLOUD__AGENT_TOKENS": f"demo:fuzz:Fuzz Agent={AGENT_TOKEN}",
           "TRIAGE_CLOUD__MODEL_DIR": str(model_dir), "TRIAGE_CLOUD__MAX_TOKENS": "16"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "commands", "cloud", "--port", str(port), "--memory",
                                 f"sqlite:///{work / 'memory.db'}"], env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait(lambda: cloud_ready(f"127.0.0.1:{port}"), proc, "the cloud core", log)
    return proc, port, log


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback (most recent call last)")


# the edge -----------------------------------------------------------------------------------
class EdgeTally(msgspec.Struct):
    sent: int = 0
    replies: dict[str, int] = {}
    answers: int = 0
    errors: dict[str, int] = {}
    internal: int = 0
    closed: dict[str, int] = {}
    pings_sent: int = 0
    resends: int = 0
    """Message frames re-sending an id this connection sent before: its answer is not sent twice."""
    pings_unanswered: int = 0
    final_questions_answered: int = 0
    connections: int = 0

    @property
    def replied(self) -> int:
        """Replies to the fuzzed frames: errors, answers, welcomes and pongs but ours after each batch."""
        r = self.replies
        return r.get("error", 0) + r.get("answer", 0) + r.get("welcome", 0) + r.get("pong", 0) - self.pings_sent


async def _one_connection(url: str, frames: list[str | bytes], tally: EdgeTally, batch: int) -> None:
    seen: set[str] = set()

    async def connect() -> Any:
        seen.clear()  # a new session: no id of it was answered yet
        ws = await websockets.connect(url, max_size=2**22, open_timeout=10)
        await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
        json.loads(await asyncio.wait_for(ws.recv(), 10))
        tally.connections += 1
        return ws

    def count(frame: dict[str, Any]) -> str:
        kind = str(frame.get("type"))
        tally.replies[kind] = tally.replies.get(kind, 0) + 1
        if kind == "answer":
            tally.answers += 1
        elif kind == "error":
            code = str(frame.get("code"))
            tally.errors[code] = tally.errors.get(code, 0) + 1
            tally.internal += code == "internal" or code not in ERROR_CODES
        return kind

    async def drain_until_pong(ws: Any) -> None:
        while True:
            if count(json.loads(await asyncio.wait_for(ws.recv(), 30))) == "pong":
                return

    async def drain_until_quiet(ws: Any, quiet_s: float = 3.0) -> None:
        """Every reply still on its way (answers come after the pong that ended a batch)."""
        with contextlib.suppress(TimeoutError):
            while True:
                count(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))

    def note(frame: str | bytes) -> None:
        try:
            obj = json.loads(frame) if isinstance(frame, str) else None
        except ValueError:
            return
        if isinstance(obj, dict) and obj.get("type") == "message" and isinstance(obj.get("id"), str):
            tally.resends += obj["id"] in seen
            seen.add(obj["id"])

    ws = await connect()
    try:
        for start in range(0, len(frames), batch):
            for frame in frames[start:start + batch]:
                try:
                    await ws.send(frame)
                    tally.sent += 1
                    note(frame)
                except websockets.ConnectionClosed as closed:
                    reason = str(closed.rcvd.code if closed.rcvd else "none")
                    tally.closed[reason] = tally.closed.get(reason, 0) + 1
                    ws = await connect()
            try:
                await ws.send(json.dumps({"type": "ping"}))
                tally.pings_sent += 1
                await drain_until_pong(ws)
            except (websockets.ConnectionClosed, TimeoutError) as exc:
                reason = str(getattr(getattr(exc, "rcvd", None), "code", "timeout"))
                tally.closed[reason] = tally.closed.get(reason, 0) + 1
                tally.pings_unanswered += reason == "timeout"
                ws = await connect()
        await drain_until_quiet(ws)
        await ws.send(json.dumps({"type": "message", "id": "after-fuzz", "text": "How much is shipping?"}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("type") == "answer" and frame.get("reply_to") == "after-fuzz":
                tally.final_questions_answered += 1
                return
    finally:
        await ws.close()


async def fuzz_edge(port: int, frames: list[str | bytes], connections: int = 8, batch: int = 100) -> EdgeTally:
    tally = EdgeTally()
    url = f"ws://127.0.0.1:{port}/v1/chat"
    shares = [frames[i::connections] for i in range(connections)]
    await asyncio.gather(*(_one_connection(url, share, tally, batch) for share in shares))
    return tally


# the cloud ----------------------------------------------------------------------------------
class CloudTally(msgspec.Struct):
    calls: int = 0
    codes: dict[str, int] = {}
    server_faults: int = 0
    healthy_after: bool = False
    escalation_answered_after: bool = False


def _token_for(service: str, draw: float) -> str:
    if service == "triage.v1.Cases":
        return AGENT_TOKEN if draw < 0.8 else SERVICE_TOKEN
    return ADMIN_TOKEN if draw < 0.5 else SERVICE_TOKEN if draw < 0.9 else "not-a-token"


async def fuzz_cloud(port: int, calls: list[tuple[str, str, bytes]], in_flight: int = 32) -> CloudTally:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    tally = CloudTally()
    rng = random.Random(7)
    gate = asyncio.Semaphore(in_flight)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:

        async def one(service: str, method: str, data: bytes) -> None:
            path = f"/{service}/{method}"
            metadata = (("authorization", f"Bearer {_token_for(service, rng.random())}"),)
            async with gate:
                try:
                    if method in STREAMING:
                        call = channel.unary_stream(path, request_serializer=None, response_deserializer=None)
                        async for _ in call(data, metadata=metadata, timeout=10):
                            pass
                    else:
                        unary = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
                        await unary(data, metadata=metadata, timeout=10)
                    code = grpc.StatusCode.OK
                except grpc.aio.AioRpcError as exc:
                    code = exc.code()
            tally.calls += 1
            tally.codes[code.name] = tally.codes.get(code.name, 0) + 1
            tally.server_faults += code not in CALLER_MISTAKES

        with progress_bar() as progress:
            task = progress.add_task("protobuf calls", total=len(calls))
            for start in range(0, len(calls), 1000):
                await asyncio.gather(*(one(*c) for c in calls[start:start + 1000]))
                progress.advance(task, len(calls[start:start + 1000]))
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        tally.healthy_after = health.status == health_pb2.HealthCheckResponse.SERVING
        escalate = channel.unary_stream("/triage.v1.Escalation/Escalate",
                                        request_serializer=pb.EscalateRequest.SerializeToString,
                                        response_deserializer=pb.EscalateEvent.FromString)
        request = pb.EscalateRequest(idempotency_key="after-fuzz", customer=pb.CustomerRef(tenant="demo"), lang="en",
                                     message="Do you ship to Norway?")
        events = [e async for e in escalate(request, metadata=(("authorization", f"Bearer {SERVICE_TOKEN}"),),
                                            timeout=120)]
        tally.escalation_answered_after = bool(events) and events[-1].HasField("final")
    return tally


# the run ------------------------------------------------------------------------------------
def _default_bundle() -> Path:
    from triage.bundle.build import build_bundle

    out = Path(tempfile.mkdtemp(prefix="fuzz-bundle-"))
    return build_bundle(ROOT / "intents" / "storefront", out / "bundle")


def _timed(process: tuple[subprocess.Popen[bytes], int, Path],
           send: Callable[[int], Coroutine[Any, Any, T]]) -> tuple[T, float, Path]:
    """``send(port)`` against a started process, timed; the process is stopped after."""
    proc, port, log = process
    try:
        started = time.perf_counter()
        outcome = asyncio.run(send(port))
        return outcome, time.perf_counter() - started, log
    finally:
        _stop(proc)


def run(frames: int, protobufs: int, work: Path, bundle: Path | None = None, model_dir: Path | None = None,
        seeds: int = 10_000) -> dict[str, Any]:
    """Both fuzzers; returns the tallies and what was checked (the test calls this with small counts).

    Hypothesis draws ``seeds`` examples of each kind (a few ms each); byte-level mutants of them make
    up the rest of the count, as a mutation fuzzer would.
    """
    rng = random.Random(20261202)
    from cloud_core.llm.build import build_model

    result: dict[str, Any] = {}
    if frames:
        started = time.perf_counter()
        made = expand_frames(generate(FRAMES, min(seeds, frames)), frames, rng)
        generated_s = time.perf_counter() - started
        tally, sent_s, log = _timed(start_edge(bundle or _default_bundle(), work), lambda port: fuzz_edge(port, made))
        kinds = collections.Counter("binary" if isinstance(f, bytes) else "oversized" if len(f) > 4096 else "text"
                                    for f in made)
        result["edge"] = {**msgspec.to_builtins(tally), "replied": tally.replied, "tracebacks": _tracebacks(log),
                          "generate_s": generated_s, "send_s": sent_s, "kinds": dict(kinds)}
    if protobufs:
        started = time.perf_counter()
        calls = expand_calls(generate(_protobuf_call(), min(seeds, protobufs)), protobufs, rng)
        generated_s = time.perf_counter() - started
        cloud, sent_s, log = _timed(start_cloud(model_dir or build_model(), work), lambda port: fuzz_cloud(port, calls))
        result["cloud"] = {**msgspec.to_builtins(cloud), "tracebacks": _tracebacks(log), "generate_s": generated_s,
                           "send_s": sent_s, "methods": dict(collections.Counter(m for _, m, _ in calls))}
    return result


def failures(result: dict[str, Any]) -> list[str]:
    """What broke, in words; empty when every check held."""
    found = []
    edge = result.get("edge")
    if edge is not None:
        if edge["internal"]:
            found.append(f"edge: {edge['internal']} frames got an internal (unhandled) error")
        if edge["tracebacks"]:
            found.append(f"edge: {edge['tracebacks']} tracebacks in its log")
        if edge["replied"] < edge["sent"] - edge["resends"] - sum(edge["closed"].values()):
            found.append(f"edge: {edge['sent'] - edge['replied']} of {edge['sent']} frames got no reply "
                         f"({edge['resends']} re-sent an id already answered)")
        if edge["pings_unanswered"]:
            found.append(f"edge: {edge['pings_unanswered']} pings after a batch went unanswered")
        if edge["final_questions_answered"] != 8:
            found.append(f"edge: {edge['final_questions_answered']} of 8 connections answered a real question after")
    cloud = result.get("cloud")
    if cloud is not None:
        if cloud["server_faults"]:
            found.append(f"cloud: {cloud['server_faults']} calls ended UNKNOWN/INTERNAL/UNAVAILABLE: {cloud['codes']}")
        if cloud["tracebacks"]:
            found.append(f"cloud: {cloud['tracebacks']} tracebacks in its log")
        if not cloud["healthy_after"] or not cloud["escalation_answered_after"]:
            found.append("cloud: not healthy or not answering an escalation after the run")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--protobufs", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=10_000, help="hypothesis examples of each kind; mutants of them "
                                                                    "make up the rest")
    parser.add_argument("--bundle", default=None, help="default: the demo catalog, built here")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        result = run(args.frames, args.protobufs, Path(tmp), Path(args.bundle) if args.bundle else None,
                     seeds=args.seeds)
    table = Table(title="Fuzzing: hypothesis-made input against the real edge and cloud")
    for col in ("target", "inputs", "generated in s", "sent in s", "outcome", "unhandled"):
        table.add_column(col, justify="right")
    if "edge" in result:
        e = result["edge"]
        table.add_row("edge websocket frames", f"{e['sent']:,}", f"{e['generate_s']:.0f}", f"{e['send_s']:.0f}",
                      f"{e['replied']:,} replied; {e['answers']:,} answers; errors {e['errors']}; closes "
                      f"{e['closed']}",
                      f"{e['internal']} internal, {e['tracebacks']} tracebacks")
    if "cloud" in result:
        c = result["cloud"]
        table.add_row("cloud protobuf calls", f"{c['calls']:,}", f"{c['generate_s']:.0f}", f"{c['send_s']:.0f}",
                      f"{c['codes']}", f"{c['server_faults']} server faults, {c['tracebacks']} tracebacks")
    Console(width=200).print(table)
    finish(failures(result), "every check held: no crash, no unhandled exception, usable after", result, args.out)


if __name__ == "__main__":
    main()
