from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from catalog.streaming import parse_range
from tests.factories import make_song

pytestmark = pytest.mark.django_db


@pytest.fixture
def song(db):
    return make_song(title="Wave")


@pytest.fixture
def audio_bytes(song, media_root) -> bytes:
    return (media_root / song.audio.name).read_bytes()


def fetch(client, song, range_header: str | None = None):
    headers = {"Range": range_header} if range_header is not None else {}
    return client.get(reverse("catalog:song_audio", args=[song.pk]), headers=headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_whole_file_comes_with_its_length_and_an_offer_of_ranges(alice_client, song, audio_bytes):
    response = fetch(alice_client, song)

    assert response.status_code == 200
    assert body(response) == audio_bytes
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(audio_bytes))
    assert "Content-Range" not in response


def test_a_wav_file_is_served_as_audio_wav(alice_client, song):
    response = fetch(alice_client, song)

    assert response["Content-Type"] == "audio/wav"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_audio_is_cached_privately(alice_client, song):
    assert fetch(alice_client, song)["Cache-Control"] == "private, max-age=3600"


def test_the_first_hundred_bytes(alice_client, song, audio_bytes):
    response = fetch(alice_client, song, "bytes=0-99")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(audio_bytes)}"
    assert response["Content-Length"] == "100"
    assert body(response) == audio_bytes[:100]


def test_an_open_ended_range_runs_to_the_end(alice_client, song, audio_bytes):
    size = len(audio_bytes)

    response = fetch(alice_client, song, "bytes=100-")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert response["Content-Length"] == str(size - 100)
    assert body(response) == audio_bytes[100:]


def test_a_suffix_range_is_the_last_bytes(alice_client, song, audio_bytes):
    size = len(audio_bytes)

    response = fetch(alice_client, song, "bytes=-50")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {size - 50}-{size - 1}/{size}"
    assert body(response) == audio_bytes[-50:]


def test_a_range_in_the_middle_crosses_read_chunks(alice_client, media_root):
    data = bytes(range(256)) * 1024  # 256 KiB: several 64 KiB chunks
    song = make_song()
    song.audio.save("long.wav", ContentFile(data))

    response = fetch(alice_client, song, "bytes=65000-200000")

    assert response.status_code == 206
    assert body(response) == data[65000:200001]


def test_an_end_beyond_the_file_is_clamped(alice_client, song, audio_bytes):
    size = len(audio_bytes)

    response = fetch(alice_client, song, f"bytes=10-{size * 10}")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-{size - 1}/{size}"
    assert body(response) == audio_bytes[10:]


def test_a_suffix_longer_than_the_file_is_the_whole_file(alice_client, song, audio_bytes):
    size = len(audio_bytes)

    response = fetch(alice_client, song, f"bytes=-{size + 1000}")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert body(response) == audio_bytes


@pytest.mark.parametrize("start", ["size", "size_plus_one", "huge"])
def test_a_range_past_the_end_is_416_with_the_size(alice_client, song, audio_bytes, start):
    size = len(audio_bytes)
    first = {"size": size, "size_plus_one": size + 1, "huge": 10**30}[start]

    response = fetch(alice_client, song, f"bytes={first}-")

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert response.content == b""


@pytest.mark.parametrize(
    "header",
    ["", "bytes", "bytes=", "bytes=-", "items=0-99", "bytes=a-b", "bytes=0-99,200-299", "bytes 0-99", "0-99"],
)
def test_a_malformed_range_gets_the_whole_file(alice_client, song, audio_bytes, header):
    response = fetch(alice_client, song, header)

    assert response.status_code == 200
    assert body(response) == audio_bytes
    assert response["Content-Length"] == str(len(audio_bytes))


def test_a_song_whose_file_was_deleted_is_a_404(alice_client, song):
    song.audio.storage.delete(song.audio.name)

    assert fetch(alice_client, song).status_code == 404
    assert fetch(alice_client, song, "bytes=0-99").status_code == 404


def test_an_empty_file_is_served_empty_and_cannot_be_ranged(alice_client):
    song = make_song()
    song.audio.save("empty.wav", ContentFile(b""))

    whole = fetch(alice_client, song)
    suffix = fetch(alice_client, song, "bytes=-10")

    assert whole.status_code == 200
    assert whole["Content-Length"] == "0"
    assert body(whole) == b""
    assert suffix.status_code == 416
    assert suffix["Content-Range"] == "bytes */0"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("a.mp3", "audio/mpeg"), ("a.OGG", "audio/ogg"), ("a.flac", "audio/flac"), ("noext", "application/octet-stream")],
)
def test_the_content_type_follows_the_file_extension(alice_client, name, content_type):
    song = make_song()
    song.audio.save(name, ContentFile(b"not really audio"))

    assert fetch(alice_client, song)["Content-Type"] == content_type


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=100-", 1000, (100, 999)),
        ("bytes=-50", 1000, (950, 999)),
        ("bytes=-5000", 1000, (0, 999)),
        ("bytes=0-5000", 1000, (0, 999)),
        ("bytes=999-999", 1000, (999, 999)),
        ("bytes=0-0", 1, (0, 0)),
        ("  bytes=5-9  ", 1000, (5, 9)),
        ("", 1000, None),
        ("bytes=-", 1000, None),
        ("bytes=", 1000, None),
        ("bytes=x-y", 1000, None),
        ("bytes=1-2,4-5", 1000, None),
        ("bytes=1.5-2", 1000, None),
        ("pages=0-1", 1000, None),
    ],
)
def test_parse_range_reads_a_single_byte_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=1000-2000", 1000),
        ("bytes=5-2", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
    ],
)
def test_parse_range_refuses_a_range_it_cannot_satisfy(header, size):
    with pytest.raises(ValueError):
        parse_range(header, size)
