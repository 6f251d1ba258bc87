"""`./musrec run` starts the embedded PostgreSQL or Redis again when it dies or stops answering, in the same place:
same data folder, same socket, same password, so every client reconnects on its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from musrec_site import launcher, services

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {timeout:.0f} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def launched() -> Iterator[launcher.Services]:
    """PostgreSQL and Redis started as `./musrec run` starts them, in a var/ folder of their own."""
    folder = Path(tempfile.mkdtemp(prefix="var-", dir="/tmp"))  # a short path: sockets allow 107 bytes
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MUSREC_VAR_DIR", str(folder))
            patch.delenv("DATABASE_URL")  # the tests' own servers, which the launcher would use instead
            patch.delenv("REDIS_URL")
            running = stack.enter_context(launcher.running_services(redis_dir=folder / "redis", persistent=True))
        try:
            yield running
        finally:
            embedded_server(running, "PostgreSQL").stop()
    shutil.rmtree(folder, ignore_errors=True)


def embedded_server(running: launcher.Services, name: str):
    return next(server for server in running.embedded if server.name == name)


@pytest.fixture
def said() -> list[str]:
    return []


def test_a_killed_redis_is_started_again_with_its_data_and_its_clients_reconnect(launched, said, tmp_path):
    server = embedded_server(launched, "Redis")
    watch = launcher.ServerWatch(server, log=tmp_path / "log" / "services.log")
    client = redis.Redis.from_url(launched.env["REDIS_URL"])
    client.set("song", "kept")
    assert watch.check(said.append) and said == []  # nothing to do
    killed = server.pid

    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: not server.running())
    assert watch.check(said.append)

    assert server.running() and server.pid != killed
    assert client.get("song") == b"kept"  # the same client: same socket, same password, same append-only file
    assert said == ["Redis exited; starting it again (same data, socket and password).", "Redis is running again."]
    assert "Redis exited; starting it again" in (tmp_path / "log" / "services.log").read_text()


def test_a_killed_postgresql_is_started_again_with_its_data(launched, said, tmp_path):
    server = embedded_server(launched, "PostgreSQL")
    watch = launcher.ServerWatch(server, log=tmp_path / "services.log")
    url = launched.env["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (title text)")
        conn.execute("INSERT INTO kept VALUES ('song')")
    killed = server.pid

    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: not server.running())
    assert watch.check(said.append)

    assert server.running() and server.pid != killed
    with psycopg.connect(url) as conn:  # the same URL: the socket in the data folder
        assert conn.execute("SELECT title FROM kept").fetchall() == [("song",)]
    assert said == [
        "PostgreSQL exited; starting it again (same data, socket and password).",
        "PostgreSQL is running again.",
    ]


def test_a_redis_that_stops_answering_is_replaced(launched, said, tmp_path):
    server = embedded_server(launched, "Redis")
    watch = launcher.ServerWatch(server, log=tmp_path / "services.log", hung_after=0)
    stuck = server.pid
    os.kill(stuck, signal.SIGSTOP)
    try:
        assert watch.check(said.append)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)

    assert server.pid != stuck and server.answers()
    assert said[0].startswith("Redis has not answered for ")


def test_a_server_that_keeps_dying_stops_the_site_after_five_restarts_a_minute(said, tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="redis-", dir="/tmp"))
    server = services.start_redis(folder, persistent=False)
    watch = launcher.ServerWatch(server, log=tmp_path / "services.log")
    try:
        outcomes = []
        for _ in range(6):
            os.kill(server.pid, signal.SIGKILL)
            wait_for(lambda: not server.running())
            outcomes.append(watch.check(said.append))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    assert outcomes == [True] * 5 + [False]
    assert said[-1] == f"Redis exited again; it keeps failing, so Musrec stops. See {folder / 'redis.log'}."


def test_a_restart_budget_forgets_restarts_older_than_its_window():
    budget = launcher.RestartBudget(limit=2, window=0.2)

    assert [budget.spend(), budget.spend(), budget.spend()] == [True, True, False]
    time.sleep(0.25)
    assert budget.spend() is True
