"""Faults against the real servers: a worker killed or crashing mid-song, a full disk, lost database connections.

Nothing is lost, nothing is analysed twice, a good song is never marked failed because the machine failed,
and a song that keeps killing its worker ends failed with the reason after its attempts.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection
from django.urls import reverse

from catalog import storage as storage_module
from catalog.models import Song
from musrec_site import services
from recommender import jobs
from recommender.jobs import MAX_ATTEMPTS, queue_analysis, reconcile
from recommender.models import Embedding
from tests.conftest import run_analysis_worker
from tests.factories import embed, make_song, write_audio

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(condition: Callable[[], bool], *, timeout: float = 120, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s")
        time.sleep(step)


# The real worker, except that the network never returns: it claims a song and is then caught mid-song, every
# time, however fast or loaded the machine is. No core file is written when it is made to crash.
HANGING_WORKER = """
import os, resource, sys, time
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
from recommender.core import analysis
analysis.analyse_files = lambda *args, **kwargs: time.sleep(3600)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musrec_site.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "rqworker", "--worker-class", "recommender.worker.AnalysisWorker", "analysis"])
"""


@pytest.fixture
def worker_process(media_root, tmp_path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start the analysis worker as production runs it, in a process of its own on the test database."""
    started: list[subprocess.Popen[bytes]] = []
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "MEDIA_ROOT": str(media_root),
    }
    command = [sys.executable, "-c", HANGING_WORKER]

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def analysing() -> Song | None:
    return Song.objects.filter(analysis_status=Song.Analysis.ANALYSING).first()


def dies_mid_song(worker: subprocess.Popen[bytes], how: signal.Signals) -> Song:
    """Wait until ``worker`` is analysing a song, then end it with ``how``; the song it held."""
    wait_for(lambda: analysing() is not None, step=0.05)
    worker.send_signal(how)
    assert worker.wait(30) == -how
    song = analysing()
    assert song is not None  # left behind by the dead worker
    return song


def test_a_worker_killed_mid_song_loses_nothing_and_analyses_nothing_twice(analysis_queue, worker_process, monkeypatch):
    songs = [make_song(title=f"Song {n}", seed=n) for n in range(4)]
    queue_analysis([s.pk for s in songs])

    held = dies_mid_song(worker_process(), signal.SIGKILL)
    # The dead worker's heartbeat stops; once it is older than STALE_AFTER the reconciler takes the song back.
    monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=1))
    time.sleep(1.5)
    assert reconcile()["revived"] == 1
    run_analysis_worker()  # a new worker (the launcher starts one) finishes the queue

    assert set(Song.objects.values_list("analysis_status", flat=True)) == {Song.Analysis.DONE}
    assert Embedding.objects.count() == len(songs)  # one vector each: nothing analysed twice into two
    held.refresh_from_db()
    assert held.analysis_attempts == 0 and held.analysis_claim is None


def test_a_song_that_keeps_crashing_its_worker_ends_failed_after_its_attempts(
    analysis_queue, worker_process, monkeypatch
):
    """A decoder crash kills the worker process (SIGSEGV): the launcher restarts it; after MAX_ATTEMPTS crashes
    the song is failed with the reason, and the worker goes on with the others."""
    crasher = make_song(title="Crasher")
    queue_analysis([crasher.pk])
    monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=1))

    for attempt in range(1, MAX_ATTEMPTS + 1):
        held = dies_mid_song(worker_process(), signal.SIGSEGV)
        assert (held.pk, held.analysis_attempts) == (crasher.pk, attempt)
        time.sleep(1.5)
        reconcile()

    crasher.refresh_from_db()
    assert crasher.analysis_status == Song.Analysis.FAILED
    assert f"stopped {MAX_ATTEMPTS} times without finishing" in crasher.analysis_error
    healthy = make_song(title="Healthy")
    queue_analysis([healthy.pk])
    run_analysis_worker()
    healthy.refresh_from_db()
    assert healthy.analysis_status == Song.Analysis.DONE


def test_a_full_disk_while_storing_the_picture_queues_the_song_again_and_fails_nothing(
    analysis_queue, monkeypatch, media_root, alice
):
    twin = embed(make_song(title="Twin"), [1.0] + [0.0] * 199)  # analysed before: it shows its picture
    twin.spectrogram.save(f"{twin.content_hash}.png", ContentFile(b"\x89PNG\r\n\x1a\n twin"), save=True)
    twin_picture = Path(twin.spectrogram.path)
    song = make_song(title="Alice's copy", content_hash=twin.content_hash, owner=alice, in_catalogue=False)
    queue_analysis([song.pk])

    def disk_full(fd: int, *args: object, **kwargs: object):
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage_module, "fdopen", disk_full)
    run_analysis_worker()

    song.refresh_from_db()
    # Not failed (the file is fine, the disk was full), and not tried again at once: the reconciler takes the
    # song back at its next round, a minute later, without counting the attempt against the file.
    assert song.analysis_status == Song.Analysis.ANALYSING and song.analysis_claim is None
    assert song.analysis_attempts == 0
    assert "No space left on device" in song.analysis_error
    assert not Embedding.objects.filter(song=song).exists()
    assert [p for p in Path(media_root).rglob("*.png")] == [twin_picture]  # the twin's picture is untouched
    assert not [p for p in Path(media_root).rglob(".partial-*")]

    monkeypatch.undo()
    assert reconcile()["revived"] == 1
    run_analysis_worker()
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE
    assert Path(song.spectrogram.path).is_file()


def test_the_site_recovers_by_itself_when_the_database_drops_its_connections(alice_client):
    """What a PostgreSQL restart does to a web thread: the connection it keeps between requests dies. With
    CONN_HEALTH_CHECKS the next request reconnects; without, it fails (once per thread)."""
    assert connection.settings_dict["CONN_MAX_AGE"] > 0  # connections are kept between requests
    assert alice_client.get(reverse("catalog:song_list")).status_code == 200
    assert connection.connection is not None
    kept = connection.connection.info.backend_pid

    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [kept]).fetchone()[0]
    close_old_connections()  # what Django does as each request starts (the test client leaves it out)

    assert alice_client.get(reverse("catalog:song_list")).status_code == 200
    assert connection.connection.info.backend_pid != kept


@pytest.fixture
def private_redis(settings) -> Iterator[services.EmbeddedRedis]:
    """A Redis of this test's own (persistent, as the site's is), which the queues and the cache use."""
    folder = Path(tempfile.mkdtemp(prefix="redis-", dir="/tmp"))  # a short path: sockets allow 107 bytes
    server = services.start_redis(folder, persistent=True)
    settings.RQ_QUEUES = {name: {**queue, "URL": server.url} for name, queue in settings.RQ_QUEUES.items()}
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": [server.url]}}
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_redis_stopped_and_restarted_loses_no_song_and_uploads_go_on_meanwhile(
    private_redis, alice_client, monkeypatch, tmp_path
):
    queued = [make_song(title=f"Queued {n}") for n in range(3)]
    queue_analysis([s.pk for s in queued])
    in_progress = make_song(title="In progress", analysis_status=Song.Analysis.QUEUED)
    assert jobs._claim(in_progress.pk, uuid.uuid4())  # a worker holds it when Redis goes

    private_redis.process.kill()  # Redis dies
    private_redis.process.wait(10)
    with write_audio(tmp_path / "mine.flac", seconds=3, title="Uploaded meanwhile").open("rb") as handle:
        response = alice_client.post(reverse("recommender:upload"), {"audio": handle})
    assert response.status_code == 302  # accepted, no 500
    uploaded = Song.objects.get(title="Uploaded meanwhile")
    assert uploaded.analysis_status == Song.Analysis.QUEUED  # waiting in the database

    restarted = services.start_redis(Path(private_redis.socket.parent), persistent=True)  # with its append-only file
    try:
        monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(0))  # the holder of "In progress" died meanwhile
        reconcile()
        run_analysis_worker()
    finally:
        restarted.process.terminate()
        restarted.process.wait(10)

    assert set(Song.objects.values_list("analysis_status", flat=True)) == {Song.Analysis.DONE}
    assert Embedding.objects.count() == Song.objects.count() == 5
