"""The edge store shared by worker processes: every write lands, frames stay numbered, nothing leaks."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
from typing import TYPE_CHECKING

from edge_node.store import SqliteEdgeStore

if TYPE_CHECKING:
    from pathlib import Path


async def _write(path: str, session: str, worker: int, count: int) -> None:
    store = SqliteEdgeStore(path)
    await store.open()
    try:
        for n in range(count):
            await store.frames.append(session, f"w{worker}-{n}", True, lambda seq: str(seq).encode())
    finally:
        await store.close()


def _worker(path: str, session: str, worker: int, count: int) -> None:
    asyncio.run(_write(path, session, worker, count))


async def test_worker_processes_sharing_the_file_number_every_frame_once(tmp_path: Path) -> None:
    path = str(tmp_path / "edge.db")
    store = SqliteEdgeStore(path)
    await store.open()
    session = (await store.open_session("demo", None)).session
    await store.close()

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(path, session, w, 150)) for w in range(3)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0

    with sqlite3.connect(path) as db:
        seqs = [row[0] for row in db.execute("SELECT seq FROM frames WHERE session = ? ORDER BY seq", (session,))]
        assert db.execute("SELECT seq FROM sessions WHERE id = ?", (session,)).fetchone()[0] == 450
    assert seqs == list(range(1, 451))


def _checkpointers() -> int:
    return sum(t.name == "edge-store-checkpoint" for t in threading.enumerate())


async def test_closing_the_store_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    before = _checkpointers()
    store = SqliteEdgeStore(tmp_path / "edge.db")
    await store.open()
    assert _checkpointers() == before + 1
    await store.close()
    assert _checkpointers() == before


def _open_together(path: str, barrier: threading.Barrier, failures: multiprocessing.Queue) -> None:
    async def run() -> None:
        store = SqliteEdgeStore(path)
        await store.open()
        await store.close()

    barrier.wait()
    try:
        asyncio.run(run())
    except sqlite3.Error as exc:
        failures.put(str(exc))


def test_workers_starting_together_on_a_new_store_all_open_it(tmp_path: Path) -> None:
    # Switching a fresh file to WAL failed at once while another process had it open: before it
    # took the file lock, 19 of 300 such opens crashed the worker at startup.
    ctx = multiprocessing.get_context("fork")
    failures = ctx.Queue()
    for round_ in range(30):
        path = str(tmp_path / f"edge-{round_}.db")
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=_open_together, args=(path, barrier, failures)) for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
            assert proc.exitcode == 0
    assert failures.empty(), failures.get()


async def test_a_delivery_becomes_one_frame_of_its_session_however_often_it_is_delivered(tmp_path: Path) -> None:
    store = SqliteEdgeStore(tmp_path / "edge.db")
    await store.open()
    try:
        session = (await store.open_session("demo", None)).session
        other = SqliteEdgeStore(tmp_path / "edge.db")  # a second process of the node, sharing the file
        await other.open()
        first = await store.deliver("d-1", session, "m1", lambda seq: f"reply {seq}".encode())
        again = await other.deliver("d-1", session, "m1", lambda seq: f"reply {seq}".encode())
        await other.close()
        assert first.known and first.frame is not None and first.frame.data == b"reply 1"
        assert again.known and again.frame is None, "a re-sent delivery stores nothing new"
        assert [f.data for f in await store.frames.after(session, 0)] == [b"reply 1"]
        assert [s for s, _ in await store.delivered_since(0)] == [session]
        unknown = await store.deliver("d-2", "no-such-session", "m1", lambda seq: b"x")
        assert not unknown.known and unknown.frame is None
    finally:
        await store.close()


async def test_the_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    import stat

    old = tmp_path / "old.db"
    old.touch(mode=0o644)  # made by a version that left the umask's mode
    for path in (tmp_path / "edge.db", old):
        store = SqliteEdgeStore(path)
        await store.open()
        try:
            await store.open_session("demo", None, "c-1")
            for suffix in ("", "-wal", "-shm"):
                mode = stat.S_IMODE((tmp_path / (path.name + suffix)).stat().st_mode)
                assert mode == 0o600, f"{path.name}{suffix} has mode {oct(mode)}"
        finally:
            await store.close()
