"""Isolated virtual environments for build-time tools (model export, peer runtimes).

Exporting the LLM needs torch, transformers and optimum, whose pins clash with the serving
stack (optimum-onnx caps transformers; the peer llama.cpp server compiles for minutes). They
live in their own environments, keyed by the hash of their requirements and kept in the
artifact cache, so the serving process never imports torch and a second build is instant.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from typing import TYPE_CHECKING

from rich.console import Console

from triage.artifacts import ArtifactCache

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ToolEnv", "ToolEnvError"]

_READY = ".ready"


class ToolEnvError(RuntimeError):
    """A tool environment could not be created; the message says which package failed."""


class ToolEnv:
    """A virtualenv holding exactly ``requirements``, created on first use."""

    def __init__(self, name: str, requirements: list[str], cache: ArtifactCache | None = None,
                 build_env: dict[str, str] | None = None) -> None:
        self.name = name
        self.requirements = list(requirements)
        self.build_env = dict(build_env or {})
        """Environment for pip (e.g. ``CMAKE_ARGS``); part of the hash, and pip's wheel cache is bypassed."""
        settings = [f"{k}={v}" for k, v in sorted(self.build_env.items())]
        digest = hashlib.sha256("\n".join([sys.version, *self.requirements, *settings]).encode()).hexdigest()
        self.root = (cache or ArtifactCache()).root / "envs" / f"{name}-{digest[:16]}"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def ready(self) -> bool:
        return (self.root / _READY).is_file()

    def ensure(self) -> Path:
        """Create the environment if needed and return its interpreter."""
        if self.ready():
            return self.python
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        console = Console(stderr=True)
        with console.status(f"installing {self.name} tools ({', '.join(self.requirements)}); "
                            "first time only, this takes minutes"):
            venv.EnvBuilder(with_pip=True).create(self.root)
            cmd = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   *(["--no-cache-dir"] if self.build_env else []), *self.requirements]
            result = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                    env={**os.environ, "PIP_NO_INPUT": "1", **self.build_env})
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise ToolEnvError(f"pip could not install the {self.name} tools into {self.root}:\n{tail}\n"
                               "Check that the package registry is reachable, then run the command again.")
        (self.root / _READY).write_text("\n".join(self.requirements) + "\n")
        return self.python

    def run(self, args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        python = self.ensure()
        return subprocess.run([str(python), *args], text=True, check=False, env={**os.environ, **(env or {})})
