from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from catalog.importer import import_file
from catalog.models import Genre, Playlist, Song
from recommender.core.hubs import CSLS_WEIGHT
from recommender.forms import PLAYLIST_SIZES
from recommender.jobs import queue_analysis
from recommender.models import Embedding, active_dimensions, active_model_key
from tests.conftest import run_analysis_worker
from tests.factories import ANALYSABLE_SECONDS, make_song, synth_signal, write_audio

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


def upload_bytes(client: Client, name: str, data: bytes):
    return client.post(reverse("recommender:upload"), {"audio": SimpleUploadedFile(name, data)})


def upload_with_raw_name(client: Client, filename: str, data: bytes):
    """A multipart body written by hand: Django's test client would clean the file name before sending it."""
    boundary = "musrec-test-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="audio"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(reverse("recommender:upload"), body, content_type=f"multipart/form-data; boundary={boundary}")


def stored_files(media_root: Path) -> list[Path]:
    return sorted(path for path in Path(media_root).rglob("*") if path.is_file())


def assert_nothing_was_stored(media_root: Path, queue) -> None:
    assert not Song.objects.exists()
    assert stored_files(media_root) == []
    assert queue.count == 0


def page_text(response) -> str:
    return response.content.decode()


def wav_bytes(*, seconds: float = ANALYSABLE_SECONDS, seed: int = 0, sample_rate: int = 8000) -> bytes:
    """A 16-bit mono WAV: 16,000 bytes a second at the default rate."""
    buffer = io.BytesIO()
    sf.write(buffer, synth_signal(seconds=seconds, seed=seed, sample_rate=sample_rate), sample_rate, format="WAV")
    return buffer.getvalue()


def unit_vector(rng: np.random.Generator, near: np.ndarray | None = None, spread: float = 0.1) -> list[float]:
    vector = rng.standard_normal(active_dimensions())
    if near is not None:
        vector = near + spread * vector / np.linalg.norm(vector)
    return (vector / np.linalg.norm(vector)).tolist()


def embed(song: Song, vector: list[float]) -> Embedding:
    return Embedding.objects.create(song=song, model=active_model_key(), vector=vector)


@pytest.fixture
def alices_upload(alice) -> Song:
    """Alice's private, analysed upload with a spectrogram, made by hand (no model needed)."""
    song = make_song(
        title="Secret Demo",
        owner=alice,
        in_catalogue=False,
        analysis_status=Song.Analysis.DONE,
        analysis_progress=100,
    )
    song.spectrogram.save("secret.png", ContentFile(b"\x89PNG\r\n\x1a\n not really"), save=True)
    embed(song, unit_vector(np.random.default_rng(0)))
    return song


def make_embedded_songs(count: int, *, seed: int = 1) -> list[Song]:
    """Analysed catalogue songs, two per artist, alternately Rock and Jazz, with seeded random embeddings."""
    rng = np.random.default_rng(seed)
    songs = []
    for i in range(count):
        song = make_song(
            title=f"Catalogue {i}",
            artist=f"Artist {i // 2}",
            genres=["Jazz" if i % 2 else "Rock"],
            analysis_status=Song.Analysis.DONE,
        )
        embed(song, unit_vector(rng))
        songs.append(song)
    return songs


@pytest.fixture
def embedded_catalogue(alices_upload) -> list[Song]:
    """Enough songs for the largest playlist (50) even at two per artist."""
    return make_embedded_songs(60)


@pytest.fixture
def small_catalogue(alices_upload) -> list[Song]:
    return make_embedded_songs(4)


def playlist_of(client: Client, song: Song, **params: object) -> list[Song]:
    response = client.get(reverse("recommender:upload_detail", args=[song.pk]), params)
    assert response.status_code == 200
    return response.context["playlist"]


# The end-to-end path


@pytest.mark.slow
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
    assert len(embedding.tag_scores) == 100  # both networks
    page = alice_client.get(reverse("recommender:upload_detail", args=[song.pk]), {"n": 5})
    playlist = page.context["playlist"]
    assert len(playlist) == 5
    assert song not in playlist
    assert all(s.in_catalogue for s in playlist)
    # Ranked by CSLS (recommender/core/hubs.py): similarity less half of each song's neighbour similarity r.
    r = dict(
        Embedding.objects.filter(song__in=playlist, model=active_model_key()).values_list(
            "song", "neighbour_similarity"
        )
    )
    known = [value for value in r.values() if value is not None]
    fallback = sum(known) / len(known) if known else 0.0
    scores = [s.similarity - CSLS_WEIGHT * (fallback if r[s.pk] is None else r[s.pk]) for s in playlist]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(scores))
    assert b"Songs that sound like it" in page.content
    assert alice_client.get(reverse("recommender:spectrogram", args=[song.pk]))["Content-Type"] == "image/png"

    saved = alice_client.post(reverse("recommender:save_playlist", args=[song.pk]), {"name": "Sunday", "n": 5})

    playlist_row = Playlist.objects.get(owner__username="alice")
    assert saved.url == playlist_row.get_absolute_url()
    assert playlist_row.name == "Sunday"
    assert [item.song_id for item in playlist_row.items.all()] == [s.pk for s in playlist]


# Files that cannot be used


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        pytest.param(
            "notes.mp3",
            b"Shopping list: milk, eggs, a new guitar string\n" * 100,
            "This file cannot be used: not readable as MP3 audio: the file is damaged or not audio.",
            id="text-renamed-mp3",
        ),
        pytest.param(
            "page.ogg",
            b"<!doctype html><html><head><title>Hi</title></head><body><p>Not a song</p></body></html>\n" * 50,
            "This file cannot be used: not readable as OGG audio: the file is damaged or not audio.",
            id="html-renamed-ogg",
        ),
        pytest.param(
            "noise.flac",
            np.random.default_rng(7).bytes(64 * 1024),
            "This file cannot be used: not readable as FLAC audio: the file is damaged or not audio.",
            id="random-bytes-flac",
        ),
        pytest.param("empty.mp3", b"", "The submitted file is empty.", id="zero-length"),
        pytest.param(
            "setup.exe",
            b"MZ\x90\x00" + bytes(4096),
            "Musrec cannot read .exe files. Upload MP3, Ogg, Opus, FLAC, WAV, AIFF, m4a or AAC.",
            id="exe",
        ),
        pytest.param(
            "README",
            b"RIFF....WAVEfmt " + bytes(4096),
            "Musrec cannot read files without an extension. Upload MP3, Ogg, Opus, FLAC, WAV, AIFF, m4a or AAC.",
            id="no-extension",
        ),
    ],
)
def test_a_file_that_is_not_usable_audio_is_refused_with_a_reason_and_nothing_is_stored(
    alice_client, media_root, analysis_queue, name, data, message
):
    response = upload_bytes(alice_client, name, data)

    assert response.status_code == 400
    assert escape(message) in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_a_truncated_flac_file_is_refused_as_damaged(alice_client, media_root, analysis_queue, tmp_path):
    whole = write_audio(tmp_path / "whole.flac", seconds=6).read_bytes()

    response = upload_bytes(alice_client, "cut.flac", whole[: len(whole) // 3])

    assert response.status_code == 400
    assert "This file cannot be used: the audio data is damaged or truncated." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


@pytest.mark.slow
def test_a_truncated_mp3_is_accepted_and_analysed_from_the_frames_it_still_has(alice_client, analysis_queue, tmp_path):
    # MP3 is a stream of independent frames: libsndfile (mpg123) decodes the first third and reads
    # silence past the end, so this file is usable. Its stored duration is the one its Xing header claims.
    whole = write_audio(tmp_path / "whole.mp3", seconds=6).read_bytes()

    response = upload_bytes(alice_client, "cut.mp3", whole[: len(whole) // 3])

    song = Song.objects.get()
    assert response.status_code == 302
    assert song.analysis_status == Song.Analysis.QUEUED
    run_analysis_worker()
    song.refresh_from_db()
    assert song.analysis_status == Song.Analysis.DONE, song.analysis_error


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(alice_client, settings, media_root, analysis_queue):
    settings.MUSREC_UPLOAD_MAX_MB = 1

    response = upload_bytes(alice_client, "big.wav", wav_bytes(seconds=2 * 1024 * 1024 / 16000))

    assert response.status_code == 413
    assert "The file is larger than the 1 MB limit." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_a_file_just_over_the_size_limit_is_refused_while_it_is_read(
    alice_client, settings, media_root, analysis_queue
):
    settings.MUSREC_UPLOAD_MAX_MB = 1
    data = wav_bytes(seconds=1.03 * 1024 * 1024 / 16000)

    response = upload_bytes(alice_client, "big.wav", data)

    assert response.status_code == 413
    assert "The file is larger than the 1 MB limit." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_a_song_over_the_duration_limit_is_refused_naming_the_limit(alice_client, settings, media_root, analysis_queue):
    settings.MUSREC_UPLOAD_MAX_MINUTES = 1

    response = upload_bytes(alice_client, "long.wav", wav_bytes(seconds=70))

    assert response.status_code == 400
    assert "This file cannot be used: too long: 70 seconds, the limit is 60 seconds." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_a_file_too_short_to_analyse_is_refused_naming_the_least(alice_client, settings, media_root, analysis_queue):
    settings.MUSREC_MIN_ANALYSIS_SECONDS = 3

    response = upload_bytes(alice_client, "click.wav", wav_bytes(seconds=0.2))

    assert response.status_code == 400
    assert "This file cannot be used: too short to analyse: 0.2 seconds, and the least is 3 seconds." in page_text(
        response
    )
    assert_nothing_was_stored(media_root, analysis_queue)


# File names


@pytest.mark.parametrize(
    ("sent_name", "kept_name"),
    [
        pytest.param("Für Élise — 東京.wav", "Für Élise — 東京.wav", id="unicode"),
        pytest.param('Don\'t \\"stop\\".wav', 'Don\'t "stop".wav', id="quotes"),
        pytest.param("../../etc/passwd.wav", "passwd.wav", id="path-traversal"),
        pytest.param("C:\\\\Users\\\\me\\\\song.wav", "song.wav", id="windows-path"),
        pytest.param("nul\x00byte.wav", "nulbyte.wav", id="nul-byte"),
        pytest.param("<b onmouseover=alert(1)>hi.wav", "<b onmouseover=alert(1)>hi.wav", id="html"),
    ],
)
def test_an_odd_file_name_is_kept_as_text_and_never_used_as_a_path(
    alice_client, media_root, analysis_queue, sent_name, kept_name
):
    response = upload_with_raw_name(alice_client, sent_name, wav_bytes())

    song = Song.objects.get()
    assert response.status_code == 302
    assert song.original_filename == kept_name
    assert stored_files(media_root) == [Path(media_root) / song.audio.name]
    assert song.audio.name == f"songs/{song.content_hash[:2]}/{song.content_hash}.wav"
    page = page_text(alice_client.get(response.url))
    assert escape(kept_name) in page
    assert "<b onmouseover" not in page
    assert analysis_queue.count == 1


def test_a_very_long_file_name_is_shortened_keeping_its_extension(alice_client, media_root):
    response = upload_with_raw_name(alice_client, "la" * 200 + ".wav", wav_bytes())

    song = Song.objects.get()
    assert response.status_code == 302
    assert len(song.original_filename) <= 255 and song.original_filename.endswith(".wav")
    assert song.title.startswith("Lala")
    assert stored_files(media_root) == [Path(media_root) / song.audio.name]


@pytest.mark.parametrize("name", ["..", "/", "."])
def test_a_file_name_that_is_only_a_path_counts_as_no_file(alice_client, media_root, analysis_queue, name):
    response = upload_with_raw_name(alice_client, name, wav_bytes())

    assert response.status_code == 400
    assert "This field is required." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


# Hostile form data


@pytest.mark.parametrize("data", [{}, {"title": "no file here"}], ids=["empty-post", "other-field"])
def test_a_post_without_the_file_field_asks_for_a_file(alice_client, media_root, analysis_queue, data):
    response = alice_client.post(reverse("recommender:upload"), data)

    assert response.status_code == 400
    assert "This field is required." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_extra_fields_cannot_make_an_upload_public_analysed_or_someone_elses(alice_client, bob, analysis_queue):
    response = alice_client.post(
        reverse("recommender:upload"),
        {
            "audio": SimpleUploadedFile("mine.wav", wav_bytes()),
            "owner": bob.pk,
            "in_catalogue": "on",
            "analysis_status": "done",
            "title": "Not My Title",
        },
    )

    song = Song.objects.get()
    assert response.status_code == 302
    assert song.owner.username == "alice"
    assert not song.in_catalogue
    assert song.analysis_status == Song.Analysis.QUEUED
    assert song.title == "Mine"
    assert analysis_queue.count == 1


def test_a_form_field_over_the_request_size_limit_is_refused(alice_client, media_root, analysis_queue):
    response = alice_client.post(
        reverse("recommender:upload"),
        {"audio": SimpleUploadedFile("song.wav", wav_bytes()), "note": "x" * (3 * 1024 * 1024)},
    )

    assert response.status_code == 413
    assert "The request is too large." in page_text(response)
    assert_nothing_was_stored(media_root, analysis_queue)


def test_two_files_in_one_field_store_only_one_song(alice_client, analysis_queue):
    files = [SimpleUploadedFile("one.wav", wav_bytes(seed=1)), SimpleUploadedFile("two.wav", wav_bytes(seed=2))]

    response = alice_client.post(reverse("recommender:upload"), {"audio": files})

    assert response.status_code == 302
    assert Song.objects.count() == 1
    assert analysis_queue.count == 1


@pytest.mark.parametrize("view", ["recommender:upload_delete", "recommender:upload_share", "recommender:save_playlist"])
def test_actions_refuse_a_get_and_change_nothing(alice_client, alices_upload, view):
    response = alice_client.get(reverse(view, args=[alices_upload.pk]))

    assert response.status_code == 405
    alices_upload.refresh_from_db()
    assert not alices_upload.in_catalogue
    assert not Playlist.objects.exists()


def test_an_upload_without_a_csrf_token_is_forbidden(alice, media_root, analysis_queue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = upload_bytes(client, "song.wav", wav_bytes())

    assert response.status_code == 403
    assert_nothing_was_stored(media_root, analysis_queue)


# What happens after an upload


@pytest.mark.slow
def test_a_silent_file_uploads_but_its_analysis_fails_and_the_worker_goes_on_to_the_next(
    alice_client, media_root, analysis_queue
):
    silence = io.BytesIO()
    sf.write(silence, np.zeros(4 * 8000, dtype=np.float32), 8000, format="WAV")
    silent_response = upload_bytes(alice_client, "silence.wav", silence.getvalue())
    upload_bytes(alice_client, "music.wav", wav_bytes(seconds=4))
    silent, music = Song.objects.get(title="Silence"), Song.objects.get(title="Music")
    assert analysis_queue.count == 2

    run_analysis_worker()

    silent.refresh_from_db()
    music.refresh_from_db()
    assert silent.analysis_status == Song.Analysis.FAILED
    assert music.analysis_status == Song.Analysis.DONE, music.analysis_error
    page = alice_client.get(silent_response.url)
    assert "The analysis failed: the file is silent." in page_text(page)
    assert page.context["playlist"] == []
    silent_file = Path(silent.audio.path)
    assert silent_file.exists()

    deleted = alice_client.post(reverse("recommender:upload_delete", args=[silent.pk]))

    assert deleted.url == reverse("recommender:upload")
    assert not Song.objects.filter(pk=silent.pk).exists()
    assert not silent_file.exists()
    assert Path(music.audio.path).exists()
    assert "“Silence” was deleted." in page_text(alice_client.get(deleted.url))


def test_uploading_the_same_file_twice_leads_back_to_the_first_upload(alice_client, analysis_queue, media_root):
    data = wav_bytes()
    first = upload_bytes(alice_client, "again.wav", data)

    second = upload_bytes(alice_client, "again (copy).wav", data)

    song = Song.objects.get()
    assert second.status_code == 302
    assert second.url == first.url == reverse("recommender:upload_detail", args=[song.pk])
    assert song.original_filename == "again.wav"
    assert analysis_queue.count == 1
    assert len(stored_files(media_root)) == 1
    assert "You uploaded this file before; here it is again." in page_text(alice_client.get(second.url))


# The playlist


@pytest.mark.parametrize("n", PLAYLIST_SIZES)
def test_every_offered_playlist_size_gives_that_many_songs(alice_client, alices_upload, embedded_catalogue, n):
    response = alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk]), {"n": n})

    assert len(response.context["playlist"]) == n
    assert f'<option value="{n}" selected>{n}</option>' in page_text(response)
    assert f'<input type="hidden" name="n" value="{n}">' in page_text(response)


def test_the_progress_poll_makes_no_nearest_neighbour_query_but_the_playlist_request_does(
    alice_client, alices_upload, small_catalogue
):
    url = reverse("recommender:upload_detail", args=[alices_upload.pk])

    def knn_queries(target: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(url, headers={"HX-Request": "true", "HX-Target": target})
        assert response.status_code == 200
        return sum("WITH audio AS MATERIALIZED" in q["sql"] for q in queries)

    assert knn_queries("analysis") == 0
    # One search, and a second, exact look: the small catalogue has fewer songs than the playlist asks for.
    assert knn_queries("playlist") == 2


@pytest.mark.parametrize("target", ["analysis", "playlist"])
def test_htmx_refreshing_one_part_of_the_upload_page_gets_only_that_part(
    alice_client, alices_upload, small_catalogue, target
):
    url = reverse("recommender:upload_detail", args=[alices_upload.pk])

    body = page_text(alice_client.get(url, headers={"HX-Request": "true", "HX-Target": target}))

    assert body.lstrip().startswith(f'<section id="{target}"')
    assert "<html" not in body


@pytest.mark.parametrize("target", ["analysis", "playlist", None])
def test_a_boosted_link_to_the_upload_page_gets_the_whole_page(alice_client, alices_upload, small_catalogue, target):
    """Boosted navigation is a whole page, whatever element it names: the player swaps it into #page."""
    url = reverse("recommender:upload_detail", args=[alices_upload.pk])
    headers = {"HX-Request": "true", "HX-Boosted": "true", **({"HX-Target": target} if target else {})}

    body = page_text(alice_client.get(url, headers=headers))

    assert "<html" in body
    assert '<section id="analysis"' in body
    assert '<section id="playlist"' in body
    assert "Songs that sound like it" in body


def test_the_analysis_gives_the_loudness_in_lufs(alice_client, alices_upload):
    Song.objects.filter(pk=alices_upload.pk).update(loudness_db=-14.26)

    body = page_text(alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk])))

    assert "<dt>Loudness</dt><dd>-14.3 LUFS</dd>" in body
    assert "dBFS" not in body


def test_deleting_an_upload_asks_first(alice_client, alices_upload):
    body = page_text(alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk])))

    assert 'hx-confirm="Delete your upload “Secret Demo”? This cannot be undone."' in body


@pytest.mark.parametrize("n", ["3", "1000", "abc", "", "7", "-10", "10.5"])
def test_a_playlist_size_that_is_not_offered_falls_back_to_ten(alice_client, alices_upload, embedded_catalogue, n):
    response = alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk]), {"n": n})

    assert len(response.context["playlist"]) == 10
    assert '<option value="10" selected>10</option>' in page_text(response)


def test_the_genre_filter_narrows_the_playlist_to_that_genre(alice_client, alices_upload, embedded_catalogue):
    jazz = Genre.objects.get(slug="jazz")

    playlist = playlist_of(alice_client, alices_upload, genre="jazz", n=20)

    assert len(playlist) == 20
    assert all(list(song.genres.all()) == [jazz] for song in playlist)
    assert not {s.pk for s in playlist} & set(Song.objects.filter(genres__slug="rock").values_list("pk", flat=True))


def test_a_bad_size_keeps_the_genre_filter(alice_client, alices_upload, embedded_catalogue):
    playlist = playlist_of(alice_client, alices_upload, genre="jazz", n="abc")

    assert len(playlist) == 10
    assert {g.slug for song in playlist for g in song.genres.all()} == {"jazz"}


def test_an_unknown_genre_is_ignored(alice_client, alices_upload, embedded_catalogue):
    playlist = playlist_of(alice_client, alices_upload, genre="polka", n=20)

    assert {g.slug for song in playlist for g in song.genres.all()} == {"jazz", "rock"}


def test_the_playlist_has_at_most_two_songs_by_one_artist(alice_client, alices_upload, embedded_catalogue):
    seed = np.asarray(Embedding.objects.of_song(alices_upload).vector)
    rng = np.random.default_rng(2)
    prolific = [make_song(artist="Prolific", analysis_status=Song.Analysis.DONE) for _ in range(6)]
    for song in prolific:
        embed(song, unit_vector(rng, near=seed, spread=0.2))

    playlist = playlist_of(alice_client, alices_upload, n=10)

    by_prolific = [song for song in playlist if song.artist.name == "Prolific"]
    assert len(by_prolific) == 2
    assert playlist[:2] == by_prolific
    assert max(sum(1 for s in playlist if s.artist_id == song.artist_id) for song in playlist) == 2


def test_a_shared_upload_is_never_in_its_own_playlist(alice_client, alices_upload, embedded_catalogue):
    Song.objects.filter(pk=alices_upload.pk).update(in_catalogue=True)

    playlist = playlist_of(alice_client, alices_upload, n=50)

    assert len(playlist) == 50
    assert alices_upload not in playlist


@pytest.mark.slow
def test_the_playlist_leaves_out_a_catalogue_copy_of_the_uploaded_recording(alice_client, analysed_catalogue, tmp_path):
    favourite = write_audio(tmp_path / "favourite.wav", seconds=6, seed=42, title="My Favourite")
    copy = Song.objects.get(pk=import_file(favourite).song_id)
    upload(alice_client, favourite)
    uploaded = Song.objects.get(owner__username="alice")
    queue_analysis([copy.pk])

    run_analysis_worker()

    assert Embedding.objects.filter(song__in=[copy, uploaded]).count() == 2
    playlist = playlist_of(alice_client, uploaded, n=10)
    assert len(playlist) == len(analysed_catalogue)
    assert copy not in playlist and uploaded not in playlist
    assert {s.content_hash for s in playlist}.isdisjoint({uploaded.content_hash})


# Sharing and privacy


def test_adding_an_upload_to_the_catalogue_shows_it_to_bob_in_browse_and_search(alice_client, alices_upload, bob):
    bob_client = Client()
    bob_client.force_login(bob)
    assert "Secret Demo" not in page_text(bob_client.get(reverse("catalog:song_list")))
    assert "Secret Demo" not in page_text(bob_client.get(reverse("catalog:song_list"), {"q": "secret"}))

    response = alice_client.post(reverse("recommender:upload_share", args=[alices_upload.pk]))

    assert response.url == reverse("recommender:upload_detail", args=[alices_upload.pk])
    assert "“Secret Demo” is now in the catalogue for everyone." in page_text(alice_client.get(response.url))
    assert "Secret Demo" in page_text(bob_client.get(reverse("catalog:song_list")))
    assert "Secret Demo" in page_text(bob_client.get(reverse("catalog:song_list"), {"q": "secret"}))
    assert bob_client.get(alices_upload.get_absolute_url()).status_code == 200
    assert "Add to the public catalogue" not in page_text(alice_client.get(response.url))


def test_an_upload_already_in_the_catalogue_is_not_added_twice(alice_client, alices_upload):
    make_song(title="Official Release", content_hash=alices_upload.content_hash)

    response = alice_client.post(reverse("recommender:upload_share", args=[alices_upload.pk]))

    alices_upload.refresh_from_db()
    assert not alices_upload.in_catalogue
    assert "This recording is already in the catalogue." in page_text(alice_client.get(response.url))


@pytest.mark.parametrize("status", [Song.Analysis.FAILED, Song.Analysis.QUEUED, Song.Analysis.ANALYSING])
def test_an_upload_that_is_not_analysed_is_neither_offered_nor_added_to_the_catalogue(
    alice_client, alices_upload, status
):
    Song.objects.filter(pk=alices_upload.pk).update(analysis_status=status, analysis_error="damaged")
    page = page_text(alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk])))

    response = alice_client.post(reverse("recommender:upload_share", args=[alices_upload.pk]))

    alices_upload.refresh_from_db()
    assert "Add to the public catalogue" not in page
    assert not alices_upload.in_catalogue
    assert "Only an analysed upload can be added to the catalogue." in page_text(alice_client.get(response.url))


def test_adding_to_the_catalogue_asks_first(alice_client, alices_upload):
    page = alice_client.get(reverse("recommender:upload_detail", args=[alices_upload.pk])).content.decode()

    form = re.search(r'<form[^>]*action="[^"]*/share"[^>]*>', page, re.S).group(0)
    assert "hx-confirm=" in form and "Everyone on this site will be able to find and play it" in form


PRIVATE_UPLOAD_VIEWS = [
    pytest.param("recommender:upload_detail", "get", {}, id="upload-page"),
    pytest.param("catalog:song_audio", "get", {}, id="audio"),
    pytest.param("recommender:spectrogram", "get", {}, id="spectrogram"),
    pytest.param("catalog:song_detail", "get", {}, id="song-page"),
    pytest.param("recommender:more_like_this", "get", {}, id="more-like-this"),
    pytest.param("recommender:save_playlist", "post", {"name": "Stolen", "n": 10}, id="save-playlist"),
    pytest.param("recommender:upload_delete", "post", {}, id="delete"),
    pytest.param("recommender:upload_share", "post", {}, id="share"),
]


@pytest.mark.parametrize(("view", "method", "data"), PRIVATE_UPLOAD_VIEWS)
def test_bob_gets_a_404_for_alices_private_upload(alices_upload, small_catalogue, bob, view, method, data):
    bob_client = Client()
    bob_client.force_login(bob)

    response = getattr(bob_client, method)(reverse(view, args=[alices_upload.pk]), data)

    assert response.status_code == 404
    alices_upload.refresh_from_db()
    assert alices_upload.owner.username == "alice" and not alices_upload.in_catalogue
    assert Path(alices_upload.audio.path).exists()
    assert not Playlist.objects.exists()


@pytest.mark.parametrize(("view", "method", "data"), PRIVATE_UPLOAD_VIEWS)
def test_alice_reaches_her_own_private_upload(alice_client, alices_upload, small_catalogue, view, method, data):
    response = getattr(alice_client, method)(reverse(view, args=[alices_upload.pk]), data)

    assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    ("view", "method"),
    [
        ("recommender:upload", "get"),
        ("recommender:upload", "post"),
        ("recommender:upload_detail", "get"),
        ("recommender:spectrogram", "get"),
        ("recommender:save_playlist", "post"),
        ("recommender:upload_delete", "post"),
        ("recommender:upload_share", "post"),
    ],
)
def test_a_visitor_is_sent_to_log_in(client, alices_upload, view, method):
    url = reverse(view) if view == "recommender:upload" else reverse(view, args=[alices_upload.pk])

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    alices_upload.refresh_from_db()
    assert not alices_upload.in_catalogue
    assert Song.objects.count() == 1


@pytest.mark.slow
def test_deleting_an_analysed_upload_removes_its_audio_and_spectrogram(alice_client, analysed_catalogue, tmp_path):
    response = upload(alice_client, write_audio(tmp_path / "mine.ogg", seconds=6, seed=77, title="Mine"))
    run_analysis_worker()
    song = Song.objects.get(title="Mine")
    audio_path, image_path = Path(song.audio.path), Path(song.spectrogram.path)
    assert audio_path.exists() and image_path.exists()

    alice_client.post(reverse("recommender:upload_delete", args=[song.pk]))

    assert response.status_code == 302
    assert not Song.objects.filter(pk=song.pk).exists()
    assert not audio_path.exists()
    assert not image_path.exists()
