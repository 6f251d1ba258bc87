from __future__ import annotations

import io
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rq.job import Job

from catalog.models import Song
from recommender import jobs
from recommender.core.embedders import get_embedder, load_card
from recommender.jobs import (
    MAX_ATTEMPTS,
    STALE_AFTER,
    _analyse_claimed,
    _claim,
    _fail,
    analyse_song,
    job_id_for,
    next_in_fair_order,
    queue_analysis,
    reconcile,
)
from recommender.models import Embedding, active_model_key
from tests.conftest import PASSWORD, run_analysis_worker
from tests.factories import make_song

pytestmark = pytest.mark.django_db(transaction=True)


def queued_job_ids(queue) -> set[str]:
    return set(queue.get_job_ids())


def make_queued_song(**overrides: object) -> Song:
    song = make_song(**overrides)
    queue_analysis([song.pk])
    song.refresh_from_db()
    return song


def long_ago() -> datetime:
    return timezone.now() - STALE_AFTER - timedelta(minutes=1)


# analyse_song


@pytest.mark.slow
def test_analysing_a_song_twice_does_the_work_once(analysis_queue):
    song = make_queued_song()

    first = analyse_song(song.pk)
    second = analyse_song(song.pk)

    assert first == f"analysed {song.pk}"
    assert second == "nothing to do: already analysed or claimed by another worker"
    assert Embedding.objects.filter(song=song).count() == 1
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE
    assert song.analysis_progress == 100


@pytest.mark.slow
def test_an_analysed_song_keeps_both_networks_raw_vectors_and_tags_beside_its_embedding(analysis_queue):
    song = make_queued_song()

    analyse_song(song.pk)

    embedding = Embedding.objects.get(song=song)
    card = load_card(settings.MUSREC_MODEL)
    assert embedding.model == active_model_key()
    assert len(embedding.vector) == card.dimensions == 400
    assert np.linalg.norm(embedding.vector) == pytest.approx(1, abs=1e-5)
    # The stored vector is the card's combination of the stored raw parts: refitting never needs the networks.
    raw = card.split_raw(np.asarray(embedding.raw_vector))
    combined = card.combine({name: part[None] for name, part in raw.items()})[0]
    assert np.allclose(combined, embedding.vector, atol=1e-5)
    assert {"rock", "mtt:guitar", "mtt:rock"} <= set(embedding.tag_scores)
    assert len(embedding.tag_scores) == 100
    assert embedding.neighbour_similarity is None  # until the worker's maintenance computes it


def claim(song: Song) -> tuple[uuid.UUID, list[Song]]:
    token = uuid.uuid4()
    return token, list(Song.objects.filter(pk=song.pk)) if _claim(song.pk, token) else []


def test_a_song_analysing_in_a_live_worker_is_not_claimed_again():
    started = timezone.now() - timedelta(minutes=1)
    song = make_song(analysis_status=Song.Analysis.ANALYSING, analysis_started_at=started, analysis_progress=20)

    assert claim(song)[1] == []

    song.refresh_from_db()
    assert song.analysis_started_at == started
    assert song.analysis_progress == 20


def test_a_claim_counts_an_attempt_and_carries_a_token():
    song = make_song(analysis_status=Song.Analysis.QUEUED)

    token, claimed = claim(song)

    song.refresh_from_db()
    assert claimed == [song]
    assert song.analysis_status == Song.Analysis.ANALYSING
    assert song.analysis_claim == token
    assert song.analysis_attempts == 1
    assert timezone.now() - song.analysis_heartbeat_at < timedelta(minutes=1)


@pytest.mark.parametrize("status", [Song.Analysis.PENDING, Song.Analysis.DONE, Song.Analysis.FAILED])
def test_a_song_that_is_not_queued_is_not_claimed(status):
    song = make_song(analysis_status=status)

    assert claim(song)[1] == []
    song.refresh_from_db()
    assert song.analysis_status == status


def test_only_the_holder_of_a_claim_can_fail_the_song():
    song = make_song(analysis_status=Song.Analysis.QUEUED)
    token, (claimed,) = claim(song)

    _fail(claimed, "an old worker's verdict", uuid.uuid4())
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.ANALYSING

    _fail(claimed, "damaged", token)
    song.refresh_from_db()
    assert (song.analysis_status, song.analysis_error, song.analysis_claim) == (Song.Analysis.FAILED, "damaged", None)


def test_owners_take_turns_in_the_queue(alice, bob):
    alices = [make_song(title=f"Alice {n}", owner=alice, in_catalogue=False) for n in range(4)]
    bobs = make_song(title="Bob 1", owner=bob, in_catalogue=False)
    imported = make_song(title="Imported 1")
    for song in [*alices, bobs, imported]:
        Song.objects.filter(pk=song.pk).update(analysis_status=Song.Analysis.QUEUED)

    order = [song_id for song_id, _ in next_in_fair_order(10)]

    assert order == [alices[0].pk, bobs.pk, imported.pk, alices[1].pk, alices[2].pk, alices[3].pk]


def test_a_heartbeat_keeps_a_slow_claim_alive_and_stops_with_the_work(monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT", timedelta(seconds=0.05))
    song = make_song(analysis_status=Song.Analysis.QUEUED)
    token, _ = claim(song)
    Song.objects.filter(pk=song.pk).update(analysis_heartbeat_at=long_ago())

    with jobs._heartbeat(token):
        deadline = time.monotonic() + 30
        while Song.objects.get(pk=song.pk).analysis_heartbeat_at < timezone.now() - STALE_AFTER:
            assert time.monotonic() < deadline, "no heartbeat came"
            time.sleep(0.05)
    # The work is over: nothing renews the claim any more.
    Song.objects.filter(pk=song.pk).update(analysis_heartbeat_at=long_ago())
    time.sleep(0.2)

    song.refresh_from_db()
    assert song.analysis_heartbeat_at < timezone.now() - STALE_AFTER


# The worker


@pytest.mark.slow
def test_a_worker_marks_a_corrupt_file_failed_with_a_reason_and_goes_on_to_the_next(analysis_queue):
    corrupt = make_song(title="Corrupt")
    Path(corrupt.audio.path).write_bytes(np.random.default_rng(3).bytes(20_000))
    healthy = make_song(title="Healthy")
    queue_analysis([corrupt.pk, healthy.pk])

    run_analysis_worker()

    corrupt.refresh_from_db()
    healthy.refresh_from_db()
    assert corrupt.analysis_status == Song.Analysis.FAILED
    assert corrupt.analysis_error == "not readable as WAV audio: the file is damaged or not audio"
    assert healthy.analysis_status == Song.Analysis.DONE, healthy.analysis_error
    assert not Embedding.objects.filter(song=corrupt).exists()


@pytest.mark.slow
def test_a_worker_fails_a_song_too_short_to_analyse_with_the_reason(settings, analysis_queue):
    """Imported songs are not refused for their length: the worker must not give a 0.2-second click a genre."""
    settings.MUSREC_MIN_ANALYSIS_SECONDS = 3
    click = make_song(title="Click", seconds=0.2)
    queue_analysis([click.pk])

    run_analysis_worker()

    click.refresh_from_db()
    assert click.analysis_status == Song.Analysis.FAILED
    assert click.analysis_error == "too short to analyse: 0.2 seconds, and the least is 3 seconds"
    assert not Embedding.objects.filter(song=click).exists()
    assert not click.predicted_genres.exists()


@pytest.mark.slow
def test_songs_analysed_together_in_one_pass_get_the_vectors_each_gets_alone(settings, analysis_queue):
    # The GPU path (several queued songs per forward pass), run on the CPU by asking for it.
    songs = [make_song(title=f"Batch {i}") for i in range(3)]
    corrupt = make_song(title="Corrupt")
    Path(corrupt.audio.path).write_bytes(np.random.default_rng(3).bytes(20_000))
    missing = make_song(title="Missing")
    Path(missing.audio.path).unlink()
    batch = [songs[0], corrupt, songs[1], missing, songs[2]]
    queue_analysis([song.pk for song in batch])
    settings.MUSREC_BATCH_SONGS = len(batch)

    # The first song in fair order, then the others in the order they were added.
    assert analyse_song(songs[0].pk) == f"analysed {', '.join(str(pk) for pk in sorted(s.pk for s in batch))}"
    assert run_analysis_worker()  # the other jobs find their songs taken and do nothing

    together = {song.pk: np.array(song.embeddings.get().vector) for song in songs}
    assert Song.objects.get(pk=corrupt.pk).analysis_status == Song.Analysis.FAILED
    assert Song.objects.get(pk=missing.pk).analysis_error == "the audio file is missing from storage"
    settings.MUSREC_BATCH_SONGS = 1
    queue_analysis([song.pk for song in songs])  # analysed again, one per pass
    run_analysis_worker()
    for song in songs:
        alone = np.array(song.embeddings.get().vector)
        np.testing.assert_allclose(together[song.pk], alone, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_worker_marks_a_song_whose_file_is_missing_failed(analysis_queue):
    song = make_song()
    Path(song.audio.path).unlink()
    queue_analysis([song.pk])

    run_analysis_worker()

    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.FAILED
    assert song.analysis_error == "the audio file is missing from storage"


@pytest.mark.slow
def test_a_song_without_genre_tags_gets_a_predicted_genre_and_a_tagged_one_does_not(analysis_queue):
    untagged = make_song(title="Untagged")
    tagged = make_song(title="Tagged", genres=["Chiptune"])
    queue_analysis([untagged.pk, tagged.pk])

    run_analysis_worker()

    predicted = list(untagged.predicted_genres.all())
    assert len(predicted) == 1
    assert not tagged.predicted_genres.exists()
    assert list(Song.objects.in_genre(predicted[0])) == [untagged]


@pytest.mark.slow
def test_the_browse_genre_filter_finds_a_song_by_its_predicted_genre(alice_client, analysis_queue):
    untagged = make_song(title="Untagged")
    make_song(title="Tagged", genres=["Chiptune"])
    queue_analysis(Song.objects.values_list("pk", flat=True))
    run_analysis_worker()
    genre = untagged.predicted_genres.get()

    response = alice_client.get(reverse("catalog:song_list"), {"genre": genre.slug})

    assert [song.pk for song in response.context["page"]] == [untagged.pk]
    assert "Untagged" in response.content.decode() and "Tagged" not in response.content.decode()


@pytest.mark.slow
def test_progress_is_100_once_a_song_is_analysed(analysis_queue):
    song = make_queued_song()
    assert song.analysis_progress == 0

    run_analysis_worker()

    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE
    assert song.analysis_progress == 100
    assert song.analysed_at is not None


# The catalogue's progress


def test_the_progress_partial_counts_analysed_songs_in_the_catalogue(alice_client, alice):
    make_song(analysis_status=Song.Analysis.DONE)
    make_song(analysis_status=Song.Analysis.DONE)
    make_song(analysis_status=Song.Analysis.QUEUED)
    make_song(analysis_status=Song.Analysis.FAILED)
    make_song(analysis_status=Song.Analysis.DONE, owner=alice, in_catalogue=False)

    response = alice_client.get(reverse("recommender:analysis_progress"), headers={"HX-Request": "true"})

    text = response.content.decode()
    assert "2 of 4 songs analysed · 1 in progress · 1 failed" in text
    assert '<progress max="100" value="50"' in text
    assert "every 5s" in text


def test_the_progress_partial_stops_polling_when_nothing_is_left_to_do(alice_client):
    make_song(analysis_status=Song.Analysis.DONE)

    response = alice_client.get(reverse("recommender:analysis_progress"), headers={"HX-Request": "true"})

    text = response.content.decode()
    assert "1 of 1 songs analysed" in text
    assert "hx-trigger" not in text


def test_the_progress_partial_is_for_logged_in_people(client):
    response = client.get(reverse("recommender:analysis_progress"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# reconcile


def test_reconcile_requeues_a_song_stuck_analysing(analysis_queue):
    song = make_song(analysis_status=Song.Analysis.ANALYSING, analysis_started_at=long_ago(), analysis_progress=20)

    counts = reconcile()

    song.refresh_from_db()
    assert counts["revived"] == 1
    assert song.analysis_status == Song.Analysis.QUEUED
    assert song.analysis_progress == 0
    assert queued_job_ids(analysis_queue) == {job_id_for(song.pk)}


def test_a_song_whose_claims_died_three_times_fails_with_the_reason(analysis_queue):
    song = make_song(
        analysis_status=Song.Analysis.ANALYSING, analysis_heartbeat_at=long_ago(), analysis_attempts=MAX_ATTEMPTS
    )

    reconcile()

    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.FAILED
    assert f"stopped {MAX_ATTEMPTS} times without finishing" in song.analysis_error
    assert not queued_job_ids(analysis_queue)


def test_a_song_whose_heartbeat_is_recent_is_left_to_its_worker(analysis_queue):
    song = make_song(
        analysis_status=Song.Analysis.ANALYSING, analysis_started_at=long_ago(), analysis_heartbeat_at=timezone.now()
    )

    assert reconcile()["revived"] == 0
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.ANALYSING


@pytest.mark.slow
def test_a_retried_song_is_analysed_alone_so_a_crash_takes_no_other_song_down(settings, analysis_queue):
    settings.MUSREC_BATCH_SONGS = 4
    retried = make_song(title="Crashed once")
    others = [make_song(title=f"Innocent {n}") for n in range(3)]
    queue_analysis([retried.pk, *(s.pk for s in others)])
    Song.objects.filter(pk=retried.pk).update(analysis_attempts=1)

    first = analyse_song(retried.pk)
    second = analyse_song(others[0].pk)

    assert first == f"analysed {retried.pk}"
    assert second == f"analysed {', '.join(str(s.pk) for s in others)}"


def test_reconcile_leaves_a_song_a_live_worker_is_analysing(analysis_queue):
    song = make_song(analysis_status=Song.Analysis.ANALYSING, analysis_started_at=timezone.now())

    counts = reconcile()

    song.refresh_from_db()
    assert counts == {"revived": 0, "recombined": 0, "queued": 0, "requeued": 0}
    assert song.analysis_status == Song.Analysis.ANALYSING
    assert analysis_queue.count == 0


@pytest.mark.slow
def test_reconcile_enqueues_again_a_queued_song_whose_job_redis_lost(analysis_queue):
    song = make_queued_song()
    assert queued_job_ids(analysis_queue) == {job_id_for(song.pk)}
    # What a Redis restart without persistence leaves: no queue entry and no job hash.
    analysis_queue.empty()
    analysis_queue.connection.delete(Job.key_for(job_id_for(song.pk)))
    assert not Job.exists(job_id_for(song.pk), connection=analysis_queue.connection)

    counts = reconcile()

    assert counts["requeued"] == 1
    assert queued_job_ids(analysis_queue) == {job_id_for(song.pk)}
    run_analysis_worker()
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE


def test_reconcile_does_not_enqueue_a_queued_song_twice(analysis_queue):
    song = make_queued_song()

    counts = reconcile()

    assert counts == {"revived": 0, "recombined": 0, "queued": 0, "requeued": 0}
    assert analysis_queue.get_job_ids() == [job_id_for(song.pk)]


def test_reconcile_queues_songs_never_analysed(analysis_queue):
    pending = make_song()

    counts = reconcile()

    pending.refresh_from_db()
    assert counts["queued"] == 1
    assert pending.analysis_status == Song.Analysis.QUEUED
    assert queued_job_ids(analysis_queue) == {job_id_for(pending.pk)}


@pytest.mark.slow
def test_reconcile_queues_songs_the_active_model_has_not_analysed(analysis_queue):
    song = make_queued_song()
    up_to_date = make_queued_song()
    run_analysis_worker()
    # A model switch: the song's only embedding now belongs to another model.
    Embedding.objects.filter(song=song).update(model="some_other_model@1:penultimate:w12")

    counts = reconcile()

    song.refresh_from_db()
    up_to_date.refresh_from_db()
    assert counts["queued"] == 1
    assert song.analysis_status == Song.Analysis.QUEUED
    assert up_to_date.analysis_status == Song.Analysis.DONE
    run_analysis_worker()
    # The old vector is of no use to any query and would only slow the shared HNSW index down.
    assert list(Embedding.objects.filter(song=song).values_list("model", flat=True)) == [active_model_key()]


def test_new_statistics_recombine_the_stored_raw_vectors_without_analysing_again(analysis_queue):
    card = load_card(settings.MUSREC_MODEL)
    raw = np.random.default_rng(0).normal(size=card.dimensions).astype(np.float32)
    song = make_song(analysis_status=Song.Analysis.DONE)
    earlier_key = active_model_key().replace(f"@{card.version}:", "@0:")
    Embedding.objects.create(
        song=song, model=earlier_key, vector=np.ones(card.dimensions), raw_vector=raw, tag_scores={"rock": 0.5}
    )
    # Another layer's vector cannot be recombined: that song is analysed again.
    other = make_song(analysis_status=Song.Analysis.DONE)
    Embedding.objects.create(
        song=other, model=earlier_key.replace(":penultimate:", ":mean_pool:"), vector=np.ones(4), raw_vector=raw
    )

    counts = reconcile()

    assert counts["recombined"] == 1
    assert counts["queued"] == 1
    embedding = Embedding.objects.get(song=song)
    assert embedding.model == active_model_key()
    expected = card.combine({name: part[None] for name, part in card.split_raw(raw).items()})[0]
    assert np.allclose(embedding.vector, expected, atol=1e-6)
    assert embedding.tag_scores == {"rock": 0.5}
    song.refresh_from_db()
    other.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE
    assert other.analysis_status == Song.Analysis.QUEUED


def test_reconcile_leaves_failed_songs_alone(analysis_queue):
    song = make_song(analysis_status=Song.Analysis.FAILED, analysis_error="the file is silent")

    counts = reconcile()

    song.refresh_from_db()
    assert counts == {"revived": 0, "recombined": 0, "queued": 0, "requeued": 0}
    assert song.analysis_status == Song.Analysis.FAILED
    assert song.analysis_error == "the file is silent"
    assert analysis_queue.count == 0


def test_the_reconcile_command_prints_what_it_did(analysis_queue):
    make_song(analysis_status=Song.Analysis.ANALYSING, analysis_started_at=long_ago())
    make_song()
    make_song()
    out = io.StringIO()

    call_command("reconcile_analysis", stdout=out)

    # The stuck song gets a new job as it is revived, so no queued song is left without one.
    assert out.getvalue().strip() == (
        "Back to the queue: 1 stuck while analysing, 0 queued without a job; newly queued: 2; "
        "given the new statistics' vectors without analysis: 0."
    )
    assert analysis_queue.count == 3


# The admin action


@pytest.fixture
def staff_client(db) -> Client:
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    client = Client()
    client.login(request=HttpRequest(), username="admin", password=PASSWORD)  # django-axes needs the request
    return client


@pytest.mark.slow
def test_the_admin_action_analyses_a_failed_song_again(staff_client, analysis_queue):
    failed = make_song(analysis_status=Song.Analysis.FAILED, analysis_error="the file is silent")
    analysing = make_song(analysis_status=Song.Analysis.ANALYSING, analysis_started_at=timezone.now())

    response = staff_client.post(
        reverse("admin:catalog_song_changelist"),
        {"action": "analyse_again", "_selected_action": [failed.pk, analysing.pk]},
        follow=True,
    )

    failed.refresh_from_db()
    analysing.refresh_from_db()
    assert "1 song queued for analysis." in response.content.decode()
    assert failed.analysis_status == Song.Analysis.QUEUED
    assert failed.analysis_error == ""
    assert analysing.analysis_status == Song.Analysis.ANALYSING
    assert queued_job_ids(analysis_queue) == {job_id_for(failed.pk)}
    run_analysis_worker()
    failed.refresh_from_db()
    assert failed.analysis_status == Song.Analysis.DONE


@pytest.mark.slow
def test_a_song_deleted_while_it_was_analysed_is_dropped_quietly(media_root):
    song = make_song(analysis_status=Song.Analysis.QUEUED)
    token, (claimed,) = claim(song)
    audio = Path(song.audio.path)
    data = audio.read_bytes()
    Song.objects.filter(pk=song.pk).delete()
    # As if the worker had opened the file before the upload was deleted.
    audio.write_bytes(data)

    _analyse_claimed([claimed], get_embedder(settings.MUSREC_MODEL), token)

    assert not Song.objects.filter(pk=song.pk).exists()
    assert not Embedding.objects.exists()
    assert not list(Path(media_root).rglob("*.png"))


@pytest.mark.slow
def test_a_song_queued_again_while_it_was_analysed_keeps_its_new_state(media_root):
    song = make_song(analysis_status=Song.Analysis.QUEUED)
    token, (claimed,) = claim(song)
    Song.objects.filter(pk=song.pk).update(analysis_status=Song.Analysis.QUEUED)

    _analyse_claimed([claimed], get_embedder(settings.MUSREC_MODEL), token)

    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.QUEUED
    assert not Embedding.objects.exists()
