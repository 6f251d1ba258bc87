"""Covers: found on import, stored once, served resized and cached, private with their uploads, drawn when missing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from catalog.importer import Outcome, import_file, publish_upload
from catalog.models import Album, Cover, Song
from recommender.artwork import song_cover_url
from tests.factories import add_picture, embed, jpeg, make_song, write_audio

pytestmark = pytest.mark.django_db


def imported(path, **options) -> Song:
    result = import_file(path, **options)
    assert result.outcome == Outcome.IMPORTED, result.reason
    return Song.objects.select_related("album", "cover").get(pk=result.song_id)


def picture_of(response) -> Image.Image:
    return Image.open(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def test_an_imported_song_keeps_its_embedded_picture_for_itself_and_its_album(tmp_path):
    path = add_picture(
        write_audio(tmp_path / "a.mp3", title="A", artist="Band", album="First"), jpeg(colour=(0, 90, 200))
    )

    song = imported(path)

    assert song.cover is not None and song.album.cover_id == song.cover_id
    stored = Image.open(song.cover.image.open("rb"))
    assert stored.format == "JPEG" and stored.size == (300, 300)


def test_an_album_whose_songs_share_a_picture_stores_it_once(tmp_path):
    picture = jpeg()
    songs = [
        imported(add_picture(write_audio(tmp_path / f"{n}.flac", seed=n, title=f"T{n}", album="Same"), picture))
        for n in range(3)
    ]

    assert Cover.objects.count() == 1
    assert {song.cover_id for song in songs} == {Album.objects.get(title="Same").cover_id}


def test_cover_jpg_beside_the_files_is_picked_up_on_import(tmp_path):
    (tmp_path / "Cover.jpg").write_bytes(jpeg(colour=(20, 160, 60)))
    path = write_audio(tmp_path / "01 - song.ogg", title="Song", album="Green")

    song = imported(path)

    assert song.cover is not None and song.album.cover_id == song.cover_id


def test_the_picture_beside_the_files_is_the_albums_and_a_songs_own_picture_its_own(tmp_path):
    (tmp_path / "folder.jpg").write_bytes(jpeg(colour=(20, 160, 60)))
    path = add_picture(write_audio(tmp_path / "song.flac", title="Song", album="Both"), jpeg(colour=(200, 0, 0)))

    song = imported(path)

    assert song.cover_id and song.album.cover_id and song.cover_id != song.album.cover_id


@pytest.mark.parametrize(
    "picture",
    [
        Image.new("1", (20_000, 20_000)),  # a decompression bomb: 50 kB of PNG, 400 million pixels
        Image.new("RGB", (7_000, 7_000)),  # more pixels than any sleeve needs
        b"\xff\xd8\xff\xe0 a truncated JPEG",
    ],
    ids=["bomb", "huge", "corrupt"],
)
def test_a_bad_picture_is_refused_without_failing_the_import(tmp_path, picture):
    if isinstance(picture, Image.Image):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", optimize=True)
        picture = buffer.getvalue()
    path = add_picture(write_audio(tmp_path / "song.mp3", title="Still here", album="Album"), picture, mime="image/png")

    song = imported(path)

    assert song.title == "Still here"
    assert song.cover is None and song.album.cover is None and not Cover.objects.exists()


def test_an_upload_keeps_its_picture_to_itself(tmp_path, alice):
    (tmp_path / "cover.jpg").write_bytes(jpeg(colour=(0, 0, 0)))  # beside a temporary file: not the upload's
    path = add_picture(write_audio(tmp_path / "mine.mp3", title="Mine", album="Shared name"), jpeg())
    (tmp_path / "other").mkdir()
    catalogue = imported(write_audio(tmp_path / "other" / "x.wav", title="X", album="Shared name"))

    upload = imported(path, owner=alice)

    assert upload.cover is not None
    assert Cover.objects.count() == 1  # the cover.jpg beside the upload was not read
    catalogue.album.refresh_from_db()
    assert catalogue.album.cover is None  # a private picture is no album's picture


def test_a_shared_upload_gives_its_album_its_picture(tmp_path, alice):
    upload = imported(add_picture(write_audio(tmp_path / "mine.mp3", title="Mine", album="Mine"), jpeg()), owner=alice)
    assert upload.album.cover is None

    publish_upload(upload)

    assert Album.objects.get(pk=upload.album_id).cover_id == upload.cover_id


def test_find_covers_reads_the_pictures_of_songs_imported_before_covers(tmp_path):
    with_picture = imported(add_picture(write_audio(tmp_path / "a.flac", title="A", album="Old"), jpeg()))
    without = imported(write_audio(tmp_path / "b.wav", seed=2, title="B"))
    Song.objects.update(cover=None)
    Album.objects.update(cover=None)
    out = io.StringIO()

    call_command("find_covers", stdout=out)

    assert "Found a cover picture in 1 of 2 songs without one." in out.getvalue()
    with_picture.refresh_from_db()
    without.refresh_from_db()
    assert with_picture.cover_id and Album.objects.get(title="Old").cover_id == with_picture.cover_id
    assert without.cover_id is None


# --- Serving ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 128, 256, 512])
def test_a_stored_cover_is_served_square_at_each_size_for_good(tmp_path, alice_client, size):
    song = imported(add_picture(write_audio(tmp_path / "a.flac", title="A", album="B"), jpeg(600, 400)))
    url = song_cover_url(song, size)

    response = alice_client.get(url)

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert picture_of(response).size == (size, size)
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["ETag"]
    assert default_storage.exists(song.cover.sized_name(size))  # made once, kept on disk

    again = alice_client.get(url, headers={"if-none-match": response["ETag"]})
    assert again.status_code == 304 and not again.content


def test_a_song_without_a_picture_shows_its_albums(tmp_path, alice_client):
    (tmp_path / "cover.jpg").write_bytes(jpeg())
    first = imported(write_audio(tmp_path / "1.wav", seed=1, title="One", album="Album"))
    later = make_song(title="Two", album=first.album)

    assert song_cover_url(Song.objects.select_related("album").get(pk=later.pk), 64) == song_cover_url(first, 64)


def test_a_song_without_any_picture_gets_a_cover_drawn_from_its_sound(alice_client):
    song = embed(make_song(title="Drawn", tempo_bpm=128, energy=0.7), np.random.default_rng(0).standard_normal(200))
    song = Song.objects.select_related("album").get(pk=song.pk)

    first = alice_client.get(song_cover_url(song, 256))
    again = alice_client.get(song_cover_url(song, 256))

    assert first.status_code == 200 and picture_of(first).size == (256, 256)
    assert first.content == again.content
    assert first["Cache-Control"] == "private, max-age=31536000, immutable"
    assert default_storage.listdir(f"covers/drawn/{song.pk}")[1]


def test_a_drawn_cover_changes_address_when_the_song_is_analysed(alice_client):
    song = make_song(title="Waiting")
    pending_url = song_cover_url(song, 64)
    assert alice_client.get(pending_url).status_code == 200

    embed(song, np.ones(200))
    song = Song.objects.select_related("album").get(pk=song.pk)

    assert song_cover_url(song, 64) != pending_url
    stale = alice_client.get(pending_url)
    assert stale.status_code == 302 and stale["Location"] == song_cover_url(song, 64)
    assert "no-cache" in stale["Cache-Control"]


def test_the_address_without_a_token_leads_to_the_covers_lasting_address(tmp_path, alice_client):
    song = imported(add_picture(write_audio(tmp_path / "a.mp3", title="A"), jpeg()))

    response = alice_client.get(f"/songs/{song.pk}/cover/128.jpg")

    assert response.status_code == 302 and response["Location"] == song_cover_url(song, 128)


def test_only_the_sizes_served_exist(tmp_path, alice_client):
    song = imported(add_picture(write_audio(tmp_path / "a.mp3", title="A"), jpeg()))

    assert alice_client.get(song_cover_url(song, 64).replace("/64/", "/65/")).status_code == 404
    assert alice_client.get(f"/songs/{song.pk}/cover/4000.jpg").status_code == 404


def test_a_stored_cover_with_a_wrong_token_is_not_found(tmp_path, alice_client):
    song = imported(add_picture(write_audio(tmp_path / "a.mp3", title="A"), jpeg()))

    assert alice_client.get(f"/covers/{song.cover_id}/64/0123456789ab.jpg").status_code == 404


def test_a_private_uploads_cover_is_its_owners_only(tmp_path, alice, alice_client, bob_client):
    upload = imported(add_picture(write_audio(tmp_path / "mine.mp3", title="Mine"), jpeg()), owner=alice)
    drawn = make_song(title="Mine too", owner=alice, in_catalogue=False)
    stored_url = song_cover_url(upload, 128)
    drawn_url = song_cover_url(Song.objects.select_related("album").get(pk=drawn.pk), 128)

    assert alice_client.get(stored_url).status_code == 200
    assert alice_client.get(drawn_url).status_code == 200
    assert bob_client.get(stored_url).status_code == 404
    assert bob_client.get(drawn_url).status_code == 404
    assert bob_client.get(f"/songs/{upload.pk}/cover/128.jpg").status_code == 404


def test_visitors_get_the_covers_of_imported_songs_only(tmp_path, client, alice):
    """The home page shows a visitor a few catalogue covers (test_home.py); an upload's stays its owner's."""
    song = imported(add_picture(write_audio(tmp_path / "a.mp3", title="A"), jpeg()))
    drawn = make_song(title="Drawn")
    (tmp_path / "up").mkdir()
    upload = imported(
        add_picture(write_audio(tmp_path / "up" / "b.mp3", title="B"), jpeg(colour=(0, 0, 0))), owner=alice
    )
    publish_upload(upload)  # shared: in the catalogue, and still someone's own file
    shared_drawn = make_song(title="Shared drawn", owner=alice, in_catalogue=True)

    assert client.get(song_cover_url(song, 64)).status_code == 200
    assert client.get(song_cover_url(Song.objects.select_related("album").get(pk=drawn.pk), 64)).status_code == 200
    assert client.get(song_cover_url(Song.objects.select_related("album").get(pk=upload.pk), 64)).status_code == 404
    shared_drawn = Song.objects.select_related("album").get(pk=shared_drawn.pk)
    assert client.get(song_cover_url(shared_drawn, 64)).status_code == 404


def test_deleting_an_upload_deletes_its_picture_and_drawn_covers(
    tmp_path, alice, alice_client, django_capture_on_commit_callbacks
):
    upload = imported(add_picture(write_audio(tmp_path / "mine.mp3", title="Mine"), jpeg()), owner=alice)
    plain = make_song(title="Plain", owner=alice, in_catalogue=False)
    alice_client.get(song_cover_url(upload, 64))
    alice_client.get(song_cover_url(Song.objects.select_related("album").get(pk=plain.pk), 64))
    drawn_folder = f"covers/drawn/{plain.pk}"
    assert default_storage.listdir(drawn_folder)[1]
    image_name = upload.cover.image.name
    sized_name = upload.cover.sized_name(64)
    assert default_storage.exists(image_name) and default_storage.exists(sized_name)

    with django_capture_on_commit_callbacks(execute=True):
        upload.delete()
        plain.delete()

    assert not Cover.objects.exists()
    assert not default_storage.exists(image_name) and not default_storage.exists(sized_name)
    assert not default_storage.listdir(drawn_folder)[1]
