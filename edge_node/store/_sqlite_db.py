"""One SQLite file shared by the edge processes of a host: its thread, its locks, its checkpoints.

All statements of a process run on one dedicated thread with one connection: each public store
call is one hop off the event loop, and a whole message's bookkeeping is one transaction in one
hop. ``here`` runs a write on the caller's own thread under the connection's lock instead: the
edge's reply stores its answer that way without leaving the event loop.

Processes sharing the file take a kernel file lock (``<db>.lock``) around each write, so a writer
queues behind the one writing and wakes the moment it is done. Left to SQLite's busy handler
instead, a writer that finds the database locked sleeps 1, 2, 5, 10 ... 100 ms between tries: with
two workers committing 300 messages a second, those sleeps stalled every message queued behind
them for 100-260 ms (docs/benchmarks.md). For the same reason the WAL is checkpointed by a
background thread with its own connection, not inside a message's commit.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

__all__ = ["SqliteDb"]

# How often the WAL is copied back into the database, off the message path.
_CHECKPOINT_INTERVAL_S = 1.0


def _retry_locked(operation: Callable[[], T], attempts: int = 60) -> T:
    """Run a write, retrying while another replica holds the database lock.

    SQLite's busy timeout covers most waits, but a write that would have to upgrade a snapshot
    another process changed fails at once with "database is locked". The write is retried (it
    has not happened), with a growing pause.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(min(0.2, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")


class SqliteDb:
    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = str(path)
        self.schema = schema
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-store")
        self._conn_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._stop_checkpoints = threading.Event()
        self._checkpointer: threading.Thread | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.here, fn, *args)

    def here(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the calling thread, under the connection's lock."""
        with self._conn_lock:
            return fn(*args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the edge store is not open; call `await store.open()` first")
        return self._conn

    def open(self) -> None:
        on_disk = self.path != ":memory:"
        if on_disk:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            # Owner only: shoppers' messages are in it. SQLite gives the -wal and -shm files the
            # database file's mode, so the file is made (or narrowed) before SQLite opens it.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            for suffix in ("", "-wal", "-shm"):  # a store made by an older version was 0644
                part = Path(self.path + suffix)
                if part.exists():
                    part.chmod(0o600)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        # Switching a fresh file to WAL fails at once ("database is locked", no busy wait) while
        # another process has it open: workers or replicas starting together on a new store crashed
        # at startup (19 of 300 concurrent opens before this was under the file lock).
        self.write(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=NORMAL")
        if on_disk:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        self.write(lambda: conn.executescript(self.schema))
        self._conn = conn
        if on_disk:
            self._stop_checkpoints.clear()
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="edge-store-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints never block a writer; a reader or writer busy at the moment just
        leaves some frames for the next round."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop_checkpoints.wait(_CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # the next round tries again; the WAL keeps every commit
                    logging.getLogger(__name__).warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write(self, operation: Callable[[], T]) -> T:
        """Every write: the cross-process file lock first, then SQLite's own retry if still busy."""
        if self._lock_fd is None:
            return _retry_locked(operation)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return _retry_locked(operation)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row = self.db.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.execute(sql, params).fetchall()]

    def exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write statement on its own (autocommit); the number of rows it changed."""
        return self.write(lambda: self.db.execute(sql, params).rowcount)

    def transaction(self, work: Callable[[], T]) -> T:
        def attempt() -> T:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self.db.execute("COMMIT")
                return result
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

        return self.write(attempt)

    async def read_one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        return await self.run(self.one, sql, params)

    async def read_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self.run(self.all, sql, params)

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return await self.run(self.exec, sql, params)
