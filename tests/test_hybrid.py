"""The blend of sound and co-listening in the product (issue 14): More like this, For you, extending a playlist, radio
and Subsonic's instant mix, on real PostgreSQL and Redis with the collaborative model trained by the real job.

The catalogue is built so that the two sides disagree: two acoustic clusters, A and B, far apart. Six fans play the
seed, in A, and "Far Favourite", in B; alice plays the seed and four songs of A nobody else plays, so the model knows
her, but she has never heard "Far Favourite". By sound alone "Far Favourite" is nowhere near the seed; by what people
play together it is the seed's company. Two other crowds (one in A, one in B) give the model songs it knows that the
seed's fans do not play. Bob keeps a private upload right next to the seed, which the fans and he play and like, and
he alone plays "Beta 0" with the seed, on repeat."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Genre, Playlist, PlaylistItem, Rating, Song
from recommender import radio
from recommender.collaborative import ListenerFactor, SongFactor, current_model, train_collaborative_model
from recommender.core.radio import TOGETHER_REASON
from recommender.models import Embedding
from recommender.personal import extend_playlist, for_you
from subsonic.models import ApiSecret
from tests.factories import embed, make_song
from tests.test_listeners_also_played import listen, people
from tests.test_subsonic import as_json, token

D = 200
ALPHAS = 24  # cluster A besides the seed: more than For you's 20, so its list fills with A by sound alone
BETAS = 14  # cluster B besides "Far Favourite"; the whole catalogue stays under the radio's 60 candidates
FANS = 6
SEED, FAR, SECRET, BOBS_OWN = "Seed Anthem", "Far Favourite", "Bob's Secret Demo", "Bob's Bedroom Tape"
TOGETHER_TEXT = f"People who play “{SEED}” also play this"
HTMX = {"HX-Request": "true"}


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@dataclass
class World:
    seed: Song
    far: Song
    alphas: list[Song]  # alphas[0:4] are alice's own; alphas[-1] nobody plays
    betas: list[Song]
    secret: Song  # bob's private upload, next to the seed
    bobs_own: Song  # another private upload that only bob plays
    fans: list[User]


@pytest.fixture(name="world")
def world_fixture(alice, bob) -> World:
    rng = np.random.default_rng(14)
    a, b = np.linalg.qr(rng.standard_normal((D, 2)))[0].T

    def around(centre: np.ndarray, spread: float) -> np.ndarray:
        return unit(centre + spread * unit(rng.standard_normal(D)))

    seed = embed(make_song(title=SEED, artist="Seed Artist"), around(a, 0.3))
    alphas = [embed(make_song(title=f"Alpha {i}", artist=f"Alpha artist {i}"), around(a, 0.6)) for i in range(ALPHAS)]
    far = embed(make_song(title=FAR, artist="Far Artist"), around(b, 0.6))
    betas = [embed(make_song(title=f"Beta {i}", artist=f"Beta artist {i}"), around(b, 0.6)) for i in range(BETAS)]
    secret = embed(make_song(title=SECRET, artist="Bob Hidden", owner=bob, in_catalogue=False), around(a, 0.2))
    bobs_own = embed(make_song(title=BOBS_OWN, artist="Bob Hidden", owner=bob, in_catalogue=False), around(a, 0.3))

    fans = people("fan", FANS)
    for fan in fans:
        listen(fan, [seed, far], times=2)
        # The secret was played and liked by everyone while it was shared: it must still never enter the model.
        listen(fan, [secret], times=3)
        Rating.objects.create(user=fan, song=secret, value=Rating.LIKE)
    listen(alice, [seed, *alphas[:4]], times=2)
    for rock in people("rock", 6):
        listen(rock, alphas[4:8])
    for jazz in people("jazz", 6):
        listen(jazz, betas[:4])
    listen(bob, [secret, bobs_own], times=20)
    listen(bob, [seed, far])
    # Bob alone plays "Beta 0" with the seed, on repeat; the jazz crowd plays it for reasons of its own.
    listen(bob, [seed, betas[0]], times=15)
    Rating.objects.create(user=bob, song=betas[0], value=Rating.LIKE)
    Rating.objects.create(user=bob, song=secret, value=Rating.LIKE)
    mine = Playlist.objects.create(owner=bob, name="Bob's mix")
    PlaylistItem.objects.create(playlist=mine, song=secret, position=1)
    PlaylistItem.objects.create(playlist=mine, song=bobs_own, position=2)
    return World(seed, far, alphas, betas, secret, bobs_own, fans)


@pytest.fixture(name="trained")
def trained_fixture(world) -> World:
    assert train_collaborative_model() > 0
    model = current_model()
    assert SongFactor.objects.get(model=model, song=world.far).listeners == FANS + 1  # the fans and bob
    return world


def titles(songs: list[Song]) -> list[str]:
    return [song.title for song in songs]


def pks(songs: list[Song]) -> list[int]:
    return [song.pk for song in songs]


def named_in(text: str) -> list[str]:
    """The song titles a reason names, between “ and ”."""
    return re.findall(r"“([^”]*)”", text)


def placed_together(reason: str, viewer: User) -> bool:
    """Whether a radio's ``reason`` says the song is there for what people play together: in general, or naming a
    song ``viewer`` may see."""
    if reason == TOGETHER_REASON:
        return True
    named = re.fullmatch(r"People who play “(.*)” also play this", reason)
    return named is not None and Song.objects.visible_to(viewer).filter(title=named[1]).exists()


def more_like_this(client: Client, song: Song, n: int = 5) -> str:
    response = client.get(reverse("recommender:more_like_this", args=[song.pk]), {"n": n}, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


# More like this ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_more_like_this_adds_the_song_the_seeds_listeners_play_together_and_says_why(trained, alice, alice_client):
    audio = Embedding.objects.similar_songs(trained.seed, k=5)
    blended = Embedding.objects.similar_songs(trained.seed, k=5, viewer=alice)

    assert FAR not in titles(audio) and all(song.side == "audio" for song in audio)
    assert FAR in titles(blended)
    far = blended[titles(blended).index(FAR)]
    assert far.side == "together" and far.together_with == trained.seed
    assert len(blended) == 5

    html = more_like_this(alice_client, trained.seed)
    assert TOGETHER_TEXT in html
    assert FAR in html
    # The other songs are there for their sound, and say so.
    assert f"Sounds like “{SEED}”" in html


@pytest.mark.django_db
def test_with_the_blend_switched_off_more_like_this_is_the_audio_list(trained, alice, alice_client, settings):
    audio = pks(Embedding.objects.similar_songs(trained.seed, k=5))
    settings.MUSREC_CF_BLEND_MAX = 0

    assert pks(Embedding.objects.similar_songs(trained.seed, k=5, viewer=alice)) == audio
    html = more_like_this(alice_client, trained.seed)
    assert FAR not in html and "People who play" not in html
    assert "Sounds like" not in html  # no reasons at all while every song is there for its sound


@pytest.mark.django_db
def test_a_blended_more_like_this_costs_the_same_queries_for_5_and_20_songs(trained, alice_client, settings):
    more_like_this(alice_client, trained.seed, n=10)  # the session's own first queries (the user, the session)

    def queries_for(n: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            more_like_this(alice_client, trained.seed, n=n)
        return len(queries)

    blended = [queries_for(5), queries_for(20)]
    settings.MUSREC_CF_BLEND_MAX = 0
    audio = queries_for(5)

    assert blended[0] == blended[1], blended
    assert blended[0] > audio  # the blend did ask the model (and the plays behind it)


@pytest.mark.django_db
def test_the_blend_keeps_to_the_genre_asked_for(trained, alice):
    rock, jazz = (Genre.objects.create(name=name) for name in ("Rock", "Jazz"))
    for song in [trained.seed, *trained.alphas]:
        song.genres.add(rock)
    for song in [trained.far, *trained.betas]:
        song.genres.add(jazz)

    in_rock = Embedding.objects.similar_songs(trained.seed, k=5, genre=rock, viewer=alice)
    in_jazz = Embedding.objects.similar_songs(trained.seed, k=5, genre=jazz, viewer=alice)

    # Without a genre the blend adds "Far Favourite"; asked for rock, it keeps to rock all the same.
    assert FAR in titles(Embedding.objects.similar_songs(trained.seed, k=5, viewer=alice))
    assert len(in_rock) == 5 and FAR not in titles(in_rock)
    assert all(rock in song.genres.all() for song in in_rock)
    assert len(in_jazz) == 5 and FAR in titles(in_jazz)
    assert all(jazz in song.genres.all() for song in in_jazz)


@pytest.mark.django_db
def test_a_song_taken_out_of_the_catalogue_since_the_training_is_not_lifted(trained, alice):
    Song.objects.filter(pk=trained.far.pk).update(in_catalogue=False)

    assert FAR not in titles(Embedding.objects.similar_songs(trained.seed, k=40, viewer=alice))
    assert FAR not in titles(for_you(alice).songs)


@pytest.mark.django_db
def test_one_person_alone_does_not_tie_a_song_to_the_seed(trained, alice, alice_client):
    """Bob plays "Beta 0" with the seed thirty times and likes it; the jazz crowd plays "Beta 0" but never the seed.
    Nobody but bob plays both, so no list of alice's may be placed, or explained, by his listening."""
    beta = trained.betas[0]
    assert SongFactor.objects.get(model=current_model(), song=beta).listeners == 7

    lists = {
        "more like this": Embedding.objects.similar_songs(trained.seed, k=40, viewer=alice),
        "for you": for_you(alice, k=40).songs,
    }
    for name, songs in lists.items():
        assert FAR in titles(songs), name  # the blend speaks in these lists, for the fans' song
        placed = [song for song in songs if song.pk == beta.pk]
        assert all(song.side == "audio" for song in placed), name
        assert not any("People who play" in getattr(song, "reason", "") for song in placed), name
    html = more_like_this(alice_client, trained.seed, n=40)
    assert TOGETHER_TEXT in html
    assert html.count("People who play") == 1  # "Far Favourite" only


# Cold start ----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_song_added_after_training_keeps_its_audio_place_among_the_unplayed_songs(trained, alice):
    near_seed = unit(np.asarray(Embedding.objects.get(song=trained.seed).vector)) + 0.1 * unit(np.ones(D))
    newcomer = embed(make_song(title="Newcomer", artist="New Artist"), unit(near_seed))
    known = set(SongFactor.objects.filter(model=current_model()).values_list("song_id", flat=True))

    # The whole catalogue by sound, for the audio order of every song the blended list may hold.
    audio = Embedding.objects.similar_songs(trained.seed, k=60)
    blended = Embedding.objects.similar_songs(trained.seed, k=20, viewer=alice)

    unplayed_audio = [pk for pk in pks(audio) if pk not in known]
    unplayed_blended = [pk for pk in pks(blended) if pk not in known]
    assert newcomer.pk in unplayed_blended
    assert FAR in titles(blended)  # the blend did act on this list
    assert unplayed_blended == unplayed_audio[: len(unplayed_blended)]
    assert unplayed_blended.index(newcomer.pk) == unplayed_audio.index(newcomer.pk)
    newcomer_row = blended[pks(blended).index(newcomer.pk)]
    assert newcomer_row.side == "audio"


@pytest.mark.django_db
def test_a_seed_nobody_plays_gives_the_audio_list(trained, alice):
    lonely = trained.alphas[-1]
    assert not SongFactor.objects.filter(song=lonely).exists()

    blended = Embedding.objects.similar_songs(lonely, k=10, viewer=alice)

    assert pks(blended) == pks(Embedding.objects.similar_songs(lonely, k=10))
    assert all(song.side == "audio" for song in blended)


@pytest.mark.django_db
def test_someone_the_model_does_not_know_gets_for_you_as_without_the_blend(trained, settings):
    carol = User.objects.create_user("carol")
    listen(carol, [trained.seed, *trained.alphas[:4]], times=2)  # the same taste as alice's, after the training
    assert not ListenerFactor.objects.filter(user=carol).exists()

    blended = for_you(carol).songs
    settings.MUSREC_CF_BLEND_MAX = 0
    audio = for_you(carol).songs

    assert blended
    assert [(song.pk, song.reason) for song in blended] == [(song.pk, song.reason) for song in audio]
    assert FAR not in titles(blended)


# The minimum number of listeners -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("minimum", "lifted"), [(5, True), (FANS + 2, False)])
def test_a_song_with_fewer_listeners_than_the_minimum_is_not_lifted(trained, alice, settings, minimum, lifted):
    # "Far Favourite" has seven listeners, the six fans and bob; the seed has eight, alice too.
    settings.MUSREC_CF_MIN_LISTENERS = minimum

    blended = Embedding.objects.similar_songs(trained.seed, k=5, viewer=alice)
    personal = for_you(alice).songs

    assert (FAR in titles(blended)) is lifted
    assert (FAR in titles(personal)) is lifted
    if not lifted:
        assert pks(blended) == pks(Embedding.objects.similar_songs(trained.seed, k=5))
        assert all(song.side == "audio" for song in blended + personal)
        assert not any("People who play" in song.reason for song in personal)
        # Nothing the model knows is in alice's pool: her For you is the audio one, in the audio order.
        settings.MUSREC_CF_BLEND_MAX = 0
        assert pks(personal) == pks(for_you(alice).songs)


# For you, extend, radio ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_for_you_brings_what_people_like_you_play_naming_a_song_of_your_own(trained, alice, alice_client):
    songs = for_you(alice).songs

    assert FAR in titles(songs)
    far = songs[titles(songs).index(FAR)]
    assert far.side == "together"
    own = {SEED, *titles(trained.alphas[:4])}
    assert far.reason_song.title in own
    assert far.reason == f"People who play “{far.reason_song.title}” also play this"

    page = alice_client.get(reverse("recommender:for_you")).content.decode()
    assert FAR in page and f"People who play “{far.reason_song.title}” also play this" in page


@pytest.mark.django_db
def test_for_you_without_the_blend_does_not_bring_the_far_song(trained, alice, settings):
    settings.MUSREC_CF_BLEND_MAX = 0
    songs = for_you(alice).songs
    assert songs and FAR not in titles(songs)
    assert not any("People who play" in song.reason for song in songs)


@pytest.mark.django_db
@pytest.mark.parametrize("blend", [0.8, 0.0])
def test_extending_a_playlist_adds_what_its_songs_listeners_play_together(
    trained, alice, alice_client, settings, blend
):
    settings.MUSREC_CF_BLEND_MAX = blend
    playlist = Playlist.objects.create(owner=alice, name="Anthems")
    PlaylistItem.objects.create(playlist=playlist, song=trained.seed, position=1)

    added = extend_playlist(playlist, n=5).songs

    assert len(added) == 5
    assert (FAR in titles(added)) is (blend > 0)
    assert list(playlist.items.order_by("position").values_list("song__title", flat=True))[:1] == [SEED]

    # Through the page: the message says which side spoke.
    other = Playlist.objects.create(owner=alice, name="More anthems")
    PlaylistItem.objects.create(playlist=other, song=trained.seed, position=1)
    response = alice_client.post(reverse("recommender:extend_playlist", args=[other.pk]), {"n": 5}, follow=True)
    said = " ".join(str(message) for message in response.context["messages"])
    assert said.startswith("Added 5 songs like this playlist")
    assert ("1 of them because people who play its songs also play it" in said) is (blend > 0), said
    assert (FAR in other.items.values_list("song__title", flat=True)) is (blend > 0)


@pytest.fixture(name="outer")
def outer_fixture(trained) -> Song:
    """The song of cluster A farthest from the seed that nobody plays yet; the fans take it up, and the model is
    trained again. The radio only re-ranks the songs it finds by sound (and "Far Favourite" is too far for that):
    this one it finds, but by sound alone it would play the nearer ones first."""
    mentioned = {*trained.alphas[:8], trained.alphas[-1]}
    seed = unit(np.asarray(Embedding.objects.get(song=trained.seed).vector))
    outer = min(
        (song for song in trained.alphas if song not in mentioned),
        key=lambda song: float(unit(np.asarray(Embedding.objects.get(song=song).vector)) @ seed),
    )
    for fan in trained.fans:
        listen(fan, [outer], times=2)
    assert train_collaborative_model() > 0
    return outer


@pytest.mark.django_db
@pytest.mark.parametrize("blend", [0.8, 0.0])
def test_the_radio_plays_what_people_who_listen_like_you_play_and_says_so(outer, trained, alice, settings, blend):
    settings.MUSREC_CF_BLEND_MAX = blend
    station = radio.station(alice, "song", trained.seed.pk)

    songs = radio.next_songs(alice, station, [], k=5)

    assert len(songs) == 5
    reasons = {song.title: song.reason for song in songs}
    if blend:
        assert placed_together(reasons.get(outer.title, ""), alice), reasons
    else:
        assert outer.title not in reasons
        assert not any(placed_together(reason, alice) for reason in reasons.values()), reasons


@pytest.mark.django_db
def test_the_radio_view_answers_with_the_together_reason(outer, trained, alice, alice_client):
    response = alice_client.post("/radio/next", {"kind": "song", "id": trained.seed.pk, "count": 5})

    assert response.status_code == 200
    tracks = {track["title"]: track["reason"] for track in response.json()["tracks"]}
    assert placed_together(tracks.get(outer.title, ""), alice), tracks


# Subsonic ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def as_alice(alice) -> dict[str, str]:
    return token("alice", ApiSecret.objects.issue(alice).secret)


@pytest.mark.django_db
def test_the_instant_mix_is_blended_and_sonic_similarity_is_the_sound_alone(world, as_alice):
    client = Client()
    seed = f"tr-{world.seed.pk}"
    sonic_before = as_json(client, "getSonicSimilarTracks", as_alice, id=seed, count=10)["sonicMatch"]
    mix_before = as_json(client, "getSimilarSongs", as_alice, id=seed, count=5)["similarSongs"]["song"]
    assert FAR not in [entry["title"] for entry in mix_before]

    train_collaborative_model()

    mix = as_json(client, "getSimilarSongs", as_alice, id=seed, count=5)["similarSongs"]["song"]
    assert FAR in [entry["title"] for entry in mix]
    # The mix of the seed's artist is blended too (its songs' listeners).
    by_artist = as_json(client, "getSimilarSongs", as_alice, id=f"ar-{world.seed.artist_id}", count=5)
    assert FAR in [entry["title"] for entry in by_artist["similarSongs"]["song"]]
    sonic = as_json(client, "getSonicSimilarTracks", as_alice, id=seed, count=10)["sonicMatch"]
    assert sonic == sonic_before
    assert FAR not in [match["entry"]["title"] for match in sonic]


# Privacy -------------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_model_has_no_factor_for_a_private_upload(trained, bob):
    assert not SongFactor.objects.filter(song__in=[trained.secret, trained.bobs_own]).exists()
    # Bob is known to the model from his catalogue plays all the same.
    assert ListenerFactor.objects.filter(user=bob).exists()


@pytest.mark.django_db
def test_bobs_private_upload_never_reaches_alice_and_no_reason_names_what_she_cannot_see(
    trained, alice, bob, alice_client, as_alice
):
    hidden = {SECRET, BOBS_OWN}
    # Alice played and liked the secret too, while bob still shared it: it is still not hers to be named.
    listen(alice, [trained.secret], times=3)
    Rating.objects.create(user=alice, song=trained.secret, value=Rating.LIKE)
    people_names = {user.username for user in [bob, *trained.fans]}
    visible = set(Song.objects.visible_to(alice).values_list("title", flat=True))
    playlist = Playlist.objects.create(owner=alice, name="Anthems")
    PlaylistItem.objects.create(playlist=playlist, song=trained.seed, position=1)

    # The pages first: extending the playlist below puts "Far Favourite" in it, and For you leaves out her playlists.
    pages = {
        "for you": alice_client.get(reverse("recommender:for_you")).content.decode(),
        "more like this": more_like_this(alice_client, trained.seed, n=40),
        "song page": alice_client.get(trained.seed.get_absolute_url()).content.decode(),
    }
    lists = {
        "for you": for_you(alice).songs,
        "more like this": Embedding.objects.similar_songs(trained.seed, k=40, viewer=alice),
        "radio": radio.next_songs(alice, radio.station(alice, "song", trained.seed.pk), [], k=5),
        "extend": extend_playlist(playlist, n=20).songs,
    }
    for name, songs in lists.items():
        if name != "radio":  # the radio re-ranks what it finds by sound, and "Far Favourite" is not among it
            assert FAR in titles(songs), name  # the blend is on in every one of them
        assert not hidden & set(titles(songs)), name
        for song in songs:
            reason = getattr(song, "reason", "") or ""
            assert set(named_in(reason)) <= visible, (name, reason)
            if getattr(song, "reason_song", None) is not None:
                assert song.reason_song.title in visible
            if getattr(song, "together_with", None) is not None:
                assert song.together_with.title in visible

    pages["playlist"] = alice_client.get(playlist.get_absolute_url()).content.decode()
    for name, html in pages.items():
        assert not any(text in html for text in {*hidden, *map(escape, hidden), "Bob Hidden"}), name
        assert not any(re.search(rf"\b{re.escape(person)}\b", html) for person in people_names), name
        for reason in re.findall(r"People who play “([^”]*)” also play this", html):
            assert reason in visible, (name, reason)
    assert "People who play" in pages["for you"] and "People who play" in pages["more like this"]

    mix = as_json(Client(), "getSimilarSongs", as_alice, id=f"tr-{trained.seed.pk}", count=50)["similarSongs"]
    assert FAR in [entry["title"] for entry in mix["song"]]
    assert not hidden & {entry["title"] for entry in mix["song"]}
    radio_answer = alice_client.post("/radio/next", {"kind": "song", "id": trained.seed.pk, "count": 5}).json()
    assert not hidden & {track["title"] for track in radio_answer["tracks"]}
