from __future__ import annotations

import time

import pytest
from django.core.files.base import ContentFile
from django.test import Client, RequestFactory
from django.urls import reverse

from catalog import streaming
from catalog.streaming import CHUNK_SIZE, parse_range, ranged_file_response
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


def test_no_chunk_read_for_a_huge_range_is_bigger_than_the_chunk_size(alice_client, media_root):
    data = bytes(range(256)) * 4096  # 1 MiB
    song = make_song()
    song.audio.save("big.wav", ContentFile(data))

    response = fetch(alice_client, song, f"bytes=0-{10**30}")

    chunks = list(response.streaming_content)
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE


def test_a_head_request_gets_the_headers_and_reads_nothing_of_the_file(song, audio_bytes):
    # Through the view, Django's test client would drop a HEAD response's body itself, as gunicorn does (with a
    # warning in the log, after reading the whole file).
    request = RequestFactory().head("/", headers={"Range": "bytes=10-"})

    response = ranged_file_response(request, song.audio.open("rb"), len(audio_bytes), "audio/wav")

    assert response.status_code == 206
    assert response["Content-Length"] == str(len(audio_bytes) - 10)
    assert b"".join(response.streaming_content) == b""


# Streams at once: each holds a web server thread (README, "Security").


@pytest.fixture
def streams_per_user(settings):
    settings.MUSREC_STREAMS_PER_USER = 4
    return 4


def test_a_fifth_stream_at_once_is_refused_with_a_short_text(alice_client, song, streams_per_user):
    playing = [fetch(alice_client, song, "bytes=0-99") for _ in range(streams_per_user)]  # not read yet: still open

    refused = fetch(alice_client, song, "bytes=0-99")

    assert [response.status_code for response in playing] == [206] * 4
    assert refused.status_code == 429
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
    assert refused.content == b"Too many songs are playing at once for you: stop one and try again.\n"
    assert refused["Cache-Control"] == "no-store"


def test_a_stream_that_ends_gives_its_slot_back(alice_client, song, streams_per_user):
    playing = [fetch(alice_client, song) for _ in range(streams_per_user)]
    body(playing[0])  # read to the end: the response closes

    assert fetch(alice_client, song).status_code == 200


def test_a_refused_range_takes_no_slot(alice_client, song, audio_bytes, streams_per_user):
    refused = [fetch(alice_client, song, f"bytes={len(audio_bytes)}-") for _ in range(streams_per_user + 1)]

    assert [response.status_code for response in refused] == [416] * 5
    assert fetch(alice_client, song).status_code == 200


def test_other_people_play_while_alice_is_at_her_limit(alice_client, bob, song, streams_per_user):
    playing = [fetch(alice_client, song) for _ in range(streams_per_user)]
    bob_client = Client()
    bob_client.force_login(bob)

    assert fetch(bob_client, song).status_code == 200
    assert fetch(alice_client, song).status_code == 429
    assert len(playing) == 4


def test_a_stream_that_never_closed_gives_its_slot_back_after_its_time(
    alice_client, song, streams_per_user, settings, monkeypatch
):
    """A web server process killed mid-stream never closes its response: the slot expires instead."""
    settings.MUSREC_STREAM_SEND_TIMEOUT = 1
    monkeypatch.setattr(streaming, "SLOT_RENEW_SECONDS", 0)  # slots last 1 s
    abandoned = [fetch(alice_client, song) for _ in range(streams_per_user)]
    assert fetch(alice_client, song).status_code == 429

    time.sleep(1.5)

    assert fetch(alice_client, song).status_code == 200
    assert len(abandoned) == 4


def test_a_limit_of_zero_is_no_limit(alice_client, song, settings):
    settings.MUSREC_STREAMS_PER_USER = 0

    assert {fetch(alice_client, song).status_code for _ in range(10)} == {200}


def test_with_redis_down_songs_still_play(alice_client, song, streams_per_user, settings, tmp_path):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": [f"unix://{tmp_path}/no-redis.sock?db=0"]},
    }

    assert {fetch(alice_client, song).status_code for _ in range(streams_per_user + 2)} == {200}


# Behind nginx (README, "Production"): Django checks access, nginx sends the file.


def test_with_an_accel_redirect_prefix_nginx_is_told_to_send_the_file(alice_client, song, settings):
    settings.MUSREC_ACCEL_REDIRECT_PREFIX = "/protected-media/"

    response = fetch(alice_client, song, "bytes=0-99")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{song.audio.name}"
    assert response["Content-Type"] == "audio/wav"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response.content == b""


def test_with_an_accel_redirect_prefix_nobody_else_gets_a_private_upload(alice, bob, song, settings):
    settings.MUSREC_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    song.owner, song.in_catalogue = alice, False
    song.save(update_fields=["owner", "in_catalogue"])
    bob_client = Client()
    bob_client.force_login(bob)

    response = fetch(bob_client, song)

    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response
