"""Several hosts on one machine: network namespaces joined to this one by veth pairs.

Host ``i`` gets the address 10.77.<i>.2; this (the test's) namespace is 10.77.<i>.1 on its side of
the pair. Services that listen on loopback only here (PostgreSQL) are reached from the hosts through
a relay bound to 10.77.<i>.1. Needs root and iproute2 (``ip netns``); ``require_netns`` skips with
the reason elsewhere, and fails in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Host", "TcpRelay", "hosts", "require_netns"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def require_netns() -> None:
    reason = ""
    if shutil.which("ip") is None:
        reason = "iproute2 (`ip`) is not installed"
    elif os.geteuid() != 0:
        reason = "network namespaces need root"
    else:
        probe = f"triage-probe-{os.getpid()}"
        try:
            _ip("netns", "add", probe)
            _ip("netns", "del", probe)
        except subprocess.CalledProcessError as exc:
            reason = f"`ip netns add` failed: {exc.stderr.decode().strip()}"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the multi-host tests need network namespaces: {reason}")
        pytest.skip(reason)


class Host:
    def __init__(self, index: int) -> None:
        tag = f"{os.getpid() % 10000}{index}"
        self.name = f"triage-h{tag}"
        self.outer = f"tvo{tag}"
        self.inner = f"tvi{tag}"
        self.address = f"10.77.{index}.2"
        self.gateway = f"10.77.{index}.1"

    def create(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _ip("link", "set", self.inner, "netns", self.name)
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.outer)
        _ip("link", "set", self.outer, "up")
        for args in (("addr", "add", f"{self.address}/24", "dev", self.inner), ("link", "set", self.inner, "up"),
                     ("link", "set", "lo", "up"), ("route", "add", "default", "via", self.gateway)):
            _ip("-n", self.name, *args)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self.outer)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", self.name)

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.name, *argv]


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    require_netns()
    made = [Host(i + 1) for i in range(count)]
    try:
        for host in made:
            host.create()
        yield made
    finally:
        for host in made:
            host.remove()


class TcpRelay:
    """Forward connections to ``listen`` (addresses of the hosts' gateways) to ``target``, in a thread.

    ``delay_s`` (changeable while it runs) holds every chunk that long in each direction: latency
    where the kernel has no netem.
    """

    def __init__(self, listen: list[tuple[str, int]], target: tuple[str, int]) -> None:
        self.listen = listen
        self.target = target
        self.delay_s = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-relay", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> TcpRelay:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TCP relay did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._servers = [self._loop.run_until_complete(asyncio.start_server(self._serve, host, port))
                         for host, port in self.listen]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(ConnectionError, OSError):
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()
