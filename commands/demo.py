"""``triage demo``: the whole product on one machine: the demo shop, the cloud core, the agent console and the edge.

The demo shop (``triage shop``) runs on its own database with the shop data of ``../shared/data``;
the edge's actions and the cloud's procedures call it like a real shop's API. Sessions are signed
with ``[edge] session_secret`` when one is configured (so ``triage token`` mints tokens this edge
accepts), else with a secret kept in ``var/demo-session-secret``; the demo prints sign-in links for
the demo customers.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from commands._console import err
from commands.serve import serve_edge

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from commands._console import Subcommands

__all__ = ["register"]

_DEMO_CUSTOMERS = (("c-1001", "Anna Schmidt, de"), ("c-1002", "Liam Walker, en"), ("c-1003", "Camille Roux, fr"),
                   ("c-1006", "Sanne de Vries, nl"), ("c-1007", "Piotr Nowak, pl"))


def register(sub: Subcommands) -> None:
    """Add demo to the ``triage`` parser."""
    p = sub.add_parser("demo", help="build what is missing and serve the demo storefront")
    p.add_argument("--catalog", default="intents/storefront")
    p.add_argument("--bundle", default="var/bundle")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--cloud-port", type=int, default=50051)
    p.add_argument("--shop-port", type=int, default=8090)
    p.add_argument("--agent-port", type=int, default=8081, help="the agent console (people answer hand-offs there)")
    p.add_argument("--orders", default="../shared/data/shop/orders.json", help="the demo shop's data")
    p.add_argument("--no-cloud", action="store_true", help="edge only: escalations stay queued in the outbox")
    p.set_defaults(run=_cmd_demo)


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with err.status(f"starting {what}"):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; see its output above")
            if ready():
                return
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"{what} did not start within {timeout_s:.0f} s")


def _start_cloud(port: int, token: str, agent_token: str, catalog: Path) -> subprocess.Popen[bytes]:
    """The cloud core as a child process on loopback, waited on until its health check says SERVING."""
    from cloud_core.llm.build import build_model
    from commands.fleet import cloud_ready

    model = build_model()  # first run: minutes (model export), then cached
    env = {**os.environ, "TRIAGE_CLOUD__AUTH_TOKENS": token, "TRIAGE_CLOUD__MODEL_DIR": str(model),
           "TRIAGE_CLOUD__AGENT_TOKENS": f"demo:maria:Maria={agent_token}"}
    proc = subprocess.Popen([sys.executable, "-m", "commands", "cloud", "--host", "127.0.0.1", "--port", str(port),
                             "--memory", "sqlite:///var/memory.db", "--catalog", str(catalog)], env=env)
    _wait(proc, lambda: cloud_ready(f"127.0.0.1:{port}"), "the cloud core", 120)
    return proc


def _start_console(port: int, cloud: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "commands", "agent", "--port", str(port), "--cloud", cloud])
    _wait(proc, lambda: _answers(f"http://127.0.0.1:{port}/"), "the agent console", 30)
    return proc


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _healthy(url: str) -> bool:
    return _answers(url + "/healthz")


def _start_shop(orders: Path, port: int, secret: str) -> subprocess.Popen[bytes]:
    if not orders.is_file():
        raise FileNotFoundError(f"{orders}: the demo shop's data is missing (fix: pass --orders "
                                "path/to/shared/data/shop/orders.json)")
    proc = subprocess.Popen([sys.executable, "-m", "commands", "shop", "--orders", str(orders), "--port", str(port),
                             "--db", "var/shop.db", "--secret", secret])
    _wait(proc, lambda: _healthy(f"http://127.0.0.1:{port}"), "the demo shop", 30)
    return proc


def _session_secret() -> str:
    from triage.config import load_config

    configured = load_config().edge.session_secret
    if configured:
        return configured
    kept = Path("var/demo-session-secret")
    if not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(secrets.token_urlsafe(24))
        kept.chmod(0o600)
    return kept.read_text().strip()


def _cmd_demo(args: argparse.Namespace) -> int:
    from triage.bundle.build import build_bundle
    from triage.session_token import mint_token

    bundle = Path(args.bundle)
    build_bundle(Path(args.catalog), bundle)
    session_secret, shop_secret = _session_secret(), secrets.token_urlsafe(24)
    children = [_start_shop(Path(args.orders), args.shop_port, shop_secret)]
    os.environ.update({"TRIAGE_EDGE__SESSION_SECRET": session_secret, "TRIAGE_SHOP__SECRET": shop_secret,
                       "TRIAGE_SHOP__URL": f"http://127.0.0.1:{args.shop_port}"})
    cloud = None
    agent_token = secrets.token_urlsafe(24)
    if not args.no_cloud:
        token = secrets.token_urlsafe(24)
        children.append(_start_cloud(args.cloud_port, token, agent_token, Path(args.catalog)))
        os.environ["TRIAGE_EDGE__CLOUD_TOKEN"] = token
        cloud = f"127.0.0.1:{args.cloud_port}"
        children.append(_start_console(args.agent_port, cloud))
    page = f"http://{args.host}:{args.port}/"
    err.print(f"[bold green]demo[/bold green]: open {page} and chat with the widget (anonymous); the demo shop "
              f"is on http://127.0.0.1:{args.shop_port}; Ctrl-C stops everything. Signed in as a demo customer:")
    for customer, who in _DEMO_CUSTOMERS:
        err.print(f"  {who}: {page}?open&token={mint_token(session_secret, 'demo', customer, 86400)}",
                  soft_wrap=True)  # a link must stay one line to be copied
    err.print(f"`triage token` mints more with TRIAGE_EDGE__SESSION_SECRET={session_secret}")
    if cloud:
        err.print(f"agent console: http://127.0.0.1:{args.agent_port}/ (sign in as Maria with the token "
                  f"{agent_token}); hand-offs and refund proposals appear there, replies reach the widget")
    try:
        serve_edge(bundle, args.host, args.port, cloud)
    finally:
        for child in children:
            child.terminate()
            child.wait(15)
    return 0
