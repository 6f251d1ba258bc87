"""``./musrec run | test | manage``: start the services, then the site, the tests or a command.

Development and tests use embedded servers under ``var/``; when ``DATABASE_URL`` or
``REDIS_URL`` is already set, the launcher uses those external servers instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from musrec_site import services

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def var_dir() -> Path:
    return Path(os.environ.get("MUSREC_VAR_DIR", BASE_DIR / "var"))


@contextmanager
def running_services(*, redis_dir: str, redis_port: int | None, persistent: bool) -> Iterator[dict[str, str]]:
    """Yield the environment (DATABASE_URL, REDIS_URL) for child processes; stop what was started."""
    env: dict[str, str] = {}
    redis_server = None
    if not os.environ.get("DATABASE_URL"):
        pg = services.start_postgres(var_dir() / "postgres")
        env["DATABASE_URL"] = pg.url
    if not os.environ.get("REDIS_URL"):
        redis_server = services.start_redis(var_dir() / redis_dir, port=redis_port, persistent=persistent)
        env["REDIS_URL"] = redis_server.url
    try:
        yield services.environ_with(**env)
    finally:
        if redis_server is not None:
            redis_server.stop()
        # The embedded PostgreSQL stops itself at exit when no other process holds it.


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, check=True, cwd=BASE_DIR)


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("The web server exited during start-up; see the messages above.")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The web server did not answer at {url} within {timeout:.0f} s.")


def command_run(options: argparse.Namespace) -> int:
    with running_services(redis_dir="redis", redis_port=6390, persistent=True) as env:
        env.setdefault("DEBUG", "0")
        print(f"PostgreSQL: {services.describe_url(env['DATABASE_URL'])}")
        print(f"Redis:      {services.describe_url(env['REDIS_URL'])}")
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        children: list[subprocess.Popen[bytes]] = []
        worker_command = [
            PYTHON, "manage.py", "rqworker", "analysis", "default",
            "--worker-class", "recommender.worker.AnalysisWorker",
            "--with-scheduler",
        ]  # fmt: skip
        try:
            worker = subprocess.Popen(worker_command, env=env, cwd=BASE_DIR, start_new_session=True)
            children.append(worker)
            address = f"{options.host}:{options.port}"
            web = subprocess.Popen(
                [
                    PYTHON, "-m", "gunicorn", "musrec_site.wsgi",
                    "--bind", address,
                    "--worker-class", "gthread",
                    "--workers", str(options.workers),
                    "--threads", "8",
                    "--access-logfile", "-" if options.access_log else "/dev/null",
                ],
                env=env,
                cwd=BASE_DIR,
                start_new_session=True,
            )  # fmt: skip
            children.append(web)
            url = f"http://{address}/"
            wait_for_http(url, web)
            print(f"\nMusrec is running at {url}  (Ctrl-C stops it)\n", flush=True)
            if not options.no_demo:
                # Songs appear on the site as they are imported; the server is already up.
                subprocess.run([PYTHON, "manage.py", "build_demo_catalogue", "--if-empty"], env=env, cwd=BASE_DIR)
                print(f"\nMusrec is running at {url}  (Ctrl-C stops it)\n", flush=True)
            restarts: list[float] = []
            while web.poll() is None:
                time.sleep(0.5)
                if worker.poll() is not None:
                    # A worker can die on a decoder crash; the reconciler re-queues its song, so start another.
                    restarts = [t for t in restarts if time.monotonic() - t < 60] + [time.monotonic()]
                    if len(restarts) > 5:
                        print("The worker keeps exiting; stopping.", file=sys.stderr)
                        return 1
                    print(f"The worker exited ({worker.returncode}); starting a new one.", file=sys.stderr)
                    children.remove(worker)
                    worker = subprocess.Popen(worker_command, env=env, cwd=BASE_DIR, start_new_session=True)
                    children.append(worker)
            print("The web server exited; stopping.", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nStopping Musrec…")
            return 0
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()


def command_test(options: argparse.Namespace, pytest_args: list[str]) -> int:
    # Tests get their own throw-away Redis so they never touch the site's queues.
    with running_services(redis_dir="test-redis", redis_port=None, persistent=False) as env:
        env.setdefault("DEBUG", "0")
        env["MUSREC_TEST_DATABASE"] = f"test_musrec_{os.getpid()}"
        services.drop_stale_test_databases(env["DATABASE_URL"])
        # WhiteNoise serves STATIC_ROOT; the tests see the same static set-up as the site.
        manage(env, "collectstatic", "--no-input", "-v", "0")
        return subprocess.run([PYTHON, "-m", "pytest", *pytest_args], env=env, cwd=BASE_DIR).returncode


def command_manage(manage_args: list[str]) -> int:
    with running_services(redis_dir="redis", redis_port=6390, persistent=True) as env:
        return subprocess.run([PYTHON, "manage.py", *manage_args], env=env, cwd=BASE_DIR).returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Ctrl-C must stop everything even when a parent shell started us with SIGINT ignored (as `cmd &` does);
    # SIGTERM (e.g. from a service manager) cleans up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if argv and argv[0] == "test":
        return command_test(argparse.Namespace(), argv[1:])
    if argv and argv[0] == "manage":
        return command_manage(argv[1:])
    parser = argparse.ArgumentParser(prog="musrec", description="Run the Musrec site.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start services, worker and web server")
    run.add_argument("--host", default=os.environ.get("MUSREC_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("MUSREC_PORT", "8000")))
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--no-demo", action="store_true", help="do not build the demo catalogue")
    run.add_argument("--access-log", action="store_true")
    sub.add_parser("test", help="run the test suite (arguments go to pytest)")
    sub.add_parser("manage", help="run a manage.py command with the services up")
    options = parser.parse_args(argv)
    try:
        return command_run(options)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
