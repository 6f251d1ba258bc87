"""Artist and album pages: their songs, Play all, Start radio, similar artists and albums, privacy; names as links."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Album, Artist, Play, Playlist, Song
from recommender.artwork import song_cover_url
from recommender.similar_artists import similar_artists
from tests.factories import embed, make_song

pytestmark = pytest.mark.django_db

D = 200


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def directions() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    forest = unit(rng.standard_normal(D))
    return {
        "forest": forest,
        "ocean": unit(forest + 0.5 * unit(rng.standard_normal(D))),  # near the forest
        "desert": unit(rng.standard_normal(D)),  # far from both
        "noise": rng,
    }


def songs_by(artist: str, album: str, direction: np.ndarray, rng, *, n: int = 3, **overrides) -> list[Song]:
    album_row = Album.objects.get_or_create(title=album)[0]
    songs = []
    for track in range(1, n + 1):
        song = make_song(
            title=f"{album} {track}", artist=artist, album=album_row, track_number=n + 1 - track, **overrides
        )
        songs.append(embed(song, direction + 0.15 * unit(rng.standard_normal(D))))
    return songs


@pytest.fixture
def library(directions) -> dict[str, list[Song]]:
    rng = directions["noise"]
    return {
        "forest": songs_by("Forest Band", "Forest Sessions", directions["forest"], rng),
        "ocean": songs_by("Ocean Band", "Ocean Sessions", directions["ocean"], rng, n=2),
        "desert": songs_by("Desert Band", "Desert Sessions", directions["desert"], rng),
        # Songs without an artist tag are no one artist: never "similar", however close they sound.
        "unknown": songs_by("Unknown artist", "Untitled", directions["forest"], rng, n=2),
    }


def artist_url(name: str) -> str:
    return reverse("recommender:artist", args=[Artist.objects.get(name=name).pk])


def album_url(title: str) -> str:
    return reverse("recommender:album", args=[Album.objects.get(title=title).pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- The artist page ------------------------------------------------------------------------------------------------


def test_an_artist_page_lists_their_songs_albums_and_similar_artists(alice_client, library):
    response = alice_client.get(artist_url("Forest Band"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Forest Band</h1>" in page
    assert "3 songs · 1 album" in text(response)
    for song in library["forest"]:
        assert f'data-song-id="{song.pk}"' in page
    assert f'href="{album_url("Forest Sessions")}"' in page
    similar = [neighbour.item.name for neighbour in response.context["similar"]]
    assert similar == ["Ocean Band", "Desert Band"]
    assert "Similar artists" in page


def test_similar_artists_are_nearest_first_never_the_artist_itself_nor_unknown_artist(alice, library):
    forest = Artist.objects.get(name="Forest Band")

    neighbours = similar_artists(forest, viewer=alice, k=10)

    assert [neighbour.item.name for neighbour in neighbours] == ["Ocean Band", "Desert Band"]
    assert neighbours[0].similarity > neighbours[1].similarity
    assert all(neighbour.song.artist_id == neighbour.item.pk for neighbour in neighbours)


def test_an_artist_page_has_play_all_and_start_radio(alice_client, library):
    forest = Artist.objects.get(name="Forest Band")
    page = alice_client.get(artist_url("Forest Band")).content.decode()

    assert 'class="play-all" data-queue-target="#artist-songs"' in page
    songs_like = reverse("recommender:artist_songs_like", args=[forest.pk])
    assert re.search(
        rf'<a class="button secondary start-radio" href="{songs_like}" '
        rf'data-radio-kind="artist" data-radio-id="{forest.pk}"',
        page,
    )


def test_songs_like_an_artist_start_with_theirs_and_go_on_to_the_nearest_artists(alice_client, library):
    forest = Artist.objects.get(name="Forest Band")

    response = alice_client.get(reverse("recommender:artist_songs_like", args=[forest.pk]), {"n": 5})

    assert response.status_code == 200
    artists = [song.artist.name for song in response.context["playlist"]]
    assert len(artists) == 5 and artists.count("Forest Band") == 2 and "Desert Band" not in artists[:4]
    assert "Songs like Forest Band" in response.content.decode()


def test_a_long_artist_page_is_paginated_and_play_all_fetches_every_song(alice_client, settings, directions):
    settings.MUSREC_PAGE_SIZE = 2
    songs = songs_by("Long Band", "Long Album", directions["forest"], directions["noise"], n=5)
    artist = Artist.objects.get(name="Long Band")

    first = alice_client.get(artist_url("Long Band"))
    last = alice_client.get(artist_url("Long Band"), {"page": 3})

    assert len(first.context["page"].object_list) == 2 and len(last.context["page"].object_list) == 1
    queue_url = reverse("recommender:artist_queue", args=[artist.pk])
    assert f'data-queue-url="{queue_url}"' in first.content.decode()
    tracks = alice_client.get(queue_url).json()["tracks"]
    # In album order: by track number (songs_by numbers them backwards).
    assert [track["id"] for track in tracks] == [str(song.pk) for song in reversed(songs)]
    song = Song.objects.select_related("album").get(pk=songs[-1].pk)
    assert tracks[0]["cover"] == song_cover_url(song, 128) and tracks[0]["artwork"] == song_cover_url(song, 512)
    assert tracks[0]["artistUrl"] == artist_url("Long Band")


def test_an_artist_with_many_albums_shows_a_bounded_few_and_says_how_many(alice_client, monkeypatch):
    from recommender import views_catalogue

    monkeypatch.setattr(views_catalogue, "MAX_ALBUMS_SHOWN", 2)
    for title in ("Alpha", "Beta", "Gamma"):
        make_song(title=f"{title} song", artist="Prolific", album=Album.objects.create(title=title))

    page = alice_client.get(artist_url("Prolific"))

    assert [album.title for album in page.context["albums"]] == ["Alpha", "Beta"]
    assert "3 albums" in page.content.decode()
    assert "The first 2 of 3 albums" in page.content.decode()
    assert "Gamma song" in page.content.decode()  # every song is still listed


# --- The album page -------------------------------------------------------------------------------------------------


def test_an_album_page_lists_its_songs_in_track_order_and_similar_albums(alice_client, library):
    response = alice_client.get(album_url("Forest Sessions"))

    assert response.status_code == 200
    titles = [song.title for song in response.context["page"].object_list]
    assert titles == ["Forest Sessions 3", "Forest Sessions 2", "Forest Sessions 1"]
    page = response.content.decode()
    assert f'<a href="{artist_url("Forest Band")}">Forest Band</a>' in page
    assert [neighbour.item.title for neighbour in response.context["similar"]][:2] == ["Untitled", "Ocean Sessions"]
    album = Album.objects.get(title="Forest Sessions")
    assert f'data-radio-kind="album" data-radio-id="{album.pk}"' in page
    assert 'img class="cover large"' in page


def test_an_album_of_several_artists_says_various_artists(alice_client, directions):
    album = Album.objects.create(title="Sampler")
    make_song(title="One", artist="A", album=album)
    make_song(title="Two", artist="B", album=album)

    assert "Various artists" in alice_client.get(album_url("Sampler")).content.decode()


def test_an_album_queue_is_in_track_order(alice_client, library):
    album = Album.objects.get(title="Ocean Sessions")

    tracks = alice_client.get(reverse("recommender:album_queue", args=[album.pk])).json()["tracks"]

    assert [track["title"] for track in tracks] == ["Ocean Sessions 2", "Ocean Sessions 1"]


def test_an_unknown_artist_or_album_is_not_found(alice_client):
    assert alice_client.get(reverse("recommender:artist", args=[999_999])).status_code == 404
    assert alice_client.get(reverse("recommender:album", args=[999_999])).status_code == 404


# --- Privacy: two listeners -----------------------------------------------------------------------------------------


def test_someones_private_upload_is_never_listed_nor_counted_on_an_artist_page(
    alice, alice_client, bob_client, library, directions
):
    album = Album.objects.get(title="Forest Sessions")
    secret = make_song(title="Alice demo tape", artist="Forest Band", album=album, owner=alice, in_catalogue=False)
    embed(secret, directions["desert"])

    for url in (artist_url("Forest Band"), album_url("Forest Sessions")):
        mine, theirs = alice_client.get(url), bob_client.get(url)
        assert "Alice demo tape" in mine.content.decode() and "4 songs" in text(mine)
        assert "Alice demo tape" not in theirs.content.decode() and "3 songs" in text(theirs)
    bobs_queue = bob_client.get(reverse("recommender:artist_queue", args=[album.songs.first().artist_id])).json()
    assert str(secret.pk) not in {track["id"] for track in bobs_queue["tracks"]}


def test_an_artist_with_only_someone_elses_private_uploads_does_not_exist_for_others(
    bob, alice_client, bob_client, directions
):
    upload = embed(
        make_song(
            title="Secret",
            artist="Bob's Band",
            album=Album.objects.create(title="Bob's Tape"),
            owner=bob,
            in_catalogue=False,
        ),
        directions["forest"],
    )
    artist, album = upload.artist_id, upload.album_id

    for name, pk in (("artist", artist), ("album", album)):
        assert bob_client.get(reverse(f"recommender:{name}", args=[pk])).status_code == 200
        for what in (name, f"{name}_queue", f"{name}_songs_like"):
            assert alice_client.get(reverse(f"recommender:{what}", args=[pk])).status_code == 404, what


def test_a_private_upload_neither_appears_among_nor_moves_anyone_elses_similar_artists(alice, bob, library, directions):
    forest = Artist.objects.get(name="Forest Band")
    before = [(n.item.pk, round(n.similarity, 6)) for n in similar_artists(forest, viewer=alice)]

    # Bob's band sounds exactly like the forest; his private copy under "Desert Band" would pull the desert closer.
    embed(make_song(title="Twin", artist="Bob's Band", owner=bob, in_catalogue=False), directions["forest"])
    embed(make_song(title="Moved", artist="Desert Band", owner=bob, in_catalogue=False), directions["forest"])
    from recommender.similar_artists import forget_centroids

    forget_centroids()

    assert [(n.item.pk, round(n.similarity, 6)) for n in similar_artists(forest, viewer=alice)] == before
    assert "Bob's Band" not in [n.item.name for n in similar_artists(forest, viewer=bob)]


# --- Names are links wherever shown ---------------------------------------------------------------------------------


def test_artist_and_album_names_are_links_wherever_songs_are_shown(alice, alice_client, library):
    song = library["forest"][0]
    Play.objects.create(user=alice, song=song, seconds_listened=30, completed=True)
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Mine", songs=[song], similarities=[None])
    artist_link = f'href="{artist_url("Forest Band")}"'
    album_link = f'href="{album_url("Forest Sessions")}"'

    for url in (
        reverse("catalog:song_list"),
        song.get_absolute_url(),
        reverse("catalog:history"),
        playlist.get_absolute_url(),
        reverse("recommender:more_like_this", args=[library["ocean"][0].pk]),
    ):
        page = alice_client.get(url).content.decode()
        assert artist_link in page and album_link in page, url


def test_every_listed_song_shows_its_cover_and_gives_the_player_its_addresses(alice_client, library):
    page = alice_client.get(reverse("catalog:song_list")).content.decode()
    song = Song.objects.select_related("album").get(pk=library["forest"][0].pk)

    assert f'src="{song_cover_url(song, 64)}" srcset="{song_cover_url(song, 128)} 2x"' in page
    assert f'data-cover="{song_cover_url(song, 128)}" data-artwork="{song_cover_url(song, 512)}"' in page
    assert f'data-artist-url="{artist_url("Forest Band")}"' in page
