"""Fixtures for the operations tests: the shared Redis (database 12) and a Redis of our own."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError

from tests.conftest import redis_test_url

REDIS_URL = redis_test_url("TEST_OPERATIONS_REDIS_URL", 12)


@pytest.fixture
def redis_url(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app talks to Redis database 12, emptied before and after."""
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    yield REDIS_URL
    connection.flushdb()
    connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process of the test's own, which it can stop and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except RedisError:
                    time.sleep(0.02)
            raise RuntimeError(f"redis-server on port {self.port} did not answer PING in 10 s")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    try:
        yield server
    finally:
        server.stop()
