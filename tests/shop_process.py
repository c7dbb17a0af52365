"""A real ``triage shop`` process on a free loopback port, for tests that need the demo shop.

Its output goes to a log file rather than a pipe nobody reads (a full pipe would stall the shop);
``start`` puts the log in the error when the shop does not come up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port, shared_data, stop_process, wait_until_answering
from triage.config import ShopConfig
from triage.connector.signing import sign

__all__ = ["SHOP_SECRET", "ShopProcess"]

SHOP_SECRET = "demo-shop-test-secret"


class ShopProcess:
    """``python -m commands shop`` on a database (SQLite path or PostgreSQL URL), restartable on the same port."""

    def __init__(self, db: str, *, secret: str = SHOP_SECRET, allow_faults: bool = True,
                 port: int | None = None) -> None:
        self.db = db
        self.secret = secret
        self.allow_faults = allow_faults
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="demo-shop-")) / "shop.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, reset: bool = False) -> ShopProcess:
        command = [sys.executable, "-m", "commands", "shop", "--orders", str(shared_data("shop", "orders.json")),
                   "--port", str(self.port), "--db", self.db, "--secret", self.secret]
        command += ["--allow-faults"] * self.allow_faults + ["--reset"] * reset
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        if wait_until_answering(self.proc, self.url + "/healthz", name="the shop", output=self.output, poll_s=0.1):
            return self
        self.stop()
        raise RuntimeError(f"the shop did not answer /healthz within 60 s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)

    def restart(self, reset: bool = False) -> ShopProcess:
        self.stop()
        return self.start(reset=reset)

    def config(self, **overrides: Any) -> ShopConfig:
        """A client configuration for this shop, with test-sized timeouts unless overridden."""
        fields: dict[str, Any] = {"url": self.url, "secret": self.secret, "timeout_s": 2.0, "retries": 2,
                                  "breaker_failures": 100, "breaker_reset_s": 30.0, **overrides}
        return ShopConfig(**fields)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                secret: str | None = None) -> httpx.Response:
        """A raw request, signed with ``secret`` (the shop's by default; ``""`` leaves it unsigned)."""
        secret = self.secret if secret is None else secret
        signed = sign(secret, method, path, body) if secret else {}
        return httpx.request(method, self.url + path, content=body, headers={**signed, **(headers or {})}, timeout=10)

    def order(self, order_id: str) -> dict[str, Any]:
        """``GET /orders/{order_id}``, signed: the order's JSON (or the problem's, where there is none)."""
        return dict(self.request("GET", f"/orders/{order_id}").json())

    def faults(self, mode: str, **plan: Any) -> dict[str, Any]:
        """Make the next ``count`` requests misbehave (``mode="none"`` ends it)."""
        response = self.request("POST", "/_faults", json.dumps({"mode": mode, **plan}).encode())
        response.raise_for_status()
        return dict(response.json())

    def fault_status(self) -> dict[str, Any]:
        response = self.request("GET", "/_faults")
        response.raise_for_status()
        return dict(response.json())
