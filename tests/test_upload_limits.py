"""Each person's upload limits: the space their uploads take, uploads an hour, and uploads waiting for analysis."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog.models import Song
from recommender import views
from recommender.uploads import MIB
from tests.factories import ANALYSABLE_SECONDS, make_song, synth_signal

pytestmark = pytest.mark.django_db


def wav_bytes(*, seed: int) -> bytes:
    """Four seconds (enough to analyse) of 16-bit mono WAV at 8 kHz: 64,044 bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, synth_signal(seconds=ANALYSABLE_SECONDS, seed=seed, sample_rate=8000), 8000, format="WAV")
    return buffer.getvalue()


WAV_SIZE = len(wav_bytes(seed=0))


def upload(client: Client, *, seed: int = 0):
    return client.post(
        reverse("recommender:upload"), {"audio": SimpleUploadedFile(f"tune{seed}.wav", wav_bytes(seed=seed))}
    )


def earlier_upload(owner, **overrides) -> Song:
    return make_song(**{"owner": owner, "in_catalogue": False, "analysis_status": Song.Analysis.DONE, **overrides})


def stored_files(media_root: Path) -> list[Path]:
    return sorted(path for path in Path(media_root).rglob("*") if path.is_file())


# The upload space (MUSREC_UPLOAD_QUOTA_MB)


def test_the_upload_page_shows_how_much_of_the_space_alices_uploads_take(alice_client, alice, bob):
    earlier_upload(alice, file_size=312 * MIB)
    earlier_upload(bob, file_size=500 * MIB)

    response = alice_client.get(reverse("recommender:upload"))

    assert "312 MB of 1,000 MB used." in response.content.decode()


def test_a_new_person_has_used_nothing_and_a_small_file_counts_as_a_megabyte(alice_client, alice):
    assert "0 MB of 1,000 MB used." in alice_client.get(reverse("recommender:upload")).content.decode()

    earlier_upload(alice, file_size=1000)

    assert "1 MB of 1,000 MB used." in alice_client.get(reverse("recommender:upload")).content.decode()


def test_an_upload_that_does_not_fit_is_refused_before_anything_is_stored(
    alice_client, alice, settings, media_root, analysis_queue
):
    settings.MUSREC_UPLOAD_QUOTA_MB = 1
    earlier_upload(alice, file_size=MIB - WAV_SIZE + 1)
    files_before = stored_files(media_root)

    response = upload(alice_client, seed=1)

    assert response.status_code == 413
    page = response.content.decode()
    assert "This file (1 MB) does not fit in your upload space: 1 MB of 1 MB used." in page
    assert "Delete some of your uploads to make room." in page
    assert Song.objects.uploads_of(alice).count() == 1
    assert stored_files(media_root) == files_before
    assert analysis_queue.count == 0


def test_an_upload_that_just_fits_is_stored(alice_client, alice, settings):
    settings.MUSREC_UPLOAD_QUOTA_MB = 1
    earlier_upload(alice, file_size=MIB - WAV_SIZE)

    response = upload(alice_client, seed=1)

    assert response.status_code == 302
    assert Song.objects.uploads_of(alice).count() == 2


def test_alice_out_of_space_does_not_hold_back_bob(alice_client, alice, bob_client, bob, settings):
    settings.MUSREC_UPLOAD_QUOTA_MB = 1
    earlier_upload(alice, file_size=MIB)
    assert upload(alice_client, seed=1).status_code == 413

    response = upload(bob_client, seed=1)

    assert response.status_code == 302
    assert Song.objects.uploads_of(bob).count() == 1


def test_deleting_an_upload_makes_room_again(alice_client, alice, settings):
    settings.MUSREC_UPLOAD_QUOTA_MB = 1
    big = earlier_upload(alice, file_size=MIB)
    assert upload(alice_client, seed=1).status_code == 413

    alice_client.post(reverse("recommender:upload_delete", args=[big.pk]))
    response = upload(alice_client, seed=1)

    assert response.status_code == 302


def test_a_quota_of_0_is_no_quota(alice_client, alice, settings):
    settings.MUSREC_UPLOAD_QUOTA_MB = 0
    earlier_upload(alice, file_size=10_000 * MIB)

    response = upload(alice_client, seed=1)

    assert response.status_code == 302
    page = alice_client.get(reverse("recommender:upload")).content.decode()
    assert "Your uploads take 10,001 MB;" in page


@pytest.mark.django_db(transaction=True)
def test_two_uploads_at_once_cannot_both_take_the_last_of_the_space(alice, settings, monkeypatch, analysis_queue):
    settings.MUSREC_UPLOAD_QUOTA_MB = 1
    earlier_upload(alice, file_size=MIB - WAV_SIZE)  # room for one more file, not two
    real_import_file = views.import_file
    both_started = threading.Barrier(2, timeout=10)

    def slow_import_file(*args, **kwargs):
        # Without a lock both uploads would have passed the check by now, and both would be stored.
        threading.Event().wait(0.5)
        return real_import_file(*args, **kwargs)

    monkeypatch.setattr(views, "import_file", slow_import_file)
    statuses: list[int] = []

    def upload_in_a_thread(seed: int) -> None:
        client = Client()
        client.force_login(alice)
        try:
            both_started.wait()
            statuses.append(upload(client, seed=seed).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload_in_a_thread, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [302, 413]
    assert Song.objects.uploads_of(alice).count() == 2


# Uploads an hour (MUSREC_UPLOADS_PER_HOUR)


def test_uploads_past_the_hourly_limit_are_refused_with_a_message(
    alice_client, alice, bob_client, settings, one_rate_window
):
    settings.MUSREC_UPLOADS_PER_HOUR = 2
    assert upload(alice_client, seed=1).status_code == 302
    assert upload(alice_client, seed=2).status_code == 302

    response = upload(alice_client, seed=3)

    assert response.status_code == 429
    assert "Too many uploads: at most 2 an hour. Please try again later." in response.content.decode()
    assert Song.objects.uploads_of(alice).count() == 2
    assert upload(bob_client, seed=3).status_code == 302
    assert alice_client.get(reverse("recommender:upload")).status_code == 200


def test_the_upload_page_says_how_many_uploads_an_hour_are_allowed(alice_client):
    assert "Up to 30 uploads an hour." in alice_client.get(reverse("recommender:upload")).content.decode()


# Uploads waiting for analysis (MUSREC_MAX_QUEUED_PER_USER)


def test_uploads_waiting_for_analysis_are_capped_per_person(alice_client, alice, bob_client, settings):
    settings.MUSREC_MAX_QUEUED_PER_USER = 3
    for status in (Song.Analysis.PENDING, Song.Analysis.QUEUED, Song.Analysis.ANALYSING):
        waiting = earlier_upload(alice, analysis_status=status)
    for status in (Song.Analysis.DONE, Song.Analysis.FAILED):
        earlier_upload(alice, analysis_status=status)

    response = upload(alice_client, seed=1)

    assert response.status_code == 429
    assert "3 of your uploads are waiting for analysis, the most at once." in response.content.decode()
    assert Song.objects.uploads_of(alice).count() == 5
    assert upload(bob_client, seed=1).status_code == 302

    Song.objects.filter(pk=waiting.pk).update(analysis_status=Song.Analysis.DONE)

    assert upload(alice_client, seed=1).status_code == 302


def test_the_upload_page_shows_how_many_uploads_are_waiting(alice_client, alice):
    earlier_upload(alice, analysis_status=Song.Analysis.QUEUED)

    page = alice_client.get(reverse("recommender:upload")).content.decode()

    assert "1 of at most 20 waiting for analysis" in page
