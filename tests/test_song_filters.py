"""Filters by tempo, energy and mood (issue 13 §1) on every list of songs: the catalogue, the playlist grown from an
upload, More like this, the radio and For you; bad values, and privacy, on real PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Playlist, Rating, Song
from catalog.song_filters import SongFilters, SongFiltersForm
from recommender.core.describe import stored_tag_keys
from recommender.core.embedders import load_card
from recommender.core.moods import MOODS, in_mood, mood_tags
from recommender.models import Embedding, active_model_key
from tests.factories import make_song

pytestmark = pytest.mark.django_db

D = 200
OPPOSITE = {"happy": "sad", "sad": "happy", "calm": "energetic", "energetic": "calm"}


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def stored_keys() -> dict[str, str]:
    return stored_tag_keys(load_card(active_model_key().partition("@")[0]))


def mood_scores(mood: str) -> dict[str, float]:
    """Tag scores that put a song clearly in ``mood``: its tags high, its opposite's low."""
    keys = stored_keys()
    wanted, against = mood_tags(mood)
    scores = {keys[tag]: 0.1 for tag in against if tag in keys}
    scores.update({keys[tag]: 0.8 for tag in wanted if tag in keys})
    return scores


def analysed(
    song: Song, vector: np.ndarray, *, mood: str = "", tempo: float | None = None, energy: float | None = None
):
    Embedding.objects.create(
        song=song,
        model=active_model_key(),
        vector=np.asarray(vector, dtype=np.float32),
        tag_scores=mood_scores(mood) if mood else {},
    )
    Song.objects.filter(pk=song.pk).update(analysis_status=Song.Analysis.DONE, tempo_bpm=tempo, energy=energy)
    song.refresh_from_db()
    return song


@pytest.fixture
def seed_direction() -> np.ndarray:
    return unit(np.random.default_rng(5).standard_normal(D))


@pytest.fixture
def catalogue(seed_direction) -> dict[str, Song]:
    """A seed and sixteen songs near it: slow (70 BPM) or fast (150), low (0.2) or high (0.8) energy, and calm or
    energetic, two of each kind; the nearest songs are the slow ones, so a fast filter must look further."""
    rng = np.random.default_rng(6)
    songs = {"seed": analysed(make_song(title="Seed", artist="Seeder"), seed_direction, mood="calm", tempo=70)}
    i = 0
    for tempo in (70, 150):
        for energy in (0.2, 0.8):
            for mood in ("calm", "energetic"):
                for copy in (1, 2):
                    i += 1
                    spread = 0.2 if tempo == 70 else 0.6
                    title = f"{tempo} {energy} {mood} {copy}"
                    songs[title] = analysed(
                        make_song(title=title, artist=f"Artist {i}"),
                        seed_direction + spread * unit(rng.standard_normal(D)),
                        mood=mood,
                        tempo=tempo,
                        energy=energy,
                    )
    return songs


def within(song: Song, *, tempo: tuple[int, int] | None = None, energy: str = "", mood: str = "") -> bool:
    title_tempo, title_energy, title_mood, _ = song.title.split()
    if tempo and not tempo[0] <= float(title_tempo) <= tempo[1]:
        return False
    if energy and {"0.2": "low", "0.8": "high"}[title_energy] != energy:
        return False
    return not mood or title_mood == mood


# --- The rule ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mood", MOODS)
def test_the_mood_rule_in_sql_agrees_with_the_rule_in_python(mood):
    rng = np.random.default_rng(7)
    keys = stored_keys()
    profiles = []
    for i in range(30):
        scores = {key: float(rng.uniform(0, 1)) for key in rng.choice(sorted(keys.values()), 40, replace=False)}
        song = make_song(title=f"Random {i}")
        Embedding.objects.create(song=song, model=active_model_key(), vector=rng.standard_normal(D), tag_scores=scores)
        profiles.append((song.pk, scores))
    expected = {pk for pk, scores in profiles if in_mood(mood, scores, keys)}
    assert set(Embedding.objects.in_mood(mood).values_list("song_id", flat=True)) == expected
    assert 0 < len(expected) < 30


@pytest.mark.parametrize("mood", MOODS)
def test_a_song_is_never_in_a_mood_and_its_opposite(mood):
    song = make_song()
    Embedding.objects.create(song=song, model=active_model_key(), vector=np.ones(D), tag_scores=mood_scores(mood))
    assert Song.objects.matching(SongFilters(mood=mood)).filter(pk=song.pk).exists()
    assert not Song.objects.matching(SongFilters(mood=OPPOSITE[mood])).filter(pk=song.pk).exists()


def test_a_song_not_analysed_yet_passes_no_filter_on_what_it_lacks():
    song = make_song()
    for filters in (SongFilters(tempo_min=30), SongFilters(energy="low"), SongFilters(mood="calm")):
        assert not Song.objects.matching(filters).filter(pk=song.pk).exists()
    assert Song.objects.matching(SongFilters()).filter(pk=song.pk).exists()


# --- The catalogue --------------------------------------------------------------------------------------------


def listed(response) -> list[Song]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"tempo_min": "100"}, {"tempo": (100, 300)}),
        ({"tempo_max": "100"}, {"tempo": (30, 100)}),
        ({"energy": "low"}, {"energy": "low"}),
        ({"mood": "energetic"}, {"mood": "energetic"}),
        (
            {"tempo_min": "120", "tempo_max": "160", "energy": "high", "mood": "calm"},
            {"tempo": (120, 160), "energy": "high", "mood": "calm"},
        ),
    ],
)
def test_the_catalogue_lists_only_the_songs_within_its_filters(alice_client, catalogue, params, expect):
    songs = [song for song in listed(alice_client.get(reverse("catalog:song_list"), params)) if song.title != "Seed"]
    wanted = [song for title, song in catalogue.items() if title != "seed" and within(song, **expect)]
    assert sorted(s.pk for s in songs) == sorted(s.pk for s in wanted)
    assert songs


def test_the_catalogue_shows_each_active_filter_as_a_chip_that_clears_it(alice_client, catalogue):
    response = alice_client.get(reverse("catalog:song_list"), {"q": "calm", "mood": "calm", "tempo_min": "100"})
    chips = dict(response.context["filter_chips"])
    assert set(chips) == {"Calm", "≥ 100 BPM"}
    assert chips["Calm"] == "?q=calm&tempo_min=100"
    assert chips["≥ 100 BPM"] == "?q=calm&mood=calm"
    assert b'class="chip"' in response.content and b"Filters" in response.content


def test_the_catalogue_filters_a_search_as_you_type(alice_client, catalogue):
    response = alice_client.get(
        reverse("catalog:song_list"), {"q": "150", "energy": "high"}, headers={"HX-Request": "true"}
    )
    assert {song.title for song in listed(response)} == {
        "150 0.8 calm 1",
        "150 0.8 calm 2",
        "150 0.8 energetic 1",
        "150 0.8 energetic 2",
    }
    assert b"<html" not in response.content


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tempo_min": "fast"}, "Tempo: Enter a whole number."),
        ({"tempo_min": "500"}, "Tempo: Ensure this value is less than or equal to 300."),
        ({"tempo_max": "-4"}, "Tempo: Ensure this value is greater than or equal to 30."),
        ({"tempo_min": "150", "tempo_max": "90"}, "The tempo range is empty: 150 BPM is above 90 BPM."),
        ({"energy": "extreme"}, "Energy: Select a valid choice."),
        ({"mood": "angry"}, "Mood: Select a valid choice."),
        ({"tempo_min": "9" * 10_000}, "Tempo: "),
    ],
)
def test_a_bad_filter_is_a_clear_message_and_the_good_ones_still_apply(alice_client, catalogue, params, message):
    response = alice_client.get(reverse("catalog:song_list"), {**params, "energy": params.get("energy", "low")})
    assert response.status_code == 200
    assert any(error.startswith(message) for error in response.context["filters_form"].error_messages())
    assert message.split(":")[0].encode() in response.content
    if "energy" not in params:
        assert all(within(song, energy="low") for song in listed(response) if song.title != "Seed")


def test_the_filters_form_reads_only_valid_values():
    form = SongFiltersForm({"tempo_min": "90", "tempo_max": "80", "energy": "medium", "mood": "sad"})
    assert form.filters == SongFilters(energy="medium", mood="sad")
    assert SongFiltersForm({"tempo_min": "90", "mood": "happy"}).filters == SongFilters(tempo_min=90, mood="happy")


# --- Playlists grown from a song ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"tempo_min": "120"}, {"tempo": (120, 300)}),
        ({"energy": "high", "mood": "energetic"}, {"energy": "high", "mood": "energetic"}),
    ],
)
def test_more_like_this_stays_full_within_its_filters(alice_client, catalogue, params, expect):
    seed = catalogue["seed"]
    response = alice_client.get(reverse("recommender:more_like_this", args=[seed.pk]), {"n": 5, **params})
    playlist = response.context["playlist"]
    # The nearest songs are slow; the filter is applied before the search, so the list is still full.
    assert len(playlist) == min(5, sum(within(s, **expect) for t, s in catalogue.items() if t != "seed"))
    assert len(playlist) >= 4
    assert all(within(song, **expect) for song in playlist)
    assert response.context["filter_chips"]


def test_more_like_this_without_filters_lists_the_nearest(alice_client, catalogue):
    seed = catalogue["seed"]
    response = alice_client.get(reverse("recommender:more_like_this", args=[seed.pk]), {"n": 5})
    assert all(song.title.startswith("70 ") for song in response.context["playlist"])


def test_a_playlist_is_saved_with_the_filters_it_was_shown_with(alice_client, alice, catalogue):
    seed = catalogue["seed"]
    response = alice_client.post(
        reverse("recommender:save_playlist", args=[seed.pk]), {"name": "Fast like seed", "n": 5, "tempo_min": "120"}
    )
    playlist = Playlist.objects.get(owner=alice, name="Fast like seed")
    assert response.status_code == 302
    songs = [item.song for item in playlist.items.select_related("song")]
    assert len(songs) == 5 and all(song.tempo_bpm >= 120 for song in songs)


def test_a_playlist_with_a_bad_filter_is_not_saved(alice_client, alice, catalogue):
    seed = catalogue["seed"]
    response = alice_client.post(
        reverse("recommender:save_playlist", args=[seed.pk]), {"name": "Bad", "n": 5, "mood": "furious"}, follow=True
    )
    assert not Playlist.objects.filter(owner=alice).exists()
    assert "Mood: Select a valid choice" in response.content.decode()


def test_an_upload_playlist_is_filtered(alice_client, alice, catalogue, seed_direction):
    upload = analysed(
        make_song(title="My upload", owner=alice, in_catalogue=False), seed_direction, mood="calm", tempo=90
    )
    url = reverse("recommender:upload_detail", args=[upload.pk])
    response = alice_client.get(url, {"n": 5, "mood": "energetic", "energy": "high"})
    playlist = response.context["playlist"]
    assert len(playlist) == 4
    assert all(within(song, mood="energetic", energy="high") for song in playlist)
    piece = alice_client.get(url, {"n": 5, "tempo_max": "100"}, headers={"HX-Request": "true", "HX-Target": "playlist"})
    assert all(song.tempo_bpm <= 100 for song in piece.context["playlist"]) and piece.context["playlist"]
    assert b'id="playlist"' in piece.content and b"<html" not in piece.content


# --- Radio and For you ----------------------------------------------------------------------------------------


def test_the_radio_plays_only_songs_within_the_station_filters(alice_client, catalogue):
    seed = catalogue["seed"]
    heard: list[str] = []
    titles = []
    for _ in range(3):
        response = alice_client.post(
            "/radio/next",
            {"kind": "song", "id": seed.pk, "heard": heard, "count": 3, "tempo_min": "120", "mood": "calm"},
        )
        assert response.status_code == 200, response.content
        tracks = response.json()["tracks"]
        titles += [track["title"] for track in tracks]
        heard += [f"{track['id']}:30:1" for track in tracks]
    assert titles and all(title.startswith("150 ") and " calm " in title for title in titles)
    assert len(titles) == len(set(titles)) == 4  # every fast calm song, each once, then nothing more


@pytest.mark.parametrize(
    "params", [{"tempo_min": "2000"}, {"energy": "loud"}, {"tempo_min": "200", "tempo_max": "100"}]
)
def test_a_radio_with_a_bad_filter_says_what_is_wrong(alice_client, catalogue, params):
    response = alice_client.post("/radio/next", {"kind": "song", "id": catalogue["seed"].pk, **params})
    assert response.status_code == 400
    assert response.json()["error"].startswith("The radio cannot go on:")


def test_for_you_is_filtered(alice_client, alice, catalogue):
    Rating.objects.rate(alice, catalogue["seed"], Rating.LIKE)
    everything = alice_client.get(reverse("recommender:for_you")).context["songs"]
    assert {song.energy for song in everything} == {0.2, 0.8}
    response = alice_client.get(reverse("recommender:for_you"), {"energy": "high", "mood": "energetic"})
    songs = response.context["songs"]
    assert songs and all(within(song, energy="high", mood="energetic") for song in songs)
    piece = alice_client.get(
        reverse("recommender:for_you"), {"tempo_min": "120"}, headers={"HX-Request": "true", "HX-Target": "for-you"}
    )
    assert piece.context["songs"] and all(song.tempo_bpm >= 120 for song in piece.context["songs"])
    assert b'hx-get="/for-you/?tempo_min=120"' in piece.content or b"tempo_min=120" in piece.content


def test_for_you_is_saved_with_its_filters(alice_client, alice, catalogue):
    Rating.objects.rate(alice, catalogue["seed"], Rating.LIKE)
    alice_client.post(reverse("recommender:for_you_save"), {"name": "Calm for me", "mood": "calm"})
    songs = [item.song for item in Playlist.objects.get(owner=alice, name="Calm for me").items.select_related("song")]
    assert songs and all(within(song, mood="calm") for song in songs)


# --- Privacy ----------------------------------------------------------------------------------------------------


def test_another_persons_private_upload_never_passes_a_filter(alice_client, alice, bob, catalogue, seed_direction):
    """Bob's private upload matches every filter and sits right by the seed: Alice never sees it, nor its count."""
    params = {"tempo_min": "140", "energy": "high", "mood": "energetic"}
    before = alice_client.get(reverse("catalog:song_list"), params)
    bobs = analysed(
        make_song(title="Bob secret", artist="Bob", owner=bob, in_catalogue=False),
        seed_direction,
        mood="energetic",
        tempo=150,
        energy=0.9,
    )
    Rating.objects.rate(bob, bobs, Rating.LIKE)
    Rating.objects.rate(alice, catalogue["seed"], Rating.LIKE)
    after = alice_client.get(reverse("catalog:song_list"), params)
    assert after.context["page"].paginator.count == before.context["page"].paginator.count == 2
    assert b"Bob secret" not in after.content
    seed = catalogue["seed"]
    pages = [
        alice_client.get(reverse("recommender:more_like_this", args=[seed.pk]), {"n": 40, **params}),
        alice_client.get(reverse("recommender:for_you"), params),
    ]
    for page in pages:
        assert page.status_code == 200 and b"Bob secret" not in page.content
    radio = alice_client.post("/radio/next", {"kind": "song", "id": seed.pk, "count": 5, **params}).json()
    assert radio["tracks"] and "Bob secret" not in {track["title"] for track in radio["tracks"]}
    # Nor may Alice filter the playlist grown from Bob's upload: it does not exist for her.
    assert alice_client.get(reverse("recommender:upload_detail", args=[bobs.pk]), params).status_code == 404
