"""A real local fleet: `deploy up`, a rolling update under shopper load, a failed gate rolled back, `down`.

The promise under test: while replicas swap bundles, every message sent is answered, and open
websocket sessions stay open.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys

import pytest
import websockets

from commands.fleet import signing_key
from tests.conftest import DEMO_CATALOG, free_port
from triage.bundle.manifest import read_manifest
from triage.deploy.bundles import build_region_bundle, bundle_size
from triage.deploy.regions import load_regions

pytestmark = pytest.mark.slow

TEXTS = ["Do you ship to the UK?", "Was kostet der Versand?", "Vendez-vous des cartes cadeaux ?",
         "How do I reset my password?", "Gibt es eine Studentenrabatt?", "Quels sont vos moyens de paiement ?"]


def _deploy(regions_file, *args):
    return subprocess.run([sys.executable, "-m", "commands", "deploy", *args, "--file", str(regions_file)],
                          capture_output=True, text=True, check=False, timeout=300)


class Load:
    """Shoppers on every replica, each sending a message and waiting for its answer, 4 per second."""

    def __init__(self, addresses: list[str], shoppers: int = 6) -> None:
        self.addresses = addresses
        self.shoppers = shoppers
        self.sent = self.answered = self.errors = 0
        self.stop = asyncio.Event()

    async def shopper(self, n: int) -> None:
        address = self.addresses[n % len(self.addresses)]
        async with websockets.connect(f"ws://{address}/v1/chat") as ws:
            await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
            json.loads(await ws.recv())
            i = 0
            while not self.stop.is_set():
                msg_id = f"s{n}-{i}"
                await ws.send(json.dumps({"type": "message", "id": msg_id, "text": TEXTS[(i + n) % len(TEXTS)]}))
                self.sent += 1
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if frame.get("reply_to") == msg_id and frame["type"] in ("answer", "error"):
                        if frame["type"] == "answer":
                            self.answered += 1
                        else:
                            self.errors += 1
                        break
                i += 1
                await asyncio.sleep(0.25)

    async def run_while(self, work) -> object:
        tasks = [asyncio.create_task(self.shopper(n)) for n in range(self.shoppers)]
        await asyncio.sleep(1.0)
        result = await asyncio.to_thread(work)
        await asyncio.sleep(1.0)
        self.stop.set()
        await asyncio.gather(*tasks)
        return result


@pytest.fixture
def regions_file(tmp_path, llm_folder):
    ports = sorted(free_port() for _ in range(4))
    path = tmp_path / "regions.toml"
    path.write_text(f"""
[fleet]
catalog = "{DEMO_CATALOG}"
bundle_dir = "{tmp_path / 'bundles'}"
state_dir = "{tmp_path / 'state'}"
[cloud]
port = {ports[0]}
[regions.eu-west]
languages = ["en", "de", "fr"]
replicas = 2
base_port = {ports[1]}
cloud = ["127.0.0.1:{ports[0]}"]
""")
    # replicas use base_port and base_port + 1: make sure the second is free as well
    if free_port() == ports[1] + 1:
        pytest.skip("port race, rerun")
    yield path
    _deploy(path, "down")


def test_rolling_update_under_load_answers_every_message_and_a_bad_bundle_is_rolled_back(
        regions_file, tmp_path, llm_folder):
    up = _deploy(regions_file, "up", "--model-dir", str(llm_folder), "--json")
    assert up.returncode == 0, up.stderr
    replicas = [r for r in json.loads(up.stdout) if r["kind"] == "edge"]
    assert len(replicas) == 2 and all(r["ready"] for r in replicas)
    old_key = replicas[0]["build_key"]

    fleet = load_regions(regions_file)
    key, _ = signing_key(fleet, "")
    smaller = fleet.region("eu-west")
    smaller.languages = ["en", "de"]
    new_bundle = build_region_bundle(fleet, "eu-west", key, out_root=tmp_path / "next")
    addresses = [r["address"] for r in replicas]

    load = Load(addresses)
    rollout = asyncio.run(load.run_while(lambda: _deploy(regions_file, "rollout", "--region", "eu-west",
                                                         "--bundle", str(new_bundle))))
    assert rollout.returncode == 0, rollout.stderr
    print(f"rollout under load: sent {load.sent}, answered {load.answered}, errors {load.errors}")
    assert load.sent > 20 and load.answered == load.sent and load.errors == 0
    status = json.loads(_deploy(regions_file, "status", "--json").stdout)
    new_key = read_manifest(new_bundle).build_key
    assert new_key != old_key
    assert [r["build_key"] for r in status if r["kind"] == "edge"] == [new_key, new_key]

    bad = tmp_path / "bad"
    shutil.copytree(new_bundle, bad)
    (bad / "signature.json").unlink()  # unsigned: the edges trust only the fleet's key
    load = Load(addresses)
    failed = asyncio.run(load.run_while(lambda: _deploy(regions_file, "rollout", "--region", "eu-west",
                                                        "--bundle", str(bad))))
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["failed"] == "eu-west-0" and result["rolled_back"] and "not signed" in result["reason"]
    assert result["updated"] == []
    assert load.answered == load.sent and load.errors == 0
    status = json.loads(_deploy(regions_file, "status", "--json").stdout)
    assert all(r["ready"] for r in status)
    assert all(r["bundle"] == str(new_bundle.resolve()) for r in status if r["kind"] == "edge")

    for log in (tmp_path / "state" / "logs").glob("eu-west-*.log"):
        text = log.read_text()
        assert "Traceback" not in text, f"{log.name} logged an unhandled error:\n{text[-6000:]}"
    down = _deploy(regions_file, "down")
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / "state" / "state.json").exists()
    print(f"bundle sizes: eu-west (en, de) {bundle_size(new_bundle) / 1e6:.1f} MB")


def test_a_killed_replica_is_restarted_by_the_supervisor(regions_file, llm_folder):
    import os
    import signal
    import time

    up = _deploy(regions_file, "up", "--model-dir", str(llm_folder), "--json")
    assert up.returncode == 0, up.stderr
    victim = next(r for r in json.loads(up.stdout) if r["name"] == "eu-west-1")
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = {r["name"]: r for r in json.loads(_deploy(regions_file, "status", "--json").stdout or "[]")}
        if status.get("eu-west-1", {}).get("ready") and status["eu-west-1"]["pid"] != victim["pid"]:
            assert status["eu-west-1"]["restarts"] == 1
            return
        time.sleep(0.5)
    raise AssertionError("the killed replica was not restarted within 60 s")

