"""``./musrec run | test | manage``: start the services, then the site, the tests or a command.

Development and tests use embedded servers under ``var/``; when ``DATABASE_URL`` or
``REDIS_URL`` is already set, the launcher uses those external servers instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from musrec_site import console, services

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The virtual environment's scripts (ruff, lint-imports) sit beside its python; not resolved, it is a symlink.
BIN = Path(PYTHON).parent

# Run by `./musrec test` before pytest, all within a second (ruff caches, the import graph is small).
CODE_CHECKS: dict[str, tuple[str, ...]] = {
    "ruff check": ("ruff", "check", "."),
    "ruff format": ("ruff", "format", "--check", "."),
    # import-linter's cache once gave a wrong answer here (an ignored import "not found" that the code had) while
    # modules were being moved; without it the whole check takes 0.2 s.
    "import contracts": ("lint-imports", "--no-logo", "--no-cache"),
}
CHECK_HINTS = {
    "ruff check": "`.venv/bin/ruff check --fix .` fixes much of what ruff finds",
    "ruff format": "`.venv/bin/ruff format .` formats the code",
    "import contracts": "the contracts (which layer may import which) are in pyproject.toml, [tool.importlinter]",
}


def var_dir() -> Path:
    return Path(os.environ.get("MUSREC_VAR_DIR", BASE_DIR / "var"))


def log_dir() -> Path:
    return var_dir() / "log"


@dataclass
class Services:
    env: dict[str, str]  # for child processes: DATABASE_URL and REDIS_URL
    embedded: list[services.EmbeddedServer]  # the servers started (or shared) here rather than external ones


@contextmanager
def running_services(*, redis_dir: Path, persistent: bool) -> Iterator[Services]:
    """Start the embedded servers that no URL in the environment replaces; stop what was started.

    Both servers listen on Unix sockets in private folders under var/, Redis with a password (services.py).
    """
    env: dict[str, str] = {}
    embedded: list[services.EmbeddedServer] = []
    redis_server = None
    if not os.environ.get("DATABASE_URL"):
        pg = services.start_postgres(var_dir() / "postgres")
        env["DATABASE_URL"] = pg.url
        embedded.append(pg)
    if not os.environ.get("REDIS_URL"):
        redis_server = services.start_redis(redis_dir, persistent=persistent)
        env["REDIS_URL"] = redis_server.url
        embedded.append(redis_server)
    try:
        yield Services(env=services.environ_with(**env), embedded=embedded)
    finally:
        if redis_server is not None:
            redis_server.stop()
        # The embedded PostgreSQL stops itself at exit when no other process holds it.


class RestartBudget:
    """At most ``limit`` restarts in ``window`` seconds: past that, something is wrong that starting again won't fix."""

    def __init__(self, limit: int = 5, window: float = 60) -> None:
        self.limit, self.window = limit, window
        self.times: list[float] = []

    def spend(self) -> bool:
        """Count a restart now; False when it is one too many."""
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < self.window] + [now]
        return len(self.times) <= self.limit


class ServerWatch:
    """Starts an embedded server (PostgreSQL, Redis) again when its process is gone or it stops answering.

    The web server and the worker reconnect by themselves (CONN_HEALTH_CHECKS, redis-py) and the cache lets requests
    through meanwhile, so a killed server (the kernel's out-of-memory killer, say) costs seconds, not the site.
    """

    def __init__(self, server: services.EmbeddedServer, *, log: Path, hung_after: float = 30) -> None:
        self.server, self.log, self.hung_after = server, log, hung_after
        self.budget = RestartBudget()
        self.silent_since: float | None = None

    def check(self, say: Callable[[str], None]) -> bool:
        """Start the server again if it needs it; False when it keeps failing, and the site should stop."""
        name = self.server.name
        if not self.server.running():
            problem = "exited"
        elif self.server.answers():
            self.silent_since = None
            return True
        else:
            # Slow to answer is not dead: a server busy loading its data gets ``hung_after`` seconds.
            now = time.monotonic()
            self.silent_since = self.silent_since or now
            if now - self.silent_since < self.hung_after:
                return True
            problem = f"has not answered for {now - self.silent_since:.0f} s"
        self.silent_since = None
        if not self.budget.spend():
            server_log = console.shown_path(self.server.log)
            self._tell(say, f"{name} {problem} again; it keeps failing, so Musrec stops. See {server_log}.")
            return False
        self._tell(say, f"{name} {problem}; starting it again (same data, socket and password).")
        try:
            self.server.restart()
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            self._tell(say, f"{name} did not start again: {error}")
            return True  # the next check tries again, while the budget lasts
        self._tell(say, f"{name} is running again.")
        return True

    def _tell(self, say: Callable[[str], None], message: str) -> None:
        say(message)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as handle:
            handle.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} {message}\n")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, check=True, cwd=BASE_DIR)


def start_logged(
    command: Sequence[str], env: dict[str, str], log: Path, what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` with its output appended to ``log`` after a line saying what it is.

    Returns the process and the offset in ``log`` where its output begins.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        handle.write(f"\n===== {datetime.now():%Y-%m-%d %H:%M:%S} {what} =====\n".encode())
        handle.flush()
        # A session of its own: Ctrl-C in the terminal reaches only the launcher, which stops the children
        # in order (the web server and worker before the Redis they use), each with its own children.
        process = subprocess.Popen(
            command, env=env, cwd=BASE_DIR, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        return process, handle.tell()


def stop(children: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child's process group (apt-get under the demo build, gunicorn's workers), then wait."""
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_for_http(url: str, process: subprocess.Popen[bytes], *, log: Path, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The web server exited during start-up. The end of {log}:\n{tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The web server did not answer at {url} within {timeout:.0f} s.")


# gunicorn's thread worker gives each request a thread until its last byte is sent. Audio streams spend that time
# waiting on the listener's socket, not on the CPU or the GIL, so threads are cheap; 32 a process keep the site
# answering while 16 listeners stall (docs/benchmarks.md, "Slow listeners"). Each thread may keep a database connection
# (CONN_MAX_AGE): workers × threads must stay below PostgreSQL's max_connections (100) with room for the rest.
WEB_THREADS = 32
# gunicorn's largest request line (its default is 4094 bytes): longer search URLs reach Django, which cuts the query to
# 200 characters, instead of getting gunicorn's bare "414 URI Too Long" page, which no setting of gunicorn changes.
REQUEST_LINE_LIMIT = 8190


def web_server_command(
    address: str, *, workers: int = 2, threads: int = WEB_THREADS, access_log: bool = False
) -> list[str]:
    return [
        PYTHON, "-m", "gunicorn", "musrec_site.wsgi",
        "--bind", address,
        "--worker-class", "gthread",
        "--workers", str(workers),
        "--threads", str(threads),
        "--limit-request-line", str(REQUEST_LINE_LIMIT),
        "--access-logfile", "-" if access_log else "/dev/null",
    ]  # fmt: skip


def command_run(options: argparse.Namespace) -> int:
    print("Starting Musrec…", flush=True)
    with running_services(redis_dir=var_dir() / "redis", persistent=True) as running:
        env = running.env
        env.setdefault("DEBUG", "0")
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        logs = log_dir()
        database, redis = (services.describe_url(env[name]) for name in ("DATABASE_URL", "REDIS_URL"))
        servers = f"PostgreSQL {database}, Redis {redis}"
        worker_command = [
            PYTHON, "manage.py", "rqworker", "analysis", "default",
            "--worker-class", "recommender.worker.AnalysisWorker",
            "--with-scheduler",
        ]  # fmt: skip
        address = f"{options.host}:{options.port}"
        web_command = web_server_command(
            address, workers=options.workers, threads=options.threads, access_log=options.access_log
        )
        children: list[subprocess.Popen[bytes]] = []
        status = console.StatusLine()
        try:
            worker, _ = start_logged(worker_command, env, logs / "worker.log", f"analysis worker ({servers})")
            children.append(worker)
            web, _ = start_logged(web_command, env, logs / "web.log", f"web server on {address} ({servers})")
            children.append(web)
            url = f"http://{address}/"
            wait_for_http(url, web, log=logs / "web.log")
            print(f"Musrec is running at {url}  (Ctrl-C stops it)", flush=True)
            print(f"Full logs: {console.shown_path(logs)}/web.log, worker.log, demo.log", flush=True)
            demo, demo_log, demo_offset = None, logs / "demo.log", 0
            if not options.no_demo:
                # Songs appear on the site as they are imported; the server is already up.
                demo, demo_offset = start_logged(
                    [PYTHON, "manage.py", "build_demo_catalogue", "--if-empty"], env, demo_log, "demo catalogue"
                )
                children.append(demo)
            watches = [ServerWatch(server, log=logs / "services.log") for server in running.embedded]
            worker_restarts = RestartBudget()
            was_busy: bool | None = None
            next_status = next_watch = 0.0
            while web.poll() is None:
                time.sleep(0.5)
                if time.monotonic() >= next_watch:
                    if not all(watch.check(status.say) for watch in watches):
                        return 1
                    next_watch = time.monotonic() + 2
                if worker.poll() is not None:
                    # A worker can die on a decoder crash; the reconciler re-queues its song, so start another.
                    if not worker_restarts.spend():
                        status.say(f"The worker keeps exiting; stopping. The end of {logs / 'worker.log'}:")
                        status.say(tail(logs / "worker.log"))
                        return 1
                    status.say(f"The worker exited ({worker.returncode}); starting a new one (see worker.log).")
                    children.remove(worker)
                    worker, _ = start_logged(worker_command, env, logs / "worker.log", "analysis worker, restarted")
                    children.append(worker)
                if demo is not None and demo.poll() is not None:
                    for line in console.demo_outcome(demo_log, demo_offset, demo.returncode):
                        status.say(line)
                    children.remove(demo)
                    demo = None
                if time.monotonic() < next_status:
                    continue
                next_status = time.monotonic() + 2
                parts = []
                if demo is not None and (step := console.demo_progress(demo_log, demo_offset)):
                    parts.append(step if step.startswith("Demo catalogue") else f"Demo catalogue: {step}")
                counts = console.analysis_counts(env["DATABASE_URL"])
                if counts is not None and counts.busy:
                    parts.append(counts.describe())
                if parts:
                    status.show(" · ".join(parts))
                elif counts is not None and was_busy is not False and counts.total:
                    status.say(counts.describe() + ".")  # once at start, and each time the analysis catches up
                if counts is not None:
                    was_busy = bool(parts)
            status.say(f"The web server exited; stopping. The end of {logs / 'web.log'}:")
            status.say(tail(logs / "web.log"))
            return 1
        except KeyboardInterrupt:
            status.clear()
            print("\nStopping Musrec…", flush=True)
            return 0
        finally:
            stop(children)


def command_test(
    options: argparse.Namespace, pytest_args: list[str], *, checks: Mapping[str, Sequence[str]] = CODE_CHECKS
) -> int:
    if not run_code_checks(checks):
        return 1
    # Tests get their own throw-away Redis so they never touch the site's queues; its folder (and socket) is
    # this run's, so test runs side by side do not share one.
    test_redis = var_dir() / "test-redis"
    services.remove_stale_run_dirs(test_redis)
    try:
        with running_services(redis_dir=test_redis / str(os.getpid()), persistent=False) as running:
            env = running.env
            env.setdefault("DEBUG", "0")
            env["MUSREC_TEST_DATABASE"] = f"test_musrec_{os.getpid()}"
            services.drop_stale_test_databases(env["DATABASE_URL"])
            # WhiteNoise serves STATIC_ROOT; the tests see the same static set-up as the site.
            manage(env, "collectstatic", "--no-input", "-v", "0")
            return subprocess.run([PYTHON, "-m", "pytest", *pytest_args], env=env, cwd=BASE_DIR).returncode
    finally:
        shutil.rmtree(test_redis / str(os.getpid()), ignore_errors=True)


def run_code_checks(checks: Mapping[str, Sequence[str]] = CODE_CHECKS) -> bool:
    """Run every check (lint, format, import contracts); print what failed. True when all pass."""
    if not checks:
        return True
    started = time.monotonic()
    failed = []
    for name, command in checks.items():
        try:
            result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=BASE_DIR, capture_output=True, text=True)
        except FileNotFoundError:
            result = subprocess.CompletedProcess(command, 1, f"{command[0]} is not installed in {BIN}.", "")
        if result.returncode != 0:
            print(f"$ {' '.join(command)}\n{(result.stdout + result.stderr).strip()}\n", file=sys.stderr)
            failed.append(name)
    if failed:
        hints = "; ".join(CHECK_HINTS[name] for name in failed if name in CHECK_HINTS)
        print(f"The code checks failed ({', '.join(failed)}), so the tests did not run.", file=sys.stderr)
        if hints:
            print(hints[0].upper() + hints[1:] + ".", file=sys.stderr)
        return False
    print(f"Code checks passed ({', '.join(checks)}) in {time.monotonic() - started:.1f} s.", flush=True)
    return True


def command_manage(manage_args: list[str]) -> int:
    # While `./musrec run` is up, this shares its Redis (and PostgreSQL) rather than starting another.
    with running_services(redis_dir=var_dir() / "redis", persistent=True) as running:
        return subprocess.run([PYTHON, "manage.py", *manage_args], env=running.env, cwd=BASE_DIR).returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Ctrl-C must stop everything even when a parent shell started us with SIGINT ignored (as `cmd &` does);
    # SIGTERM (e.g. from a service manager) cleans up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Everything Musrec and the servers it starts create (uploads, logs, database files, sockets) is for the
    # site's own user: no other local account may read a private upload or reach a server's socket.
    os.umask(0o077)
    if argv and argv[0] == "test":
        return command_test(argparse.Namespace(), argv[1:])
    if argv and argv[0] == "manage":
        return command_manage(argv[1:])
    parser = argparse.ArgumentParser(prog="musrec", description="Run the Musrec site.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start services, worker and web server")
    run.add_argument("--host", default=os.environ.get("MUSREC_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("MUSREC_PORT", "8000")))
    run.add_argument("--workers", type=int, default=2, help="web server processes (2)")
    run.add_argument("--threads", type=int, default=WEB_THREADS, help=f"threads a web server process ({WEB_THREADS})")
    run.add_argument("--no-demo", action="store_true", help="do not build the demo catalogue")
    run.add_argument("--access-log", action="store_true", help="log every request to var/log/web.log")
    sub.add_parser("test", help="run the test suite (arguments go to pytest)")
    sub.add_parser("manage", help="run a manage.py command with the services up")
    options = parser.parse_args(argv)
    try:
        return command_run(options)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
