"""The Subsonic API's listening endpoints (issue 12): scrobble into the web history, star and setRating as likes and
dislikes, getStarred2 and the starred album lists; with a second person whose likes and uploads stay theirs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Album, Artist, Play, Playlist, Rating, Song
from subsonic.models import ApiSecret
from tests.factories import make_song
from tests.test_subsonic import as_json, as_xml, assert_child, error_code, token

NS = "{http://subsonic.org/restapi}"


@pytest.fixture
def as_alice(alice) -> dict[str, str]:
    return token("alice", ApiSecret.objects.issue(alice).secret)


@pytest.fixture
def as_bob(bob) -> dict[str, str]:
    return token("bob", ApiSecret.objects.issue(bob).secret)


@pytest.fixture
def songs(bob) -> dict[str, Song]:
    """An album of two catalogue songs, a single, and bob's private upload on an album of its own."""
    band = Artist.objects.create(name="The Tide")
    album = Album.objects.create(title="Low Water", artist=band)
    return {
        "first": make_song(title="Ebb", artist=band, album=album, track_number=1),
        "second": make_song(title="Flow", artist=band, album=album, track_number=2),
        "single": make_song(title="Lone Gull", artist="Gulls"),
        "private": make_song(
            title="Bobsecret",
            artist="Bob Hidden",
            album=Album.objects.create(title="Bob Hidden Album"),
            owner=bob,
            in_catalogue=False,
        ),
    }


def sid(song: Song) -> str:
    return f"tr-{song.pk}"


def song_answer(as_user: dict[str, str], song: Song) -> dict:
    return as_json(Client(), "getSong", as_user, id=sid(song))["song"]


# scrobble -------------------------------------------------------------------------------------------------------------


def test_a_scrobble_is_a_completed_play_in_the_web_history(songs, alice, as_alice, alice_client):
    answer = as_json(Client(), "scrobble", as_alice, id=sid(songs["first"]))

    assert answer["status"] == "ok"
    play = Play.objects.for_user(alice).get()
    assert (play.song, play.completed, play.skipped) == (songs["first"], True, False)
    assert play.seconds_listened == songs["first"].duration
    page = alice_client.get(reverse("catalog:history")).content.decode()
    assert "Ebb" in page and "Completed" in page


def test_a_scrobble_is_dated_by_its_time_and_never_in_the_future(songs, alice, as_alice):
    heard = timezone.now() - dt.timedelta(days=2, minutes=7)
    later = timezone.now() + dt.timedelta(days=1)
    as_json(
        Client(),
        "scrobble",
        as_alice,
        id=[sid(songs["first"]), sid(songs["second"])],
        time=[int(heard.timestamp() * 1000), int(later.timestamp() * 1000)],
    )

    plays = {play.song: play.played_at for play in Play.objects.for_user(alice)}
    assert abs(plays[songs["first"]] - heard) < dt.timedelta(milliseconds=2)
    assert plays[songs["second"]] <= timezone.now()
    assert plays[songs["second"]] > timezone.now() - dt.timedelta(minutes=5)


def test_scrobbling_several_songs_records_each(songs, alice, as_alice):
    as_xml(Client(), "scrobble", as_alice, id=[sid(songs["first"]), sid(songs["single"])])
    assert {play.song for play in Play.objects.for_user(alice)} == {songs["first"], songs["single"]}


def test_now_playing_notices_record_nothing(songs, alice, as_alice):
    assert as_json(Client(), "scrobble", as_alice, id=sid(songs["first"]), submission="false")["status"] == "ok"
    assert not Play.objects.filter(user=alice).exists()
    assert as_json(Client(), "getNowPlaying", as_alice)["nowPlaying"] == {"entry": []}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 10),
        ({"id": "tr-999999999"}, 70),
        ({"id": "al-1"}, 70),
        ({"id": "nonsense"}, 70),
        ({"id": "PRIVATE"}, 70),
        ({"id": "FIRST", "time": "yesterday"}, 0),
        ({"id": "FIRST", "time": "-5"}, 0),
    ],
)
def test_a_bad_scrobble_is_an_error_and_records_nothing(songs, alice, as_alice, params, code):
    named = {"PRIVATE": sid(songs["private"]), "FIRST": sid(songs["first"])}
    params = {name: named.get(value, value) for name, value in params.items()}
    assert error_code(Client(), "scrobble", as_alice, **params) == code
    assert not Play.objects.filter(user=alice).exists()


def test_scrobbles_past_the_limit_a_minute_are_refused(songs, alice, bob, as_alice, as_bob, settings, one_rate_window):
    settings.MUSREC_PLAYS_PER_MINUTE = 3
    client = Client()
    for _ in range(3):
        assert as_json(client, "scrobble", as_alice, id=sid(songs["first"]))["status"] == "ok"

    answer = as_json(client, "scrobble", as_alice, id=sid(songs["first"]))

    assert answer["status"] == "failed" and answer["error"]["code"] == 0
    assert answer["error"]["message"] == "Not recorded: more than 3 plays a minute."
    assert Play.objects.filter(user=alice).count() == 3
    assert as_json(client, "scrobble", as_bob, id=sid(songs["first"]))["status"] == "ok"


# star, unstar, getStarred2 --------------------------------------------------------------------------------------------


def test_a_star_is_a_like_on_the_liked_page(songs, alice, as_alice, alice_client):
    before = timezone.now()
    as_json(Client(), "star", as_alice, id=sid(songs["second"]))

    rating = Rating.objects.get(user=alice)
    assert (rating.song, rating.value) == (songs["second"], Rating.LIKE)
    assert "Flow" in alice_client.get(reverse("catalog:liked")).content.decode()
    entry = song_answer(as_alice, songs["second"])
    assert_child(entry)
    starred = dt.datetime.fromisoformat(entry["starred"])
    assert entry["starred"].endswith("Z") and before - dt.timedelta(seconds=1) <= starred <= timezone.now()
    assert entry["userRating"] == 5
    assert song_answer(as_alice, songs["first"]).get("starred") is None


def test_starring_again_keeps_the_date_of_the_like(songs, alice, as_alice):
    as_json(Client(), "star", as_alice, id=sid(songs["first"]))
    first = Rating.objects.get(user=alice).rated_at
    as_json(Client(), "star", as_alice, id=sid(songs["first"]))
    assert Rating.objects.get(user=alice).rated_at == first


def test_unstar_takes_the_like_back_and_leaves_a_dislike(songs, alice, as_alice):
    Rating.objects.rate(alice, songs["first"], Rating.LIKE)
    Rating.objects.rate(alice, songs["second"], Rating.DISLIKE)

    as_json(Client(), "unstar", as_alice, id=[sid(songs["first"]), sid(songs["second"])])

    assert list(Rating.objects.filter(user=alice).values_list("song", "value")) == [
        (songs["second"].pk, Rating.DISLIKE)
    ]


def test_starring_albums_and_artists_is_ok_but_stores_nothing(songs, alice, as_alice):
    first = songs["first"]
    answer = as_json(Client(), "star", as_alice, albumId=f"al-{first.album_id}", artistId=f"ar-{first.artist_id}")
    assert answer["status"] == "ok"
    assert as_json(Client(), "star", as_alice, id=f"al-{first.album_id}")["status"] == "ok"
    assert not Rating.objects.filter(user=alice).exists()


@pytest.mark.parametrize("method", ["star", "unstar"])
def test_star_needs_something_that_exists_for_the_caller(songs, bob, as_alice, method):
    private = songs["private"]
    Rating.objects.rate(bob, private, Rating.LIKE)
    client = Client()
    assert error_code(client, method, as_alice) == 10
    assert error_code(client, method, as_alice, id="tr-999999999") == 70
    assert error_code(client, method, as_alice, id=sid(private)) == 70
    assert error_code(client, method, as_alice, albumId=f"al-{private.album_id}") == 70
    assert error_code(client, method, as_alice, artistId=f"ar-{private.artist_id}") == 70
    # An album or artist parameter names an album or an artist, never a song.
    assert error_code(client, method, as_alice, albumId=sid(songs["first"])) == 70
    assert error_code(client, method, as_alice, artistId=sid(songs["first"])) == 70
    # Nothing was starred on the way to the unknown id.
    assert error_code(client, method, as_alice, id=[sid(songs["first"]), "tr-999999999"]) == 70
    assert not Rating.objects.exclude(user=bob).exists()
    assert Rating.objects.get(user=bob).value == Rating.LIKE


def test_get_starred2_lists_the_likes_last_first_in_json_and_xml(songs, alice, bob, as_alice):
    as_json(Client(), "star", as_alice, id=sid(songs["single"]))
    as_json(Client(), "star", as_alice, id=sid(songs["first"]))
    Rating.objects.rate(alice, songs["second"], Rating.DISLIKE)
    Rating.objects.rate(bob, songs["private"], Rating.LIKE)
    Rating.objects.rate(bob, songs["second"], Rating.LIKE)

    starred = as_json(Client(), "getStarred2", as_alice)["starred2"]

    assert [entry["title"] for entry in starred["song"]] == ["Ebb", "Lone Gull"]
    assert starred["album"] == [] and starred["artist"] == []
    for entry in starred["song"]:
        assert_child(entry)
        assert entry["userRating"] == 5 and entry["starred"].endswith("Z")
    xml = as_xml(Client(), "getStarred2", as_alice)
    assert [song.get("title") for song in xml.iter(f"{NS}song")] == ["Ebb", "Lone Gull"]
    assert all(song.get("starred") for song in xml.iter(f"{NS}song"))
    # Bob's like of his own upload is his.
    assert "Bobsecret" not in Client().get("/rest/getStarred2", {"f": "json", **as_alice}).content.decode()


def test_every_song_entry_carries_the_star(songs, alice, as_alice):
    as_json(Client(), "star", as_alice, id=sid(songs["first"]))
    playlist = Playlist.objects.create(owner=alice, name="Tides")
    playlist.add_song(songs["first"])
    client = Client()
    lists = {
        "getAlbum": as_json(client, "getAlbum", as_alice, id=f"al-{songs['first'].album_id}")["album"]["song"],
        "search3": as_json(client, "search3", as_alice, query="Ebb")["searchResult3"]["song"],
        "getRandomSongs": as_json(client, "getRandomSongs", as_alice, size=50)["randomSongs"]["song"],
        "getPlaylist": as_json(client, "getPlaylist", as_alice, id=f"pl-{playlist.pk}")["playlist"]["entry"],
    }
    for method, entries in lists.items():
        ebb = next(entry for entry in entries if entry["title"] == "Ebb")
        assert ebb["starred"].endswith("Z") and ebb["userRating"] == 5, method
        others = [entry for entry in entries if entry["title"] != "Ebb"]
        assert all(entry.get("starred") is None for entry in others), method
    as_xml(client, "getAlbum", as_alice, id=f"al-{songs['first'].album_id}")


def test_ratings_cost_no_query_per_song(alice, as_alice):
    """An album's ratings come with its songs: twelve songs take as many queries as two."""
    counts = []
    for size in (2, 12):
        album = Album.objects.create(title=f"Album of {size}")
        tracks = [make_song(title=f"Track {i}", album=album, track_number=i, seconds=5.0) for i in range(size)]
        for track in tracks[::2]:
            Rating.objects.rate(alice, track, Rating.LIKE)
        with CaptureQueriesContext(connection) as queries:
            entries = as_json(Client(), "getAlbum", as_alice, id=f"al-{album.pk}")["album"]["song"]
        assert sum(1 for entry in entries if entry.get("starred")) == (size + 1) // 2
        counts.append(len(queries))
    assert counts[0] == counts[1]


# setRating ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "stored", "shown"),
    [(5, Rating.LIKE, 5), (4, Rating.LIKE, 5), (3, None, None), (2, Rating.DISLIKE, 1), (1, Rating.DISLIKE, 1)],
)
def test_set_rating_maps_to_a_like_or_a_dislike(songs, alice, as_alice, rating, stored, shown):
    Rating.objects.rate(alice, songs["first"], Rating.DISLIKE if stored == Rating.LIKE else Rating.LIKE)

    assert as_json(Client(), "setRating", as_alice, id=sid(songs["first"]), rating=rating)["status"] == "ok"

    assert Rating.objects.filter(user=alice, song=songs["first"]).values_list("value", flat=True).first() == stored
    assert song_answer(as_alice, songs["first"]).get("userRating") == shown
    as_xml(Client(), "getSong", as_alice, id=sid(songs["first"]))


def test_rating_zero_clears_a_like_or_a_dislike(songs, alice, as_alice):
    Rating.objects.rate(alice, songs["first"], Rating.LIKE)
    Rating.objects.rate(alice, songs["second"], Rating.DISLIKE)
    for song in (songs["first"], songs["second"]):
        as_json(Client(), "setRating", as_alice, id=sid(song), rating=0)
    assert not Rating.objects.filter(user=alice).exists()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"rating": 5}, 10),
        ({"id": "FIRST"}, 10),
        ({"id": "FIRST", "rating": 6}, 0),
        ({"id": "FIRST", "rating": -1}, 0),
        ({"id": "FIRST", "rating": "five"}, 0),
        ({"id": "tr-999999999", "rating": 5}, 70),
        ({"id": "PRIVATE", "rating": 5}, 70),
    ],
)
def test_a_bad_rating_is_an_error_and_changes_nothing(songs, alice, bob, as_alice, params, code):
    named = {"PRIVATE": sid(songs["private"]), "FIRST": sid(songs["first"])}
    params = {name: named.get(value, value) for name, value in params.items()}
    assert error_code(Client(), "setRating", as_alice, **params) == code
    assert not Rating.objects.exists()


def test_rating_an_album_is_ok_but_stores_nothing(songs, alice, as_alice):
    album_id = f"al-{songs['first'].album_id}"
    assert as_json(Client(), "setRating", as_alice, id=album_id, rating=5)["status"] == "ok"
    assert not Rating.objects.exists()


# getAlbumList2 starred and highest ------------------------------------------------------------------------------------


def test_starred_and_highest_album_lists_hold_the_albums_of_liked_songs(songs, alice, bob, as_alice, as_bob):
    other = Album.objects.create(title="Other Tides")
    other_songs = [make_song(title=f"Wave {i}", album=other, seconds=5.0) for i in range(3)]
    Rating.objects.rate(alice, songs["first"], Rating.LIKE)
    Rating.objects.rate(alice, songs["second"], Rating.LIKE)
    Rating.objects.rate(alice, other_songs[0], Rating.DISLIKE)
    Rating.objects.rate(alice, other_songs[1], Rating.LIKE)  # the last like
    Rating.objects.rate(bob, songs["private"], Rating.LIKE)
    client = Client()

    def names(list_type: str) -> list[str]:
        albums = as_json(client, "getAlbumList2", as_alice, type=list_type, size=50)["albumList2"]["album"]
        as_xml(client, "getAlbumList2", as_alice, type=list_type, size=50)
        return [album["name"] for album in albums]

    assert names("starred") == ["Other Tides", "Low Water"]
    assert names("highest") == ["Low Water", "Other Tides"]
    bob_albums = as_json(client, "getAlbumList2", as_bob, type="starred")
    assert [album["name"] for album in bob_albums["albumList2"]["album"]] == ["Bob Hidden Album"]
