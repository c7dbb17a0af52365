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

from triage.cpu import visible_flags
from triage.toolenv import ToolEnv

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LLAMA_CPP_ENV", "llama_cpp_server"]

# The CPU extensions llama.cpp may use, by the /proc/cpuinfo flag that says the CPU has them.
_GGML_EXTENSIONS = {
    "AVX": "avx", "AVX2": "avx2", "FMA": "fma", "F16C": "f16c", "BMI2": "bmi2", "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
}


def _cmake_args() -> str:
    """Turn on exactly the extensions this CPU has.

    GGML_NATIVE would compile in AMX tile instructions, which some VMs' kernels do not let a process
    use (general protection fault at ldtilecfg); a fixed list crashes elsewhere (AVX-VNNI on AMD
    EPYC Zen 4, which has only the AVX-512 form: illegal instruction on the first request). The
    flags are part of the environment's hash, so another CPU gets its own build, and they are the
    ones this process is shown: under ``tools/cpuid_mask avx2`` the peer is an AVX2 build too.
    """
    flags = visible_flags()
    on = [f"-DGGML_{name}={'ON' if flag in flags else 'OFF'}" for name, flag in _GGML_EXTENSIONS.items()]
    return " ".join(["-DGGML_NATIVE=OFF", *on, "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"])


LLAMA_CPP_ENV = ToolEnv("llama-cpp", ["llama-cpp-python[server]==0.3.36"], build_env={"CMAKE_ARGS": _cmake_args()})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_cpp_server(gguf: Path, threads: int = 2, n_ctx: int = 4096, chat_format: str = "") -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server on a free loopback port; yields its /v1 base URL.

    ``chat_format="chatml-function-calling"`` serves the OpenAI tools API: a named ``tool_choice`` is
    decoded under a grammar of that function's JSON schema, so every call is valid JSON of its shape."""
    python = LLAMA_CPP_ENV.ensure()
    port = _free_port()
    # llama.cpp logs megabytes while loading: to a file, so a full pipe can never stall the server.
    log = tempfile.NamedTemporaryFile(prefix="llama-cpp-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
                             *(["--chat_format", chat_format] if chat_format else [])],
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
