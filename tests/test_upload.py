from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from catalog.importer import import_file
from catalog.models import Playlist, Song
from recommender.jobs import queue_analysis
from recommender.models import Embedding, active_model_key
from tests.conftest import run_analysis_worker
from tests.factories import write_audio

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def analysed_catalogue(tmp_path, analysis_queue) -> list[Song]:
    folder = tmp_path / "catalogue"
    folder.mkdir()
    songs = []
    for i in range(8):
        path = write_audio(folder / f"song{i}.ogg", seconds=6, seed=i, title=f"Tune {i}", artist=f"Band {i % 4}")
        songs.append(Song.objects.get(pk=import_file(path).song_id))
    queue_analysis([s.pk for s in songs])
    run_analysis_worker()
    return songs


def upload(client: Client, path: Path):
    with path.open("rb") as handle:
        return client.post(reverse("recommender:upload"), {"audio": handle})


def test_an_upload_is_analysed_by_the_worker_and_gets_a_playlist_that_can_be_saved(
    alice_client, analysed_catalogue, tmp_path
):
    assert {s.analysis_status for s in Song.objects.all()} == {Song.Analysis.DONE}
    favourite = write_audio(tmp_path / "favourite.mp3", seconds=8, seed=42, title="My Favourite")

    response = upload(alice_client, favourite)

    song = Song.objects.get(title="My Favourite")
    assert response.status_code == 302
    assert response.url == reverse("recommender:upload_detail", args=[song.pk])
    assert song.owner.username == "alice" and not song.in_catalogue
    assert song.analysis_status == Song.Analysis.QUEUED
    page = alice_client.get(response.url)
    assert b"Queued for analysis" in page.content

    run_analysis_worker()

    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE, song.analysis_error
    embedding = Embedding.objects.get(song=song, model=active_model_key())
    assert len(embedding.tag_scores) == 50
    page = alice_client.get(reverse("recommender:upload_detail", args=[song.pk]), {"n": 5})
    playlist = page.context["playlist"]
    assert len(playlist) == 5
    assert song not in playlist
    assert all(s.in_catalogue for s in playlist)
    assert [s.similarity for s in playlist] == sorted((s.similarity for s in playlist), reverse=True)
    assert b"Songs that sound like it" in page.content
    assert alice_client.get(reverse("recommender:spectrogram", args=[song.pk]))["Content-Type"] == "image/png"

    saved = alice_client.post(reverse("recommender:save_playlist", args=[song.pk]), {"name": "Sunday", "n": 5})

    playlist_row = Playlist.objects.get(owner__username="alice")
    assert saved.url == playlist_row.get_absolute_url()
    assert playlist_row.name == "Sunday"
    assert [item.song_id for item in playlist_row.items.all()] == [s.pk for s in playlist]
