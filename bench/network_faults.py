"""A bad network between edge and cloud: loss, latency, a 60 s partition and a flapping link.

The edge runs in its own network namespace (a host of ``tests/hosts.py``); the cloud core runs in
this one and is reached through a relay on the host's gateway, so only edge <-> cloud traffic is
hurt, never the shoppers' websockets. This kernel has no ``netem`` qdisc (``CONFIG_NET_SCH_NETEM``
is not set on these VMs), so the faults are made with what it has: packet loss and partitions are
nftables rules on the veth (``numgen random`` drops, or drop everything) for the relay's port,
latency is the relay holding every chunk ``delay`` seconds in each direction.

Each phase sends shoppers' disputes (escalated to the cloud's model) while its fault is on, then
heals and waits. What must hold, and is checked: every message gets exactly one final answer (in
the websocket and in the edge's store), the outbox ends empty, the breaker opens during the
partition and closes after it. The figures (time to the final answer per phase, breaker states
seen) go to ``docs/network_faults.json``.

Usage (root, iproute2 and nftables): python bench/network_faults.py [--partition-s 60] [--out docs/network_faults.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402

from bench.verdict import finish  # noqa: E402
from tests.conftest import CLOUD_TOKEN, CloudProcess, EdgeProcess  # noqa: E402
from tests.hosts import Host, TcpRelay, hosts  # noqa: E402

RELAY_PORT = 50999
STATUS_TOKEN = "faults-status-token-0123456789"
DISPUTE = "My parcel never arrived and I want my money back"


def ensure_nft() -> str:
    """The nft command (Debian's nftables), installed when missing and allowed."""
    found = shutil.which("nft")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "nftables"], capture_output=True, check=False, timeout=600)
        found = shutil.which("nft")
    if found is None:
        raise RuntimeError("the network fault test needs nft (Debian package nftables) to drop packets")
    return found


class Faults:
    """nftables rules on one veth for one TCP port: loss, partition, or nothing."""

    def __init__(self, device: str, port: int) -> None:
        self.table = f"triage_faults_{os.getpid()}"
        self.device, self.port = device, port

    def _nft(self, *args: str) -> None:
        subprocess.run(["nft", *args], check=True, capture_output=True, timeout=10)

    def __enter__(self) -> Faults:
        self._nft("add", "table", "inet", self.table)
        for chain, hook in (("in", "input"), ("out", "output")):
            self._nft("add", "chain", "inet", self.table, chain, f"{{ type filter hook {hook} priority 0; }}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._nft("delete", "table", "inet", self.table)

    def set(self, verdict: str) -> None:
        """``verdict``: "" (heal), "drop" (partition) or an nft expression before drop ("numgen ...")."""
        for chain in ("in", "out"):
            self._nft("flush", "chain", "inet", self.table, chain)
        if not verdict:
            return
        self._nft("add", "rule", "inet", self.table, "in", "iifname", self.device, "tcp", "dport", str(self.port),
                  *verdict.split())
        self._nft("add", "rule", "inet", self.table, "out", "oifname", self.device, "tcp", "sport", str(self.port),
                  *verdict.split())


class PhaseResult(msgspec.Struct):
    name: str
    shoppers: int
    messages: int
    final_answers: dict[str, int] = {}
    seconds_to_final: list[float] = []
    circuit_states: list[str] = []


async def _shopper(url: str, ids: list[str], result: PhaseResult, deadline: float) -> None:
    async with websockets.connect(url, open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "hello", "storefront": "demo"}))
        await asyncio.wait_for(ws.recv(), 30)
        sent: dict[str, float] = {}
        for msg_id in ids:
            sent[msg_id] = time.monotonic()
            await ws.send(json.dumps({"type": "message", "id": msg_id, "text": DISPUTE}))
        until = deadline
        while time.monotonic() < until:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, until - time.monotonic())))
            except TimeoutError:
                break
            msg_id = frame.get("reply_to")
            if frame.get("type") == "answer" and frame.get("source") != "queued" and msg_id in sent:
                result.final_answers[msg_id] = result.final_answers.get(msg_id, 0) + 1
                if result.final_answers[msg_id] == 1:
                    result.seconds_to_final.append(time.monotonic() - sent[msg_id])
                if all(result.final_answers.get(i) for i in ids):  # a second final answer would come after
                    until = min(until, time.monotonic() + 2.0)      # the first: listen a little longer


async def _watch_circuit(edge: EdgeProcess, result: PhaseResult, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            try:
                ready = await client.get(f"{edge.url}/readyz", headers={"authorization": f"Bearer {STATUS_TOKEN}"})
                state = ready.json()["circuit"]
                if not result.circuit_states or result.circuit_states[-1] != state:
                    result.circuit_states.append(state)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


async def phase(name: str, edge: EdgeProcess, fault_on: Any, fault_off: Any, hold_s: float, shoppers: int = 2,
                per_shopper: int = 2, settle_s: float = 90.0) -> PhaseResult:
    """Fault on, shoppers send, the fault holds ``hold_s``, heal, every answer awaited."""
    result = PhaseResult(name, shoppers, shoppers * per_shopper)
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(_watch_circuit(edge, result, stop))
    await fault_on()
    deadline = time.monotonic() + hold_s + settle_s
    chats = asyncio.ensure_future(asyncio.gather(*(
        _shopper(edge.ws_url, [f"{name}-{s}-{i}" for i in range(per_shopper)], result, deadline)
        for s in range(shoppers))))
    await asyncio.sleep(hold_s)
    await fault_off()
    await chats
    await asyncio.sleep(1.0)
    stop.set()
    await watcher
    return result


def _store_finals(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as db:
        return {str(r): int(n) for r, n in db.execute("SELECT reply_to, COUNT(*) FROM frames WHERE final "
                                                      "GROUP BY reply_to")}


def _outbox_pending(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0])


async def scenario(edge: EdgeProcess, relay: TcpRelay, faults: Faults, partition_s: float) -> list[PhaseResult]:
    async def heal() -> None:
        faults.set("")
        relay.delay_s = 0.0

    async def loss() -> None:
        faults.set("numgen random mod 100 < 30 drop")

    async def latency() -> None:
        relay.delay_s = 0.5

    async def partition() -> None:
        faults.set("drop")

    flapping: list[asyncio.Task[None]] = []

    async def flap() -> None:
        async def toggle() -> None:
            down = False
            while True:
                down = not down
                faults.set("drop" if down else "")
                await asyncio.sleep(2.0)

        flapping.append(asyncio.ensure_future(toggle()))

    async def stop_flapping() -> None:
        for task in flapping:
            task.cancel()
        await asyncio.gather(*flapping, return_exceptions=True)
        await heal()

    return [
        await phase("loss-30pct", edge, loss, heal, hold_s=20),
        await phase("latency-500ms", edge, latency, heal, hold_s=10),
        await phase(f"partition-{partition_s:.0f}s", edge, partition, heal, hold_s=partition_s),
        await phase("flapping-2s", edge, flap, stop_flapping, hold_s=20),
    ]


def run(llm_folder: Path, bundle: Path, work: Path, partition_s: float = 60.0) -> dict[str, Any]:
    ensure_nft()
    with hosts(1) as [host]:
        host_: Host = host
        cloud = CloudProcess(llm_folder, work / "memory.db", max_tokens=16).start()
        store = work / "edge.db"
        try:
            with TcpRelay([(host_.gateway, RELAY_PORT)], ("127.0.0.1", cloud.port)) as relay, \
                    Faults(host_.outer, RELAY_PORT) as faults:
                edge = EdgeProcess(bundle, {
                    "TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__CLOUD_ALLOW_PLAINTEXT": "true",
                    "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "8", "TRIAGE_EDGE__QUEUED_AFTER_S": "2",
                    "TRIAGE_EDGE__BREAKER_FAILURES": "3", "TRIAGE_EDGE__BREAKER_RESET_S": "3",
                    "TRIAGE_EDGE__OUTBOX_MAX_BACKOFF_S": "3", "TRIAGE_EDGE__STATUS_TOKEN": STATUS_TOKEN},
                    store=store, cloud=f"{host_.gateway}:{RELAY_PORT}", host=host_.address, port=8080,
                    prefix=host_.command([]))
                try:
                    phases = asyncio.run(scenario(edge, relay, faults, partition_s))
                    deadline = time.monotonic() + 30
                    while _outbox_pending(store) and time.monotonic() < deadline:
                        time.sleep(0.5)
                    finals, pending = _store_finals(store), _outbox_pending(store)
                finally:
                    edge.stop()
        finally:
            cloud.stop()
    return {"phases": [msgspec.to_builtins(p) for p in phases], "store_finals": finals, "outbox_pending": pending}


def failures(result: dict[str, Any]) -> list[str]:
    found = []
    for p in result["phases"]:
        ids = [f"{p['name']}-{s}-{i}" for s in range(p["shoppers"]) for i in range(p["messages"] // p["shoppers"])]
        counts = [p["final_answers"].get(i, 0) for i in ids]
        if counts != [1] * p["messages"]:
            found.append(f"{p['name']}: final answers per message {counts} (want one each)")
        stored = [result["store_finals"].get(i, 0) for i in ids]
        if stored != [1] * p["messages"]:
            found.append(f"{p['name']}: final answers stored per message {stored}")
    partition = next(p for p in result["phases"] if p["name"].startswith("partition"))
    if "open" not in partition["circuit_states"] or partition["circuit_states"][-1] != "closed":
        found.append(f"partition: the breaker went {partition['circuit_states']} (want open, then closed)")
    if result["outbox_pending"]:
        found.append(f"{result['outbox_pending']} escalations still pending in the outbox")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition-s", type=float, default=60.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from bench.fuzz import _default_bundle
    from cloud_core.llm.build import build_model

    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        result = run(build_model(), _default_bundle(), Path(tmp), args.partition_s)
    for p in result["phases"]:
        waits = p["seconds_to_final"] or [float("nan")]
        print(f"{p['name']:>16}: {sum(p['final_answers'].values())} final answers for {p['messages']} messages, "
              f"seconds to the final answer p50 {np.median(waits):.1f} max {max(waits):.1f}, breaker "
              f"{' -> '.join(p['circuit_states'])}")
    print(f"outbox pending after: {result['outbox_pending']}")
    finish(failures(result), "every message got exactly one final answer through every fault", result, args.out)


if __name__ == "__main__":
    main()
