"""Peer runtimes we compare against and test with: llama.cpp (llama-cpp-python) on the same GGUF.

llama-cpp-python compiles llama.cpp on install (about 12 minutes on 2 cores), so it lives in its
own tool environment, built once and cached outside the checkout.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from triage.toolenv import ToolEnv

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LLAMA_CPP_ENV", "llama_cpp_server"]

# GGML_NATIVE would compile in AMX tile instructions, which this VM's kernel does not let a process use
# (general protection fault at ldtilecfg); every other extension of the CPU stays on.
LLAMA_CPP_ENV = ToolEnv("llama-cpp", ["llama-cpp-python[server]==0.3.36"], build_env={
    "CMAKE_ARGS": "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
                  "-DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON "
                  "-DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF",
})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_cpp_server(gguf: Path, threads: int = 2, n_ctx: int = 4096) -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server on a free loopback port; yields its /v1 base URL."""
    python = LLAMA_CPP_ENV.ensure()
    port = _free_port()
    # llama.cpp logs megabytes while loading: to a file, so a full pipe can never stall the server.
    log = tempfile.NamedTemporaryFile(prefix="llama-cpp-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads)],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                tail = Path(log.name).read_text(errors="replace")[-1500:]
                raise RuntimeError(f"llama.cpp server exited (log {log.name}):\n{tail}")
            try:
                if httpx.get(f"{base}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama.cpp server did not answer /v1/models within 120 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)
