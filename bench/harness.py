"""What every benchmark shares: a description of the machine, the services and Django, and statistics.

The benchmarks run against their own database (``bench_musrec``) on the embedded PostgreSQL (or on
the server ``DATABASE_URL`` names), their own throw-away Redis and their own media folder, so the
development site's data is never touched. Synthetic audio is cached under ``var/bench/``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_VAR = BASE_DIR / "var" / "bench"
BENCH_DATABASE = "bench_musrec"

if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))


# --- the machine ------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU model, cores, memory and software versions, as the report's header states them."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    simd = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f" {flag}" in flags]
    info = {
        "cpu": f"{models[0] if models else platform.processor()} ({', '.join(simd) or 'no AVX2'})",
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable by this process",
        "memory": f"{memory_kb / 1024**2:.1f} GiB",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    for package in ("numpy", "tensorflow", "keras", "soundfile", "soxr", "django", "rq", "pgvector"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            info[package] = importlib.metadata.version(package)
    import soundfile

    info["libsndfile"] = soundfile.__libsndfile_version__
    return info


def database_versions() -> dict[str, str]:
    """PostgreSQL's and pgvector's versions and the settings that matter to vector search (Django connection)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        settings = {}
        for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "max_parallel_maintenance_workers"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "postgresql": server,
        "pgvector extension": row[0] if row else "not installed",
        **{f"pg {k}": v for k, v in settings.items()},
    }


def print_machine(extra: dict[str, str] | None = None) -> dict[str, str]:
    info = {**machine(), **(extra or {})}
    width = max(len(k) for k in info)
    print("Machine")
    for key, value in info.items():
        print(f"  {key:<{width}}  {value}")
    print(flush=True)
    return info


# --- services and Django -----------------------------------------------------------------------------------


def bench_database_url() -> str:
    """``DATABASE_URL`` with the database renamed to ``bench_musrec``, starting the embedded server when unset."""
    from musrec_site import services

    url = os.environ.get("DATABASE_URL")
    if not url:
        return services.start_postgres(BASE_DIR / "var" / "postgres", database=BENCH_DATABASE).url
    parts = urlsplit(url)
    bench_url = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    _create_database(urlunsplit(parts._replace(path="/postgres")), BENCH_DATABASE)
    return bench_url


def _create_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_services(*, redis: bool = False) -> dict[str, str]:
    """Point this process (and the children it starts) at the benchmark's database, Redis and media folder.

    Returns the environment for child processes. A Redis started here stops when this process exits.
    """
    from musrec_site import services

    os.environ["DATABASE_URL"] = bench_database_url()
    if redis:
        server = services.start_redis(BENCH_VAR / "redis", persistent=False)
        atexit.register(server.stop)
        os.environ["REDIS_URL"] = server.url
    media = BENCH_VAR / "media"
    media.mkdir(parents=True, exist_ok=True)
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musrec_site.settings")
    os.environ.setdefault("DEBUG", "0")
    return dict(os.environ)


def use_development_database() -> None:
    """Point ``DATABASE_URL`` at the development database, where ``./musrec run`` keeps the demo catalogue (started
    here if need be), unless it already names one."""
    if not os.environ.get("DATABASE_URL"):
        from musrec_site import services

        os.environ["DATABASE_URL"] = services.start_postgres(BASE_DIR / "var" / "postgres").url


def setup_development_django() -> None:
    """Django on the development database, as it is (no migrations): for the benchmarks about the demo catalogue."""
    use_development_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musrec_site.settings")
    setup_django(migrate=False)


def setup_django(*, migrate: bool = True) -> None:
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


# --- statistics --------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between samples as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``min-max`` of repeated measurements, to show how noisy the machine was."""
    return f"{min(values):.3g}-{max(values):.3g}" if values else ""


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def save_results(name: str, results: dict) -> Path:
    """Write ``results`` to ``var/bench/<name>.json`` for docs/benchmarks.md, and say where."""
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    path = BENCH_VAR / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nResults written to {path.relative_to(BASE_DIR)}")
    return path


def rss_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), and ru_maxrss, in MiB."""
    import resource

    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            status[key] = int(value.split()[0]) / 1024
    status["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return status
