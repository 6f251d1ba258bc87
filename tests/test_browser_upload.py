"""In a real browser: upload a favourite, watch a real worker analyse it live, play its playlist and save it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse

from catalog.importer import Outcome, import_file
from catalog.models import Playlist, Song
from recommender.jobs import queue_analysis
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.conftest import run_analysis_worker
from tests.factories import make_song, write_audio

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

TIMEOUT_MS = 30_000
# The worker process imports TensorFlow and loads the model before its first job.
WORKER_START_TIMEOUT_MS = 90_000
BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def analysed_catalogue(tmp_path, analysis_queue) -> list[Song]:
    """Six short songs by six artists, analysed by the real worker in this process."""
    folder = tmp_path / "catalogue"
    folder.mkdir()
    songs = []
    for i in range(6):
        result = import_file(
            write_audio(folder / f"tune{i}.wav", seconds=6, seed=i, title=f"Tune {i}", artist=f"Band {i}")
        )
        assert result.outcome == Outcome.IMPORTED, result.reason
        songs.append(Song.objects.get(pk=result.song_id))
    queue_analysis([s.pk for s in songs])
    run_analysis_worker()
    assert set(Song.objects.values_list("analysis_status", flat=True)) == {Song.Analysis.DONE}
    return songs


def start_worker_process(media_root: Path, log: Path) -> subprocess.Popen[bytes]:
    """The analysis worker as production runs it: its own process, on the live server's test database.

    Not a thread of this process: RQ installs signal handlers when it starts working, which Python
    allows only in the main thread, and the main thread drives the browser. The process reaches
    the test database because live_server uses transactional_db, so every row is committed.
    """
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "MEDIA_ROOT": str(media_root),
    }
    command = [
        sys.executable,
        "manage.py",
        "rqworker",
        "--burst",
        "--worker-class",
        "recommender.worker.AnalysisWorker",
        "analysis",
    ]
    with log.open("wb") as handle:
        return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT)


@pytest.fixture
def worker_log(tmp_path) -> Path:
    return tmp_path / "worker.log"


def test_an_upload_shows_its_analysis_live_then_plays_and_saves_its_playlist(
    page, alice, analysed_catalogue, media_root, tmp_path, worker_log
):
    favourite = write_audio(tmp_path / "favourite.wav", seconds=8, seed=42, title="My Favourite", artist="Me")
    log_in(page, "alice")
    page.goto("/upload/")

    page.get_by_label("A song you like").set_input_files(favourite)
    page.get_by_role("button", name="Upload and analyse").click()

    expect(page).to_have_url(re.compile(r"/upload/\d+/$"))
    expect(page.get_by_role("heading", name="My Favourite")).to_be_visible()
    analysis = page.locator("#analysis")
    expect(analysis).to_contain_text("Queued for analysis…")
    # htmx swaps #analysis in place; a page load would wipe this marker.
    page.evaluate("window.musrecMarker = 'same page'")

    worker = None
    try:
        # Holding a SHARE lock on the embeddings table stops the worker just before it stores its
        # result (an INSERT waits for the lock) while reads go on: the song stays "analysing" for as
        # long as the test needs to see it, however fast the analysis itself is.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE recommender_embedding IN SHARE MODE")
            worker = start_worker_process(media_root, worker_log)
            expect(analysis).to_contain_text("Analysing…", timeout=WORKER_START_TIMEOUT_MS)
            expect(analysis.locator("progress")).to_have_attribute("value", "20", timeout=TIMEOUT_MS)
        worker.wait(timeout=TIMEOUT_MS / 1000)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, worker_log.read_text()

    song = Song.objects.get(owner=alice)
    assert song.analysis_status == Song.Analysis.DONE, worker_log.read_text()
    spectrogram = analysis.locator("img.spectrogram")
    expect(spectrogram).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => { const img = document.querySelector('img.spectrogram'); return img.complete && img.naturalWidth > 0 }",
        timeout=TIMEOUT_MS,
    )
    playlist = page.locator("#playlist")
    expect(playlist.get_by_role("heading", name="Songs that sound like it")).to_be_visible(timeout=TIMEOUT_MS)
    play_buttons = playlist.locator("button.play")
    expect(play_buttons).to_have_count(len(analysed_catalogue))
    assert page.evaluate("window.musrecMarker") == "same page"

    # The player bar's <audio> sits outside the page that navigation replaces.
    player = page.locator("#player-bar audio")
    player.evaluate("player => player.addEventListener('playing', () => { window.musrecPlaying = true })")
    player.evaluate("player => { player.musrecMarker = 'same player' }")
    play_buttons.first.click()

    page.wait_for_function("window.musrecPlaying === true", timeout=TIMEOUT_MS)
    expect(play_buttons.first).to_have_class(re.compile(r"\bplaying\b"))
    first_title = playlist.locator("li .what a").first.inner_text()
    first_song = Song.objects.get(title=first_title)
    assert player.evaluate("player => new URL(player.src).pathname") == f"/songs/{first_song.pk}/audio"
    # The whole generated playlist is the queue.
    expect(page.locator("#player-bar .player-queue-count")).to_have_text(str(len(analysed_catalogue)))

    playlist.get_by_role("button", name="Save as playlist").click()

    expect(page).to_have_url(re.compile(r"/playlists/\d+/$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Like My Favourite")).to_be_visible()
    saved = Playlist.objects.get(owner=alice)
    assert saved.seed == song
    expect(page.locator("ol.playlist li")).to_have_count(len(analysed_catalogue))
    expect(page.locator("ol.playlist li").first).to_contain_text(first_title)
    assert page.url.endswith(saved.get_absolute_url())
    assert player.evaluate("player => player.musrecMarker") == "same player"


def test_deleting_an_upload_asks_first_and_no_keeps_it(page, alice):
    demo = make_song(title="My Demo", owner=alice, in_catalogue=False)
    log_in(page, "alice")
    page.goto(reverse("recommender:upload_detail", args=[demo.pk]))

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete upload").click()
    page.wait_for_timeout(500)
    assert Song.objects.filter(pk=demo.pk).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete upload").click()

    expect(page.locator(".messages")).to_have_text("“My Demo” was deleted.")
    expect(page).to_have_url(re.compile(r"/upload/$"))
    assert not Song.objects.filter(pk=demo.pk).exists()
