"""The demo shop's 22 dialogues against a whole local stack: demo shop, cloud core and edge.

Starts ``triage shop`` (fresh database), ``triage cloud`` and ``triage edge`` on loopback ports,
wired as ``make demo`` wires them, then runs ``triage dialogues --json`` on
``../shared/data/eval/dialogues_dev.jsonl`` and prints the per-row and per-language tables with the
CPU line. Dispute rows are decided by the cloud's procedures (``--no-procedures``: by the model); the table says
which pass today.

Usage: python bench/dialogues_stack.py [--out docs/dialogues_dev.json] [--no-cloud]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import msgspec  # noqa: E402

from triage.cpu import cpu_info, describe  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SESSION_SECRET = "bench-session-secret-0123456789"
SHOP_SECRET = "bench-shop-secret-0123456789"
CLOUD_TOKEN = "bench-cloud-token-0123456789"


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not start within {timeout_s:.0f} s")


def _cloud(port: int, memory: Path, shop_env: dict[str, str], procedures: bool) -> subprocess.Popen[bytes]:
    from cloud_core.llm.build import build_model
    from commands.fleet import cloud_ready

    env = {**os.environ, **shop_env, "TRIAGE_CLOUD__AUTH_TOKENS": CLOUD_TOKEN,
           "TRIAGE_CLOUD__MODEL_DIR": str(build_model())}
    catalog = ["--catalog", str(ROOT / "intents" / "storefront")] if procedures else []
    proc = subprocess.Popen([sys.executable, "-m", "commands", "cloud", "--port", str(port), "--memory",
                             f"sqlite:///{memory}", *catalog], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(400):
        if cloud_ready(f"127.0.0.1:{port}"):
            return proc
        time.sleep(0.3)
    raise SystemExit("the cloud core did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    parser.add_argument("--no-cloud", action="store_true")
    parser.add_argument("--no-procedures", action="store_true", help="the cloud answers disputes with the model")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dialogues-stack-"))
    shop_port, edge_port, cloud_port = 18190, 18180, 18151
    procs = [subprocess.Popen([sys.executable, "-m", "commands", "shop", "--orders", str(DATA / "shop" / "orders.json"),
                               "--port", str(shop_port), "--db", str(work / "shop.db"), "--secret", SHOP_SECRET],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait(f"http://127.0.0.1:{shop_port}/healthz", procs[0], "the demo shop")
        shop_env = {"TRIAGE_SHOP__URL": f"http://127.0.0.1:{shop_port}", "TRIAGE_SHOP__SECRET": SHOP_SECRET}
        env = {**os.environ, **shop_env, "TRIAGE_EDGE__STORE": str(work / "edge.db"),
               "TRIAGE_EDGE__SESSION_SECRET": SESSION_SECRET, "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN,
               "TRIAGE_EDGE__QUEUED_AFTER_S": "60"}
        cloud = ""
        if not args.no_cloud:
            procs.append(_cloud(cloud_port, work / "memory.db", shop_env, not args.no_procedures))
            cloud = f"127.0.0.1:{cloud_port}"
        bundle = ROOT / "var" / "bundle"
        procs.append(subprocess.Popen([sys.executable, "-m", "commands", "edge", "--bundle", str(bundle), "--port",
                                       str(edge_port), "--cloud", cloud], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(f"http://127.0.0.1:{edge_port}/readyz", procs[-1], "the edge")
        base = [sys.executable, "-m", "commands", "dialogues", "--url", f"ws://127.0.0.1:{edge_port}/v1/chat",
                "--shop", f"http://127.0.0.1:{shop_port}", "--shop-secret", SHOP_SECRET, "--data",
                str(DATA / "eval" / "dialogues_dev.jsonl"), "--session-secret", SESSION_SECRET, "--timeout",
                str(args.timeout)]
        report = json.loads(subprocess.run([*base, "--json"], capture_output=True, text=True, check=False).stdout)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(15)
    from commands.clients.dialogues import DialogueReport
    from commands.dialogues import print_dialogue_report

    print_dialogue_report(msgspec.convert(report, DialogueReport))
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), **report}, indent=2,
                                             ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
