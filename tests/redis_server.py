"""A throwaway redis-server for tests: a free loopback port, a temporary directory, no persistence."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.live import free_port, stop

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def need_redis() -> None:
    """Skip without redis-server, with the reason; under CI=true, fail instead."""
    if not os.path.exists(REDIS_SERVER):
        reason = "redis-server is missing: install Debian's redis-server (.ci/setup) to run the Redis tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Redis:
    """A running redis-server: its URL, and start/stop to restart it on the same port."""

    port: int
    dir: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([REDIS_SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


@contextmanager
def redis_server() -> Iterator[Redis]:
    need_redis()
    with tempfile.TemporaryDirectory(prefix="deltaflow-redis-") as d:
        r = Redis(free_port(), d)
        r.start()
        try:
            yield r
        finally:
            r.stop()
