"""For you, starting out, extending a playlist and a path from A to B, on a small synthetic embedded catalogue."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from catalog.models import Album, Genre, Play, Playlist, PlaylistItem, Rating, Song
from recommender import personal
from recommender.core.paths import slerp
from recommender.models import Embedding
from tests.factories import embed, make_song

pytestmark = pytest.mark.django_db

D = 200
KINDS = ("Forest", "Desert", "City")


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def space() -> dict[str, np.ndarray]:
    """Directions of three kinds of music; like the real embeddings, all share a common direction."""
    rng = np.random.default_rng(0)
    common = unit(rng.standard_normal(D))
    return {"common": common, **{kind: unit(common + unit(rng.standard_normal(D))) for kind in KINDS}}


@pytest.fixture
def catalogue(space) -> dict[str, list[Song]]:
    """Six analysed catalogue songs of each kind, one artist each, tagged with the kind as genre."""
    rng = np.random.default_rng(1)
    songs: dict[str, list[Song]] = {}
    for kind in KINDS:
        album = Album.objects.create(title=f"{kind} Album")
        songs[kind] = [
            embed(
                make_song(title=f"{kind} {i}", artist=f"{kind} Artist {i}", album=album, genres=[kind]),
                space[kind] + 0.35 * unit(rng.standard_normal(D)),
            )
            for i in range(1, 7)
        ]
    return songs


def kind_of(song: Song) -> str:
    return song.title.split()[0]


def like(user: User, *songs: Song) -> None:
    for song in songs:
        Rating.objects.rate(user, song, Rating.LIKE)


def recommended(client, **params) -> list[Song]:
    response = client.get(reverse("recommender:for_you"), params)
    assert response.status_code == 200
    return response.context["songs"]


def text(response) -> str:
    return response.content.decode()


def main(response) -> str:
    """The page's own content, without the per-response CSRF tokens."""
    page = text(response)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page[page.index("<main") : page.index("</main>")])


# --- For you -----------------------------------------------------------------------------------------------


def test_it_asks_a_new_person_to_pick_genres_or_songs_they_like(alice_client, catalogue):
    make_song(title="Unheard", genres=["Polka"])  # not analysed: its genre is not offered

    response = alice_client.get(reverse("recommender:for_you"))

    page = text(response)
    assert response.context["songs"] == []
    assert "Tell Musrec what you like" in page
    assert [g.name for g, _ in response.context["genres"]] == ["City", "Desert", "Forest"]
    assert "Polka" not in page
    # One song per album to choose from, and a way to upload a favourite instead.
    assert sorted(kind_of(s) for s, _ in response.context["sample"]) == sorted(KINDS)
    assert reverse("recommender:upload") in page


def test_a_song_analysed_after_the_page_was_drawn_brings_its_genre_to_choose_at_once(alice_client, catalogue, space):
    assert "Polka" not in text(alice_client.get(reverse("recommender:for_you")))

    embed(make_song(title="Polka Night", genres=["Polka"]), space["City"])

    response = alice_client.get(reverse("recommender:for_you"))
    assert [g.name for g, _ in response.context["genres"]] == ["City", "Desert", "Forest", "Polka"]


def test_the_genres_picked_before_are_ticked(alice_client, alice, catalogue):
    alice.favourite_genres.add(Genre.objects.get(name="Desert"))

    response = alice_client.get(reverse("recommender:for_you"))

    assert [g.name for g, ticked in response.context["genres"] if ticked] == ["Desert"]
    assert 'value="desert" checked' in text(response)


def test_picking_a_genre_gives_recommendations_of_that_genre_right_away(alice_client, alice, catalogue):
    response = alice_client.post(reverse("recommender:for_you_start"), {"genres": ["forest"]}, follow=True)

    songs = response.context["songs"]
    assert list(alice.favourite_genres.all()) == [Genre.objects.get(name="Forest")]
    assert {kind_of(s) for s in songs[:6]} == {"Forest"}
    assert songs[0].reason == "Because you like Forest"
    assert "Because you like Forest" in text(response)


def test_liking_songs_when_starting_gives_songs_near_them_with_the_reason(alice_client, alice, catalogue):
    picked = catalogue["Desert"][:2]

    response = alice_client.post(reverse("recommender:for_you_start"), {"songs": [s.pk for s in picked]}, follow=True)

    assert set(Rating.objects.filter(user=alice, value=Rating.LIKE).values_list("song_id", flat=True)) == {
        s.pk for s in picked
    }
    songs = response.context["songs"]
    assert [kind_of(s) for s in songs[:4]] == ["Desert"] * 4
    assert not {s.pk for s in picked} & {s.pk for s in songs}
    assert songs[0].reason in {f"Because you liked “{s.title}”" for s in picked}


def test_someone_who_likes_two_kinds_of_music_gets_both_not_their_average(alice_client, alice, catalogue, space):
    rng = np.random.default_rng(4)
    halfway = unit(space["Forest"] + space["Desert"])
    for i in range(3):
        embed(
            make_song(title=f"Between {i}", artist=f"Between Artist {i}"), halfway + 0.1 * unit(rng.standard_normal(D))
        )
    like(alice, *catalogue["Forest"][:3], *catalogue["Desert"][:3])

    songs = recommended(alice_client)

    # The six unheard Forest and Desert songs come first. One average of the two tastes would put the
    # songs halfway between them first, which are like neither.
    assert sorted(kind_of(s) for s in songs[:6]) == ["Desert"] * 3 + ["Forest"] * 3
    reasons = {kind_of(s): s.reason for s in songs[:6]}
    assert reasons["Forest"].startswith("Because you liked “Forest")
    assert reasons["Desert"].startswith("Because you liked “Desert")
    assert len({s.pk for s in songs}) == len(songs)


def test_it_leaves_out_songs_liked_disliked_or_played_lately_but_not_long_ago(alice_client, alice, catalogue):
    forest = catalogue["Forest"]
    like(alice, forest[0], forest[1])
    Rating.objects.rate(alice, forest[2], Rating.DISLIKE)
    Play.objects.create(user=alice, song=forest[3], completed=True, seconds_listened=1)
    Play.objects.create(
        user=alice, song=forest[4], completed=True, seconds_listened=1, played_at=timezone.now() - timedelta(days=40)
    )

    ids = {s.pk for s in recommended(alice_client)}

    assert not ids & {forest[0].pk, forest[1].pk, forest[2].pk, forest[3].pk}
    assert {forest[4].pk, forest[5].pk} <= ids


def test_a_song_nearer_a_disliked_song_than_to_the_taste_is_left_out(alice_client, alice, catalogue, space):
    forest = catalogue["Forest"]
    like(alice, *forest[:4])
    disliked = embed(make_song(title="Forest Noise", artist="Noisy"), space["City"])
    twin = embed(make_song(title="Forest Noise Again", artist="Noisier"), space["City"] + 0.05 * space["Forest"])
    before = {s.pk for s in recommended(alice_client)}

    Rating.objects.rate(alice, disliked, Rating.DISLIKE)

    after = {s.pk for s in recommended(alice_client)}
    assert twin.pk in before
    assert twin.pk not in after
    assert {s.pk for s in forest[4:]} <= after


def test_recent_listening_counts_more_than_old_listening(alice_client, alice, catalogue):
    long_ago = timezone.now() - timedelta(days=200)
    for song in catalogue["Desert"][:3]:
        for _ in range(3):
            Play.objects.create(user=alice, song=song, completed=True, seconds_listened=1, played_at=long_ago)
    for song in catalogue["City"][:3]:
        Play.objects.create(user=alice, song=song, completed=True, seconds_listened=1)

    songs = recommended(alice_client)

    assert [kind_of(s) for s in songs[:3]] == ["City"] * 3
    assert songs[0].reason.startswith("Because you played “City")


def test_repeated_plays_make_the_reason_often(alice_client, alice, catalogue):
    for _ in range(3):
        Play.objects.create(user=alice, song=catalogue["City"][0], completed=True, seconds_listened=1)

    songs = recommended(alice_client)

    assert songs[0].reason == "Because you often play “City 1”"


def test_a_saved_playlist_counts_and_is_named_in_the_reason(alice_client, alice, catalogue):
    playlist = Playlist.objects.create(owner=alice, name="Dunes")
    for position, song in enumerate(catalogue["Desert"][:3], start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position)

    songs = recommended(alice_client)

    assert kind_of(songs[0]) == "Desert"
    assert songs[0].reason.endswith("is in your playlist “Dunes”")


def test_it_uses_only_alices_own_history_and_never_shows_private_uploads(alice_client, alice, bob, catalogue, space):
    like(bob, *catalogue["City"])
    bobs_secret = embed(make_song(title="Bob's Forest Demo", owner=bob, in_catalogue=False), space["Forest"])
    alices_own = embed(make_song(title="Alice's Forest Demo", owner=alice, in_catalogue=False), space["Forest"])
    like(alice, *catalogue["Forest"][:2])

    response = alice_client.get(reverse("recommender:for_you"))

    songs = response.context["songs"]
    assert {kind_of(s) for s in songs[:4]} == {"Forest"}
    ids = {s.pk for s in songs}
    assert bobs_secret.pk not in ids and alices_own.pk not in ids
    assert "Bob's Forest Demo" not in text(response)


def test_a_like_of_a_song_alice_can_no_longer_see_is_not_used_nor_named(alice_client, alice, bob, catalogue, space):
    taken_back = embed(make_song(title="Withdrawn Demo", owner=bob, in_catalogue=False), space["Forest"])
    like(alice, taken_back)

    response = alice_client.get(reverse("recommender:for_you"))

    assert response.context["songs"] == []
    assert "Withdrawn Demo" not in text(response)


def test_an_own_upload_is_a_favourite_to_start_from(alice_client, alice, catalogue, space):
    embed(make_song(title="My Desert Song", owner=alice, in_catalogue=False), space["Desert"])

    songs = recommended(alice_client)

    assert kind_of(songs[0]) == "Desert"
    assert songs[0].reason == "Because you uploaded “My Desert Song”"


def liked_near(alice: User, direction: np.ndarray, count: int, *, name: str, seed: int) -> list[Song]:
    """``count`` catalogue songs around ``direction``, each by an artist of its own, that Alice likes."""
    rng = np.random.default_rng(seed)
    songs = [
        embed(
            make_song(title=f"{name} {i}", artist=f"{name} Artist {i}"),
            direction + 0.35 * unit(rng.standard_normal(D)),
        )
        for i in range(count)
    ]
    like(alice, *songs)
    return songs


def test_within_each_kind_of_music_the_closest_song_comes_first(alice_client, alice, catalogue, space):
    like(alice, *catalogue["Forest"][:2], *catalogue["Desert"][:2])
    # A hub: near everything, so CSLS ranks it below songs its cosine beats; the list still reads in order.
    hub = max(
        catalogue["Forest"][2:], key=lambda s: float(np.asarray(Embedding.objects.of_song(s).vector) @ space["Forest"])
    )
    Embedding.objects.filter(song=hub).update(neighbour_similarity=0.9)

    response = alice_client.get(reverse("recommender:for_you"))

    songs = response.context["songs"]
    assert hub in songs
    for centre in range(len(response.context["centres"])):
        matches = [s.similarity for s in songs if s.centre == centre]
        assert matches == sorted(matches, reverse=True)
    assert "within each kind the closest song comes first" in text(response)


def test_each_match_is_read_among_the_catalogues_songs_near_that_side_of_the_taste(alice_client, alice, catalogue):
    like(alice, *catalogue["Forest"][:2], *catalogue["Desert"][:2])

    response = alice_client.get(reverse("recommender:for_you"))

    page, songs = text(response), response.context["songs"]
    shown = [int(m) for m in re.findall(r"(\d+)\u00a0%<span class=\"match-word\"> match", page)]
    assert len(shown) == len(songs)
    for centre in range(len(response.context["centres"])):
        mine = [match for match, song in zip(shown, songs, strict=True) if song.centre == centre]
        assert mine == sorted(mine, reverse=True)
    # A centre is nearer its songs than songs are to each other: read among pairs of songs, all would be 100 %.
    assert len(set(shown)) > 3 and min(shown) < 100
    assert "Closer to this side of your taste than" in page


def test_each_song_is_credited_to_the_liked_song_it_is_most_like(alice_client, alice, catalogue, space):
    liked = liked_near(alice, space["Forest"], 8, name="Wood", seed=7)

    response = alice_client.get(reverse("recommender:for_you"))

    songs, centres = response.context["songs"], response.context["centres"]
    assert len(centres) == 1  # one kind of music: one centre, made of eight likes
    vectors = {s.pk: np.asarray(Embedding.objects.of_song(s).vector) for s in [*liked, *songs]}
    for song in songs:
        most_like = max(liked, key=lambda mine: float(unit(vectors[song.pk]) @ unit(vectors[mine.pk])))
        assert song.reason_song == most_like
        assert song.reason == f"Because you liked “{most_like.title}”"
    assert len({s.reason_song for s in songs}) > 1


def test_every_upload_counts_even_beside_many_likes(alice_client, alice, catalogue, space):
    liked_near(alice, space["City"], 12, name="Street", seed=8)
    rng = np.random.default_rng(9)
    uploads = [
        embed(make_song(title=title, owner=alice, in_catalogue=False), space[kind] + 0.2 * unit(rng.standard_normal(D)))
        for title, kind in (
            ("My forest demo", "Forest"),
            ("My other forest demo", "Forest"),
            ("My desert demo", "Desert"),
        )
    ]

    songs = recommended(alice_client)

    credited = {s.reason_song for s in songs}
    assert set(uploads) <= credited
    for upload in uploads:
        assert f"Because you uploaded “{upload.title}”" in {s.reason for s in songs}


def test_the_list_is_a_queue_with_play_all_and_song_actions(alice_client, alice, catalogue):
    like(alice, catalogue["City"][0])

    page = text(alice_client.get(reverse("recommender:for_you")))

    assert 'class="for-you-list" data-queue' in page
    assert 'class="play-all"' in page
    assert f'data-song-id="{catalogue["City"][1].pk}"' in page


def test_htmx_refreshes_just_the_list(alice_client, alice, catalogue):
    like(alice, catalogue["City"][0])

    response = alice_client.get(reverse("recommender:for_you"), headers={"HX-Request": "true", "HX-Target": "for-you"})

    page = text(response)
    assert page.lstrip().startswith('<section id="for-you"')
    assert "Tell Musrec" not in page and "<html" not in page


def test_saving_for_you_makes_a_playlist_of_the_list(alice_client, alice, catalogue):
    like(alice, *catalogue["Forest"][:2])
    shown = [s.pk for s in recommended(alice_client)]

    response = alice_client.post(reverse("recommender:for_you_save"), {"name": "My mix"})

    playlist = Playlist.objects.get(owner=alice, name="My mix")
    assert response.url == playlist.get_absolute_url()
    assert list(playlist.items.values_list("song_id", flat=True)) == shown


@pytest.mark.parametrize("data", [{}, {"name": ""}, {"name": "x" * 121}, {"name": "bad\x00name"}])
def test_saving_for_you_with_a_bad_name_saves_nothing(alice_client, alice, catalogue, data):
    like(alice, catalogue["Forest"][0])

    response = alice_client.post(reverse("recommender:for_you_save"), data, follow=True)

    assert not Playlist.objects.exists()
    assert "The playlist was not saved" in text(response)


def test_saving_an_empty_for_you_saves_nothing(alice_client, catalogue):
    response = alice_client.post(reverse("recommender:for_you_save"), {"name": "Nothing"}, follow=True)

    assert not Playlist.objects.exists()
    assert "nothing to save yet" in text(response)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"genres": ["no-such-genre"]},
        {"genres": ["forest\x00"]},
        {"songs": ["abc"]},
        {"songs": ["99999999999999999999"]},
        {"songs": ["-1"]},
    ],
)
def test_starting_with_forged_choices_changes_nothing(alice_client, alice, catalogue, data):
    response = alice_client.post(reverse("recommender:for_you_start"), data)

    assert response.status_code == 400
    assert not Rating.objects.exists()
    assert not alice.favourite_genres.exists()
    assert 'class="error"' in text(response)


def test_starting_with_bobs_private_upload_is_refused_as_if_it_did_not_exist(
    alice_client, alice, bob, space, catalogue
):
    secret = embed(make_song(title="Secret", owner=bob, in_catalogue=False), space["City"])

    response = alice_client.post(reverse("recommender:for_you_start"), {"songs": [secret.pk, catalogue["City"][0].pk]})
    missing = alice_client.post(reverse("recommender:for_you_start"), {"songs": [secret.pk + 1000]})

    assert response.status_code == missing.status_code == 400
    assert not Rating.objects.exists()
    assert str(secret.pk) in text(response) and "Secret" not in text(response)


def test_starting_with_a_song_that_was_never_analysed_is_refused(alice_client, catalogue):
    unanalysed = make_song(title="Raw")

    response = alice_client.post(reverse("recommender:for_you_start"), {"songs": [unanalysed.pk]})

    assert response.status_code == 400
    assert not Rating.objects.exists()


# --- Extend this playlist ----------------------------------------------------------------------------------


def make_playlist(owner: User, songs: list[Song], name: str = "Mix") -> Playlist:
    playlist = Playlist.objects.create(owner=owner, name=name)
    for position, song in enumerate(songs, start=1):
        PlaylistItem.objects.create(playlist=playlist, song=song, position=position)
    return playlist


def test_the_playlist_page_offers_to_extend_it(alice_client, alice, catalogue):
    playlist = make_playlist(alice, catalogue["Forest"][:2])

    page = text(alice_client.get(playlist.get_absolute_url()))

    assert f'action="{reverse("recommender:extend_playlist", args=[playlist.pk])}"' in page
    assert "similar songs" in page


def test_extending_a_playlist_appends_songs_like_it_never_ones_already_in_it(alice_client, alice, catalogue):
    forest, desert = catalogue["Forest"], catalogue["Desert"]
    playlist = make_playlist(alice, [forest[0], desert[0], forest[1], desert[1]])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 8}, follow=True)

    items = list(playlist.items.order_by("position").select_related("song"))
    assert [i.position for i in items] == list(range(1, 13))
    added = [i.song for i in items[4:]]
    assert sorted(kind_of(s) for s in added) == ["Desert"] * 4 + ["Forest"] * 4
    assert len({i.song_id for i in items}) == 12
    assert all(0 < i.similarity <= 1 for i in items[4:])
    assert "Added 8 songs like this playlist." in text(response)


def test_extending_counts_the_artists_already_in_the_playlist(alice_client, alice, catalogue):
    rng = np.random.default_rng(3)
    forest = catalogue["Forest"]
    near = np.asarray(Embedding.objects.of_song(forest[0]).vector)
    anns = [
        embed(make_song(title=f"Forest by Ann {i}", artist="Ann"), near + 0.1 * unit(rng.standard_normal(D)))
        for i in range(3)
    ]
    playlist = make_playlist(alice, [forest[0], anns[0]])

    alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5})

    added = set(playlist.items.values_list("song_id", flat=True)) - {forest[0].pk, anns[0].pk}
    # Ann has one song in the playlist already: one more of hers, the nearest songs of all, and no more.
    assert len(added & {s.pk for s in anns}) == 1
    assert len(added) == 5


def test_extending_leaves_out_what_the_owner_disliked(alice_client, alice, catalogue):
    forest = catalogue["Forest"]
    Rating.objects.rate(alice, forest[5], Rating.DISLIKE)
    playlist = make_playlist(alice, forest[:2])

    alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 10})

    assert not playlist.items.filter(song=forest[5]).exists()
    assert playlist.items.filter(song=forest[4]).exists()


def test_extending_bobs_playlist_as_alice_is_404_and_changes_nothing(alice_client, bob, catalogue):
    playlist = make_playlist(bob, catalogue["City"][:2])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5})
    missing = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk + 100]), {"n": 5})

    assert response.status_code == missing.status_code == 404
    assert playlist.items.count() == 2


@pytest.mark.parametrize("n", ["4", "51", "", "abc", "5\x00", "1e3"])
def test_extending_by_a_bad_number_says_so_and_changes_nothing(alice_client, alice, catalogue, n):
    playlist = make_playlist(alice, catalogue["City"][:2])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": n}, follow=True)

    assert playlist.items.count() == 2
    assert "The playlist was not extended" in text(response)


def test_extending_a_long_playlist_clusters_a_sample_not_every_song(alice_client, alice, catalogue, monkeypatch):
    """A 20,000-song playlist once built a 20,000 x 20,000 matrix; the centres come from a sample now."""
    monkeypatch.setattr(personal, "MAX_POSITIVES", 4)
    clustered: list[int] = []
    taste_centres = personal.taste.taste_centres
    monkeypatch.setattr(
        personal.taste,
        "taste_centres",
        lambda vectors, *a, **kw: clustered.append(len(vectors)) or taste_centres(vectors, *a, **kw),
    )
    playlist = make_playlist(alice, catalogue["Forest"][:5] + catalogue["Desert"][:5])

    alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5})

    assert clustered == [4]
    assert playlist.items.count() > 10  # songs were still added


def test_a_full_playlist_is_not_extended_and_says_why(alice_client, alice, catalogue, monkeypatch):
    monkeypatch.setattr(personal, "MAX_PLAYLIST_SONGS", 3)
    playlist = make_playlist(alice, catalogue["Forest"][:3])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5}, follow=True)

    assert playlist.items.count() == 3
    assert "this one is full" in text(response)


def test_extending_fills_a_playlist_only_up_to_its_limit(alice_client, alice, catalogue, monkeypatch):
    monkeypatch.setattr(personal, "MAX_PLAYLIST_SONGS", 5)
    playlist = make_playlist(alice, catalogue["Forest"][:3])

    alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5})

    assert playlist.items.count() == 5


def test_extending_a_playlist_of_unanalysed_songs_says_why_nothing_was_added(alice_client, alice, catalogue):
    playlist = make_playlist(alice, [make_song(title="Raw 1"), make_song(title="Raw 2")])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5}, follow=True)

    assert playlist.items.count() == 2
    assert "has been analysed yet" in text(response)


def test_extending_an_empty_playlist_says_to_add_songs_first(alice_client, alice, catalogue):
    playlist = make_playlist(alice, [])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 10}, follow=True)

    assert "This playlist is empty: add a few songs first, and Extend finds more like them." in text(response)
    assert "analysed" not in main(response)
    assert playlist.items.count() == 0


def one_artists_album(space, *, songs: int, seed: int = 4) -> list[Song]:
    """A soundtrack: many songs by one composer, all alike (as a game's are), near the Forest songs."""
    rng = np.random.default_rng(seed)
    return [
        embed(make_song(title=f"Level {i}", artist="Composer"), space["Forest"] + 0.15 * unit(rng.standard_normal(D)))
        for i in range(songs)
    ]


def test_extending_looks_further_when_the_nearest_songs_are_all_by_the_playlists_artist(
    alice_client, alice, catalogue, space
):
    levels = one_artists_album(space, songs=100)
    playlist = make_playlist(alice, levels[:2])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 10}, follow=True)

    added = [item.song for item in playlist.items.order_by("position")[2:]]
    assert len(added) == 10
    assert not [song for song in added if song.artist.name == "Composer"]  # two in the playlist: the limit
    assert "Added 10 songs like this playlist." in text(response)


def test_extending_says_how_many_it_added_and_that_the_artist_limit_stopped_it(alice_client, alice, space):
    levels = one_artists_album(space, songs=20)
    # The others nearest of all, so that even an approximate index search (HNSW) finds them.
    rng, first = np.random.default_rng(5), np.asarray(Embedding.objects.of_song(levels[0]).vector)
    others = [embed(make_song(title=f"Other {i}"), first + 0.1 * unit(rng.standard_normal(D))) for i in "abc"]
    playlist = make_playlist(alice, levels[:1])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 10}, follow=True)

    added = {item.song_id for item in playlist.items.all()} - {levels[0].pk}
    assert len(added) == 4 and {s.pk for s in others} < added
    assert (
        "Added 4 of the 10 songs asked for: at most 2 songs by one artist are added, counting those already in the "
        "playlist, and the catalogue&#x27;s other songs like these are by artists who already have 2."
    ) in text(response)


def test_extending_says_so_when_the_catalogue_has_nothing_more_like_it(alice_client, alice, space):
    rng = np.random.default_rng(6)
    songs = [embed(make_song(title=f"Only {i}"), space["City"] + 0.3 * unit(rng.standard_normal(D))) for i in range(3)]
    playlist = make_playlist(alice, songs[:2])

    response = alice_client.post(reverse("recommender:extend_playlist", args=[playlist.pk]), {"n": 5}, follow=True)

    assert playlist.items.count() == 3
    assert (
        "Added 1 of the 5 songs asked for: the catalogue has no more analysed songs like these that are not in the "
        "playlist or disliked."
    ) in text(response)


def test_extending_needs_a_post_and_a_login(client, alice_client, alice, catalogue):
    playlist = make_playlist(alice, catalogue["City"][:2])
    url = reverse("recommender:extend_playlist", args=[playlist.pk])

    assert alice_client.get(url).status_code == 405
    assert client.post(url, {"n": 5}).status_code == 302
    assert playlist.items.count() == 2


# --- A path from A to B ------------------------------------------------------------------------------------


@pytest.fixture
def bridge(space, catalogue) -> list[Song]:
    """Songs on the way from Forest to Desert."""
    rng = np.random.default_rng(2)
    start, goal = (
        Embedding.objects.of_song(catalogue["Forest"][0]).vector,
        Embedding.objects.of_song(catalogue["Desert"][0]).vector,
    )
    points = slerp(np.asarray(start), np.asarray(goal), np.linspace(0.1, 0.9, 12))
    return [
        embed(make_song(title=f"Bridge {i}", artist=f"Bridge Artist {i}"), p + 0.1 * unit(rng.standard_normal(D)))
        for i, p in enumerate(points, start=1)
    ]


def path_url(**params) -> str:
    from urllib.parse import urlencode

    return reverse("recommender:path") + "?" + urlencode(params)


def test_a_path_leads_from_a_to_b_step_by_step(alice_client, catalogue, bridge):
    start, goal = catalogue["Forest"][0], catalogue["Desert"][0]

    response = alice_client.get(path_url(**{"from": start.pk, "to": goal.pk, "n": 6}))

    result = response.context["result"]
    assert response.status_code == 200
    assert result.songs[0] == start and result.songs[-1] == goal and result.steps == 6
    to_goal = [s.to_goal for s in result.songs]
    to_start = [s.to_start for s in result.songs]
    assert sum(b > a for a, b in pairwise(to_goal)) >= 6
    assert sum(b < a for a, b in pairwise(to_start)) >= 6
    assert len({s.pk for s in result.songs}) == 8
    page = text(response)
    assert "<polyline" in page and 'class="play-all"' in page


def test_the_song_page_links_to_a_path_from_it(alice_client, catalogue):
    song = catalogue["City"][0]

    page = text(alice_client.get(song.get_absolute_url()))

    assert f"{reverse('recommender:path')}?from={song.pk}" in page


def test_a_path_page_with_only_a_start_shows_it_chosen(alice_client, catalogue):
    start = catalogue["City"][0]

    response = alice_client.get(path_url(**{"from": start.pk}))

    assert response.status_code == 200
    assert response.context["result"] is None
    assert f'name="from" value="{start.pk}" checked' in text(response)


def test_the_picker_searches_songs_alice_can_see(alice_client, bob, catalogue, space):
    embed(make_song(title="Desert Secret", owner=bob, in_catalogue=False), space["Desert"])

    response = alice_client.get(path_url(find_to="desert"), headers={"HX-Request": "true", "HX-Target": "pick-to"})

    page = text(response)
    assert page.lstrip().startswith('<div class="picker-options" id="pick-to">')
    assert page.count('type="radio" name="to"') == 6
    assert "Desert Secret" not in page


def test_the_picker_works_without_javascript(alice_client, catalogue):
    response = alice_client.get(path_url(find_from="forest 3", find_to="city"))

    page = text(response)
    assert f'name="from" value="{catalogue["Forest"][2].pk}"' in page
    assert f'name="to" value="{catalogue["City"][0].pk}"' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": "2"}, "greater than or equal to 3"),
        ({"n": "31"}, "less than or equal to 30"),
        ({"n": "many"}, "Enter a whole number"),
        ({"to": "same"}, "Pick two different songs"),
        ({"to": "abc"}, "not one you can choose"),
        ({"to": "\x00"}, "not one you can choose"),
        ({"to": "99999999999999999999"}, "not one you can choose"),
    ],
)
def test_a_path_with_bad_input_says_what_is_wrong(alice_client, catalogue, params, message):
    start = catalogue["Forest"][0]
    params = {"from": start.pk, "to": catalogue["Desert"][0].pk, **params}
    if params["to"] == "same":
        params["to"] = start.pk

    response = alice_client.get(path_url(**params))

    assert response.status_code == 400
    assert response.context["result"] is None
    assert message in text(response)


def test_a_path_to_bobs_private_upload_is_refused_as_if_it_did_not_exist(alice_client, bob, catalogue, space):
    secret = embed(make_song(title="Bob's Secret", owner=bob, in_catalogue=False), space["Desert"])
    start = catalogue["Forest"][0]

    response = alice_client.get(path_url(**{"from": start.pk, "to": secret.pk}))
    missing = alice_client.get(path_url(**{"from": start.pk, "to": secret.pk + 1000}))

    assert response.status_code == missing.status_code == 400
    assert main(response).replace(str(secret.pk), "ID") == main(missing).replace(str(secret.pk + 1000), "ID")
    assert "Bob's Secret" not in text(response)


def test_a_path_from_a_song_without_an_embedding_says_so(alice_client, catalogue):
    raw = make_song(title="Unanalysed Tune")

    response = alice_client.get(path_url(**{"from": raw.pk, "to": catalogue["City"][0].pk}))

    assert response.status_code == 400
    assert "“Unanalysed Tune” has not been analysed yet" in text(response)


def test_a_path_from_alices_own_upload_is_allowed(alice_client, alice, catalogue, bridge, space):
    mine = embed(make_song(title="My Forest Demo", owner=alice, in_catalogue=False), space["Forest"])

    response = alice_client.get(path_url(**{"from": mine.pk, "to": catalogue["Desert"][0].pk, "n": 3}))

    assert response.status_code == 200
    assert response.context["result"].songs[0] == mine


def test_saving_a_path_makes_a_playlist_from_a_to_b(alice_client, alice, catalogue, bridge):
    start, goal = catalogue["Forest"][0], catalogue["Desert"][0]
    shown = alice_client.get(path_url(**{"from": start.pk, "to": goal.pk, "n": 5})).context["result"].songs

    response = alice_client.post(
        reverse("recommender:save_path"), {"from": start.pk, "to": goal.pk, "n": 5, "name": "Forest to Desert"}
    )

    playlist = Playlist.objects.get(owner=alice)
    assert response.url == playlist.get_absolute_url()
    assert playlist.name == "Forest to Desert" and playlist.seed == start
    assert list(playlist.items.values_list("song_id", flat=True)) == [s.pk for s in shown]


@pytest.mark.parametrize(
    "data",
    [
        {"to": "same"},
        {"n": "40"},
        {"name": ""},
        {"to": ""},
        {"to": "abc"},
    ],
)
def test_saving_a_path_with_bad_input_saves_nothing(alice_client, catalogue, data):
    start = catalogue["Forest"][0]
    data = {"from": start.pk, "to": catalogue["Desert"][0].pk, "n": 5, "name": "P", **data}
    if data["to"] == "same":
        data["to"] = start.pk

    response = alice_client.post(reverse("recommender:save_path"), data, follow=True)

    assert not Playlist.objects.exists()
    assert "The path was not saved" in text(response)


# --- Access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("recommender:for_you", "get"),
        ("recommender:for_you_start", "post"),
        ("recommender:for_you_save", "post"),
        ("recommender:path", "get"),
        ("recommender:save_path", "post"),
    ],
)
def test_visitors_are_sent_to_log_in(client, name, method):
    response = getattr(client, method)(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["recommender:for_you_start", "recommender:for_you_save", "recommender:save_path"])
def test_changes_need_a_post(alice_client, name):
    assert alice_client.get(reverse(name)).status_code == 405


# --- Does personalisation help? ----------------------------------------------------------------------------


def test_for_you_ranks_a_listeners_unheard_favourites_far_above_chance_and_popularity(db):
    """A listener likes half the songs of two of eight kinds; For you must find the other halves.

    Twelve other listeners like songs of random kinds, which makes a popularity list (most liked by others).
    """
    rng = np.random.default_rng(42)
    common = unit(rng.standard_normal(D))
    kinds = [unit(common + unit(rng.standard_normal(D))) for _ in range(8)]
    songs = [
        [
            embed(make_song(title=f"K{k} S{i}", artist=f"K{k} A{i}"), v + 0.45 * unit(rng.standard_normal(D)))
            for i in range(10)
        ]
        for k, v in enumerate(kinds)
    ]
    for n in range(12):
        other = User.objects.create_user(f"listener{n}")
        for k in rng.choice(8, 2, replace=False):
            like(other, *[songs[k][i] for i in rng.choice(10, 5, replace=False)])
    listener = User.objects.create_user("listener")
    liked, held_out = [], []
    for k in (2, 5):
        order = rng.permutation(10)
        liked += [songs[k][i] for i in order[:5]]
        held_out += [songs[k][i] for i in order[5:]]
    like(listener, *liked)
    k = 10
    unseen = [s for kind in songs for s in kind if s not in liked]

    ours = personal.for_you(listener, k=k).songs
    liked_ids = {s.pk for s in liked}
    popularity = most_liked_by_others(listener, leaving_out=liked_ids)[:k]

    held = {s.pk for s in held_out}
    precision = sum(s.pk in held for s in ours) / k
    popular_precision = sum(pk in held for pk in popularity) / k
    chance = len(held) / len(unseen)
    assert precision >= 0.8
    assert precision >= 3 * chance
    assert precision >= popular_precision + 0.3


def most_liked_by_others(user: User, *, leaving_out: set[int]) -> list[int]:
    counts = Counter(
        Rating.objects.filter(value=Rating.LIKE)
        .exclude(user=user)
        .exclude(song_id__in=leaving_out)
        .values_list("song_id", flat=True)
    )
    return [pk for pk, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
