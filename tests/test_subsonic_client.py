"""A real Subsonic client library (py-opensonic, from PyPI) against the live server: what a player does, end to end.

py-opensonic signs in with token and salt (or an API key), sends its calls as form POSTs to ``/rest/<name>.view``
and reads the JSON answers into typed objects, so a missing field or a wrong shape fails here as it would in a
player.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from catalog.models import Album, Artist, Playlist, Song
from subsonic.models import ApiSecret
from tests.conftest import PASSWORD
from tests.factories import make_song

libopensonic = pytest.importorskip("libopensonic", reason="the client tests need py-opensonic")
errors = pytest.importorskip("libopensonic.errors")

pytestmark = pytest.mark.slow


@pytest.fixture
def library(bob) -> dict[str, Song]:
    band = Artist.objects.create(name="The Forest Band")
    album = Album.objects.create(title="Forest Sessions", artist=band)
    return {
        "first": make_song(title="Clearing", artist=band, album=album, track_number=1, genres=["Chiptune"]),
        "second": make_song(title="Canopy", artist=band, album=album, track_number=2, genres=["Chiptune"]),
        "private": make_song(title="Bobsong", artist="Bob Hidden", owner=bob, in_catalogue=False),
    }


def connect(live_server, **credentials: str):
    address = urlsplit(live_server.url)
    return libopensonic.Connection(f"{address.scheme}://{address.hostname}", port=address.port, **credentials)


@pytest.fixture
def player(live_server, alice) -> Iterator:
    """A py-opensonic connection signed in as alice with her API secret (token and salt)."""
    connection = connect(live_server, username="alice", password=ApiSecret.objects.issue(alice).secret)
    try:
        yield connection
    finally:
        connection.cleanup()


def read_body(connection, response) -> bytes:
    return asyncio.run_coroutine_threadsafe(response.read(), connection._loop).result(timeout=30)


def test_a_player_signs_in_browses_and_searches(library, player):
    assert player.ping() is True
    extensions = {extension.name for extension in player.get_open_subsonic_extensions()}
    assert {"apiKeyAuthentication", "formPost"} <= extensions
    index = player.get_artists().index
    assert [artist.name for entry in index for artist in entry.artist] == ["The Forest Band"]
    found = player.search3("forest")
    assert [album.name for album in found.album] == ["Forest Sessions"]
    album = player.get_album(found.album[0].id)
    assert album.song_count == 2 and [song.title for song in album.song] == ["Clearing", "Canopy"]
    assert all(isinstance(song.duration, int) for song in album.song)
    newest = player.get_album_list2("newest", size=5)
    assert [entry.name for entry in newest] == ["Forest Sessions"]
    assert {genre.value for genre in player.get_genres()} == {"Chiptune"}
    assert player.get_user("alice").username == "alice"


def test_a_player_streams_with_a_range(library, player):
    song = library["first"]
    with song.audio.open("rb") as handle:
        data = handle.read()
    response = player.stream(f"tr-{song.pk}", tformat="raw", byte_range="bytes=0-1023")
    assert response.status == 206
    assert read_body(player, response) == data[:1024]
    response = player.stream(f"tr-{song.pk}")
    assert read_body(player, response) == data
    cover = player.get_cover_art(f"al-{song.album_id}", size=128)
    assert cover.headers["Content-Type"] == "image/jpeg"
    read_body(player, cover)


def test_a_player_signs_in_with_an_api_key(live_server, library, alice):
    connection = connect(live_server, api_key=ApiSecret.objects.issue(alice).secret)
    try:
        assert connection.ping() is True
        assert [song.title for song in connection.get_random_songs(size=10)] != []
    finally:
        connection.cleanup()


def test_a_player_gets_the_error_codes(live_server, library, alice, player):
    wrong = connect(live_server, username="alice", password=PASSWORD)
    try:
        with pytest.raises(errors.CredentialError, match="API secret"):
            wrong.get_artists()
    finally:
        wrong.cleanup()
    with pytest.raises(errors.DataNotFoundError):
        player.get_song(f"tr-{library['private'].pk}")
    with pytest.raises(errors.ParameterError):
        player.get_songs_by_genre(None)


def test_a_player_makes_a_playlist(library, alice, player):
    songs = [f"tr-{library['second'].pk}", f"tr-{library['first'].pk}"]
    assert player.create_playlist(name="From the phone", song_ids=songs) is True
    (listed,) = player.get_playlists()
    assert listed.name == "From the phone" and listed.song_count == 2
    playlist = player.get_playlist(listed.id)
    assert [song.title for song in playlist.entry] == ["Canopy", "Clearing"]
    # The same playlist on the site: alice's, in that order.
    assert [item.song.title for item in Playlist.objects.get(owner=alice).items.all()] == ["Canopy", "Clearing"]
    player.update_playlist(listed.id, song_indices_to_remove=[0])
    assert [song.title for song in player.get_playlist(listed.id).entry] == ["Clearing"]
    player.delete_playlist(listed.id)
    assert player.get_playlists() == []


# Listening and sonic similarity (helper 2: subsonic/endpoints/annotation.py and sonic.py) -----------------------------


def test_a_player_scrobbles_into_the_web_history_and_stars_into_the_likes(library, alice, player):
    from django.test import Client
    from django.urls import reverse

    from catalog.models import Play, Rating

    song_id = f"tr-{library['second'].pk}"
    assert player.scrobble(song_id, submission=False) is True
    assert not Play.objects.filter(user=alice).exists()
    assert player.scrobble(song_id) is True
    assert player.star(sids=[song_id]) is True
    assert player.set_rating(f"tr-{library['first'].pk}", 1) is True

    web = Client()
    web.force_login(alice)
    history = web.get(reverse("catalog:history")).content.decode()
    assert "Canopy" in history and "Completed" in history
    assert "Canopy" in web.get(reverse("catalog:liked")).content.decode()
    assert Rating.objects.get(user=alice, song=library["first"]).value == Rating.DISLIKE
    starred = player.get_starred2()
    assert [song.title for song in starred.song] == ["Canopy"]
    assert starred.song[0].starred and starred.song[0].user_rating == 5
    assert player.get_song(f"tr-{library['first'].pk}").user_rating == 1
    assert player.unstar(sids=[song_id]) is True
    assert player.get_starred2().song in (None, [])


def test_a_player_gets_sonic_mixes(library, player):
    import numpy as np

    from tests.factories import embed

    def unit(vector: np.ndarray) -> np.ndarray:
        return vector / np.linalg.norm(vector)

    rng = np.random.default_rng(5)
    seed_direction, far_direction = np.linalg.qr(rng.standard_normal((200, 2)))[0].T
    seed = embed(library["first"], seed_direction)
    near = [
        embed(
            make_song(title=f"Near {i}", artist=f"Near artist {i}"),
            seed_direction + 0.15 * unit(rng.standard_normal(200)),
        )
        for i in range(6)
    ]
    goal = embed(make_song(title="Far away", artist="Far artist"), far_direction)
    for i, weight in enumerate(np.linspace(0.2, 0.8, 6)):
        embed(
            make_song(title=f"Between {i}", artist=f"Between artist {i}"),
            (1 - weight) * seed_direction + weight * far_direction,
        )

    assert "sonicSimilarity" in {extension.name for extension in player.get_open_subsonic_extensions()}
    mix = player.get_similar_songs(f"tr-{seed.pk}", count=4)
    assert len(mix) == 4 and all(song.title.startswith("Near") for song in mix)
    by_artist = player.get_similar_songs2(f"ar-{near[0].artist_id}", count=3)
    assert by_artist[0].title == "Near 0"
    matches = player.get_sonic_similar_tracks(f"tr-{seed.pk}", count=5)
    assert len(matches) == 5 and all(match.entry.title.startswith("Near") for match in matches)
    similarities = [match.similarity for match in matches]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 for s in similarities)
    path = player.find_sonic_path(f"tr-{seed.pk}", f"tr-{goal.pk}", count=6)
    assert path[0].entry.title == "Clearing" and path[-1].entry.title == "Far away" and len(path) == 6
    assert path[0].similarity == 1.0
    with pytest.raises(errors.DataNotFoundError):
        player.get_sonic_similar_tracks(f"tr-{library['private'].pk}")
