"""Sonic similarity through the Subsonic API (issue 12): getSimilarSongs ("instant mix"), getSimilarSongs2, and the
OpenSubsonic sonicSimilarity extension's getSonicSimilarTracks and findSonicPath, on a small synthetic embedded
catalogue with a copy of the seed, a pair of twins, a crowded artist and bob's private upload right next to the seed.

XML: the similar-songs answers are in the Subsonic schema and validated whole. ``sonicMatch`` is an OpenSubsonic
addition the schema does not know, so its XML is checked by hand and each of its entries is validated as a schema
``Child`` (wrapped in a ``similarSongs`` answer)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from django.test import Client

from catalog.models import Album, Song
from recommender.core.paths import slerp
from recommender.models import Embedding
from subsonic.endpoints.sonic import MAX_SIMILAR
from subsonic.models import ApiSecret
from tests.factories import embed, make_song
from tests.test_subsonic import SCHEMA, as_json, as_xml, assert_child, call, error_code, token

pytestmark = pytest.mark.django_db

D = 200
NS = "{http://subsonic.org/restapi}"
CAP = 2


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def as_alice(alice) -> dict[str, str]:
    return token("alice", ApiSecret.objects.issue(alice).secret)


@pytest.fixture
def space() -> dict[str, np.ndarray]:
    """A seed direction, a region near it and a far region."""
    rng = np.random.default_rng(21)
    seed, near, far = np.linalg.qr(rng.standard_normal((D, 3)))[0].T
    return {"seed": seed, "near": unit(seed + 0.6 * near), "far": unit(far)}


@pytest.fixture
def catalogue(space, settings, alice, bob) -> dict[str, object]:
    settings.MUSREC_MAX_PER_ARTIST = CAP
    rng = np.random.default_rng(22)

    def around(centre: np.ndarray, spread: float) -> np.ndarray:
        return unit(centre + spread * unit(rng.standard_normal(D)))

    seed = embed(make_song(title="Seed", artist="Seeder"), space["seed"])
    album = Album.objects.create(title="Near Album")
    near = [
        embed(make_song(title=f"Near {i}", artist=f"Near artist {i}", album=album), around(space["near"], 0.3))
        for i in range(8)
    ]
    crowd = [embed(make_song(title=f"Crowd {i}", artist="Crowd"), around(space["seed"], 0.2)) for i in range(4)]
    twin = around(space["seed"], 0.15)
    twins = [embed(make_song(title=f"Twin {i}", artist=f"Twin artist {i}"), twin) for i in range(2)]
    copy = embed(make_song(title="Seed copy", artist="Copycat"), space["seed"])
    far = [embed(make_song(title=f"Far {i}", artist=f"Far artist {i}"), around(space["far"], 0.3)) for i in range(4)]
    bridge = [
        embed(make_song(title=f"Bridge {i}", artist=f"Bridge artist {i}"), around(point, 0.1))
        for i, point in enumerate(slerp(space["seed"], space["far"], np.linspace(0.1, 0.9, 12)))
    ]
    private = embed(
        make_song(
            title="Bobsecret",
            artist="Bob Hidden",
            album=Album.objects.create(title="Bob Hidden Album"),
            owner=bob,
            in_catalogue=False,
        ),
        around(space["seed"], 0.01),
    )
    mine = embed(make_song(title="Alice own", artist="Alice Herself", owner=alice, in_catalogue=False), space["seed"])
    raw = make_song(title="Not analysed", artist="Raw")
    return {
        "seed": seed,
        "near": near,
        "crowd": crowd,
        "twins": twins,
        "copy": copy,
        "far": far,
        "bridge": bridge,
        "private": private,
        "mine": mine,
        "raw": raw,
    }


def sid(song: Song) -> str:
    return f"tr-{song.pk}"


def vector_of(song_id: str) -> np.ndarray:
    return unit(np.asarray(Embedding.objects.get(song_id=int(song_id.removeprefix("tr-"))).vector))


def titles(entries: list[dict]) -> list[str]:
    return [entry["title"] for entry in entries]


def assert_a_playlist(entries: list[dict], catalogue: dict, *, seed: Song | None) -> None:
    """The playlist rules: never the seed or its copy, one of the twins at most, at most CAP songs of one artist, no
    song twice, nothing private of bob's."""
    names = titles(entries)
    assert len(set(names)) == len(names)
    if seed is not None:
        assert seed.title not in names
        assert "Seed copy" not in names or seed.title == "Seed copy"
    assert sum(name.startswith("Twin") for name in names) <= 1
    artists = [entry["artist"] for entry in entries]
    assert max(artists.count(artist) for artist in artists) <= CAP
    assert "Bobsecret" not in names
    for entry in entries:
        assert_child(entry)


def validate_entries_as_children(matches: list) -> None:
    """XML sonicMatch elements: a similarity attribute and one entry each, which the schema accepts as a song."""
    from xml.etree import ElementTree

    wrapper = ElementTree.Element(f"{NS}subsonic-response", {"status": "ok", "version": "1.16.1"})
    songs = ElementTree.SubElement(wrapper, f"{NS}similarSongs")
    for match in matches:
        similarity = float(match.get("similarity"))
        assert -1.0 <= similarity <= 1.0
        (entry,) = list(match)
        assert entry.tag == f"{NS}entry"
        song = ElementTree.SubElement(songs, f"{NS}song", dict(entry.attrib))
        assert song.get("id").startswith("tr-")
    SCHEMA.validate(wrapper)


def test_the_extension_is_announced(db):
    extensions = as_json(Client(), "getOpenSubsonicExtensions", {})["openSubsonicExtensions"]
    assert {"name": "sonicSimilarity", "versions": [1]} in extensions


# getSimilarSongs, getSimilarSongs2 ------------------------------------------------------------------------------------


def test_an_instant_mix_of_a_song_follows_the_playlist_rules(catalogue, as_alice):
    seed = catalogue["seed"]

    entries = as_json(Client(), "getSimilarSongs", as_alice, id=sid(seed), count=12)["similarSongs"]["song"]

    assert len(entries) == 12
    assert_a_playlist(entries, catalogue, seed=seed)
    names = titles(entries)
    assert sum(name.startswith("Crowd") for name in names) == CAP
    assert sum(name.startswith("Twin") for name in names) == 1
    assert not any(name.startswith("Far") for name in names)
    xml = as_xml(Client(), "getSimilarSongs", as_alice, id=sid(seed), count=12)
    assert [song.get("title") for song in xml.iter(f"{NS}song")] == names


def test_the_mix_defaults_to_fifty_and_is_bounded(catalogue, as_alice):
    client = Client()
    everything = as_json(client, "getSimilarSongs", as_alice, id=sid(catalogue["seed"]))["similarSongs"]["song"]
    # Fewer than 50 songs obey the rules here: all of them come.
    assert 20 < len(everything) < 50
    assert_a_playlist(everything, catalogue, seed=catalogue["seed"])
    huge = as_json(client, "getSimilarSongs", as_alice, id=sid(catalogue["seed"]), count=100000)
    assert titles(huge["similarSongs"]["song"]) == titles(everything)
    assert len(everything) <= MAX_SIMILAR
    for count in (0, -1):
        answer = as_json(client, "getSimilarSongs", as_alice, id=sid(catalogue["seed"]), count=count)
        assert answer["similarSongs"] == {"song": []}


def test_an_instant_mix_of_an_album_or_an_artist_sounds_like_it(catalogue, as_alice):
    near = catalogue["near"][0]
    client = Client()
    by_album = as_json(client, "getSimilarSongs", as_alice, id=f"al-{near.album_id}", count=6)["similarSongs"]["song"]
    assert len(by_album) == 6 and sum(name.startswith("Near") for name in titles(by_album)) >= 5
    assert_a_playlist(by_album, catalogue, seed=None)
    far = catalogue["far"][0]
    by_artist = as_json(client, "getSimilarSongs2", as_alice, id=f"ar-{far.artist_id}", count=4)["similarSongs2"]
    assert titles(by_artist["song"])[0] == "Far 0"
    assert_a_playlist(by_artist["song"], catalogue, seed=None)
    as_xml(client, "getSimilarSongs2", as_alice, id=f"ar-{far.artist_id}", count=4)
    as_xml(client, "getSimilarSongs", as_alice, id=f"al-{near.album_id}", count=4)


def test_getsimilarsongs2_takes_an_artist_only(catalogue, as_alice):
    assert error_code(Client(), "getSimilarSongs2", as_alice, id=sid(catalogue["seed"])) == 70


def test_a_mix_of_alices_own_upload_is_hers_to_ask(catalogue, as_alice):
    entries = as_json(Client(), "getSimilarSongs", as_alice, id=sid(catalogue["mine"]), count=5)["similarSongs"]
    assert len(entries["song"]) == 5 and "Alice own" not in titles(entries["song"])


# getSonicSimilarTracks ----------------------------------------------------------------------------------------------


def test_sonic_matches_carry_their_cosine_similarity_most_similar_first(catalogue, as_alice):
    seed = catalogue["seed"]

    matches = as_json(Client(), "getSonicSimilarTracks", as_alice, id=sid(seed), count=10)["sonicMatch"]

    assert len(matches) == 10
    assert all(set(match) == {"entry", "similarity"} for match in matches)
    assert_a_playlist([match["entry"] for match in matches], catalogue, seed=seed)
    similarities = [match["similarity"] for match in matches]
    assert all(isinstance(value, float) and -1.0 <= value <= 1.0 for value in similarities)
    assert similarities == sorted(similarities, reverse=True)
    seed_vector = vector_of(sid(seed))
    for match in matches:
        assert match["similarity"] == pytest.approx(float(vector_of(match["entry"]["id"]) @ seed_vector), abs=1e-3)
    xml = as_xml_sonic("getSonicSimilarTracks", as_alice, id=sid(seed), count=10)
    assert [float(match.get("similarity")) for match in xml] == similarities


def as_xml_sonic(method: str, credentials: dict[str, str], **params: object) -> list:
    """The sonicMatch elements of an XML answer, each checked (the rest of the answer is the bare envelope)."""
    from xml.etree import ElementTree

    response = call(Client(), method, credentials, **params)
    root = ElementTree.fromstring(response.content)
    assert root.get("status") == "ok" and root.get("openSubsonic") == "true"
    matches = list(root)
    assert all(match.tag == f"{NS}sonicMatch" for match in matches)
    validate_entries_as_children(matches)
    return matches


def test_sonic_similar_tracks_default_to_ten_and_are_bounded(catalogue, as_alice):
    client = Client()
    assert len(as_json(client, "getSonicSimilarTracks", as_alice, id=sid(catalogue["seed"]))["sonicMatch"]) == 10
    huge = as_json(client, "getSonicSimilarTracks", as_alice, id=sid(catalogue["seed"]), count=100000)["sonicMatch"]
    assert 20 < len(huge) <= MAX_SIMILAR
    for count in (0, -1):
        assert as_json(client, "getSonicSimilarTracks", as_alice, id=sid(catalogue["seed"]), count=count) == {
            **as_json(client, "ping", as_alice),
            "sonicMatch": [],
        }


# findSonicPath --------------------------------------------------------------------------------------------------------


def test_a_sonic_path_goes_from_the_start_song_to_the_end_song(catalogue, as_alice):
    start, goal = catalogue["seed"], catalogue["far"][0]

    path = as_json(Client(), "findSonicPath", as_alice, startSongId=sid(start), endSongId=sid(goal), count=8)

    matches = path["sonicMatch"]
    assert len(matches) == 8
    names = titles([match["entry"] for match in matches])
    assert names[0] == "Seed" and names[-1] == "Far 0"
    assert len(set(names)) == 8 and "Bobsecret" not in names and "Seed copy" not in names
    for match in matches:
        assert_child(match["entry"])
        assert -1.0 <= match["similarity"] <= 1.0
    assert matches[0]["similarity"] == 1.0
    # Similarity to the start song: it falls along the way, to the end song's.
    similarities = [match["similarity"] for match in matches]
    assert sum(b < a for a, b in pairwise(similarities)) >= 5
    assert similarities[-1] == pytest.approx(float(vector_of(sid(goal)) @ vector_of(sid(start))), abs=1e-3)
    xml = as_xml_sonic("findSonicPath", as_alice, startSongId=sid(start), endSongId=sid(goal), count=8)
    assert [match[0].get("title") for match in xml][0::7] == ["Seed", "Far 0"]


@pytest.mark.parametrize(("count", "most"), [(None, 25), (0, 5), (-1, 5), (3, 5), (100000, 32)])
def test_a_sonic_paths_length_is_bounded(catalogue, as_alice, count, most):
    """25 songs by default, at least 5 (three steps), at most 32 (thirty steps)."""
    params = {"startSongId": sid(catalogue["seed"]), "endSongId": sid(catalogue["far"][0])}
    if count is not None:
        params["count"] = count
    matches = as_json(Client(), "findSonicPath", as_alice, **params)["sonicMatch"]
    assert 5 <= len(matches) <= most
    if most == 5:
        assert len(matches) == 5
    assert titles([m["entry"] for m in matches])[0 :: len(matches) - 1] == ["Seed", "Far 0"]


def test_a_path_from_a_song_to_itself_is_an_error(catalogue, as_alice):
    seed = sid(catalogue["seed"])
    assert error_code(Client(), "findSonicPath", as_alice, startSongId=seed, endSongId=seed) == 0


# Songs that are not analysed, bad input, bob's private upload ---------------------------------------------------------


def test_a_song_not_analysed_has_no_neighbours_yet(catalogue, as_alice):
    raw = sid(catalogue["raw"])
    client = Client()
    assert as_json(client, "getSimilarSongs", as_alice, id=raw)["similarSongs"] == {"song": []}
    assert as_json(client, "getSimilarSongs2", as_alice, id=f"ar-{catalogue['raw'].artist_id}")["similarSongs2"] == {
        "song": []
    }
    assert as_json(client, "getSonicSimilarTracks", as_alice, id=raw)["sonicMatch"] == []
    path = as_json(client, "findSonicPath", as_alice, startSongId=raw, endSongId=sid(catalogue["seed"]))
    assert path["status"] == "ok" and path["sonicMatch"] == []
    as_xml(client, "getSimilarSongs", as_alice, id=raw)


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("getSimilarSongs", {}, 10),
        ("getSimilarSongs2", {}, 10),
        ("getSonicSimilarTracks", {}, 10),
        ("findSonicPath", {"startSongId": "SEED"}, 10),
        ("findSonicPath", {"endSongId": "SEED"}, 10),
        ("getSimilarSongs", {"id": "tr-999999999"}, 70),
        ("getSimilarSongs", {"id": "al-999999999"}, 70),
        ("getSimilarSongs", {"id": "ar-999999999"}, 70),
        ("getSimilarSongs", {"id": "pl-1"}, 70),
        ("getSimilarSongs", {"id": "12"}, 70),
        ("getSimilarSongs2", {"id": "ar-999999999"}, 70),
        ("getSonicSimilarTracks", {"id": "tr-999999999"}, 70),
        ("getSonicSimilarTracks", {"id": "al-1"}, 70),
        ("findSonicPath", {"startSongId": "SEED", "endSongId": "tr-999999999"}, 70),
        ("getSimilarSongs", {"id": "SEED", "count": "many"}, 0),
        ("getSonicSimilarTracks", {"id": "SEED", "count": "1.5"}, 0),
        ("findSonicPath", {"startSongId": "SEED", "endSongId": "FAR", "count": "x"}, 0),
    ],
)
def test_bad_input_gets_the_error_it_deserves(catalogue, as_alice, method, params, code):
    named = {"SEED": sid(catalogue["seed"]), "FAR": sid(catalogue["far"][0])}
    params = {name: named.get(value, value) for name, value in params.items()}
    assert error_code(Client(), method, as_alice, **params) == code


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("getSimilarSongs", {"id": "PRIVATE"}),
        ("getSimilarSongs", {"id": "PRIVATE_ALBUM"}),
        ("getSimilarSongs", {"id": "PRIVATE_ARTIST"}),
        ("getSimilarSongs2", {"id": "PRIVATE_ARTIST"}),
        ("getSonicSimilarTracks", {"id": "PRIVATE"}),
        ("findSonicPath", {"startSongId": "PRIVATE", "endSongId": "SEED"}),
        ("findSonicPath", {"startSongId": "SEED", "endSongId": "PRIVATE"}),
    ],
)
def test_bobs_private_upload_cannot_be_a_seed(catalogue, as_alice, method, params):
    private = catalogue["private"]
    named = {
        "PRIVATE": sid(private),
        "PRIVATE_ALBUM": f"al-{private.album_id}",
        "PRIVATE_ARTIST": f"ar-{private.artist_id}",
        "SEED": sid(catalogue["seed"]),
    }
    params = {name: named[value] for name, value in params.items()}
    assert error_code(Client(), method, as_alice, **params) == 70


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("getSimilarSongs", {"id": "SEED", "count": 100}),
        ("getSimilarSongs", {"id": "MINE", "count": 100}),
        ("getSimilarSongs", {"id": "SEED_ARTIST", "count": 100}),
        ("getSimilarSongs2", {"id": "SEED_ARTIST", "count": 100}),
        ("getSonicSimilarTracks", {"id": "SEED", "count": 100}),
        ("getSonicSimilarTracks", {"id": "COPY", "count": 100}),
        ("findSonicPath", {"startSongId": "SEED", "endSongId": "FAR", "count": 32}),
        ("findSonicPath", {"startSongId": "FAR", "endSongId": "COPY", "count": 32}),
    ],
)
def test_bobs_private_upload_is_in_no_mix_however_near(catalogue, as_alice, method, params):
    """It lies nearer the seed than any other song, and never shows: not its title, artist, album or ids."""
    private = catalogue["private"]
    named = {
        "SEED": sid(catalogue["seed"]),
        "MINE": sid(catalogue["mine"]),
        "COPY": sid(catalogue["copy"]),
        "FAR": sid(catalogue["far"][0]),
        "SEED_ARTIST": f"ar-{catalogue['seed'].artist_id}",
    }
    params = {name: named.get(value, value) for name, value in params.items()}
    client = Client()
    for answer_format in ("json", "xml"):
        text = call(client, method, as_alice, f=answer_format, **params).content.decode()
        assert 'status="ok"' in text or '"status": "ok"' in text
        assert "Seed" in text or "Far 0" in text
        assert "Bobsecret" not in text and "Bob Hidden" not in text
        for hidden in (sid(private), f"al-{private.album_id}", f"ar-{private.artist_id}"):
            assert f'"{hidden}"' not in text


@pytest.mark.parametrize(
    ("method", "small", "large"),
    [
        ("getSimilarSongs", {"id": "SEED", "count": 3}, {"id": "SEED", "count": 12}),
        ("getSonicSimilarTracks", {"id": "SEED", "count": 3}, {"id": "SEED", "count": 12}),
    ],
)
def test_a_longer_mix_costs_no_more_queries(catalogue, as_alice, method, small, large):
    # Both fit in the catalogue: a mix longer than the catalogue has songs for gets one more, exact, search.
    """Songs' genres and the caller's ratings come in one query per list, not one per song. (findSonicPath makes one
    nearest-neighbour search per step, as the web's path page does: ``personal.path_between``.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    named = {"SEED": sid(catalogue["seed"]), "FAR": sid(catalogue["far"][0])}
    counts = []
    for params in (small, large):
        params = {name: named.get(value, value) for name, value in params.items()}
        with CaptureQueriesContext(connection) as queries:
            answer = as_json(Client(), method, as_alice, **params)
        assert answer["status"] == "ok"
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_mixes_show_the_callers_likes_and_dislikes(catalogue, alice, bob, as_alice):
    from catalog.models import Rating

    liked, disliked = catalogue["crowd"][0], catalogue["twins"][0]
    Rating.objects.rate(alice, liked, Rating.LIKE)
    Rating.objects.rate(alice, disliked, Rating.DISLIKE)
    Rating.objects.rate(bob, catalogue["near"][0], Rating.LIKE)
    client = Client()
    seed = sid(catalogue["seed"])
    far = sid(catalogue["far"][0])
    lists = {
        "getSimilarSongs": as_json(client, "getSimilarSongs", as_alice, id=seed)["similarSongs"]["song"],
        "getSonicSimilarTracks": [
            match["entry"]
            for match in as_json(client, "getSonicSimilarTracks", as_alice, id=seed, count=30)["sonicMatch"]
        ],
        "findSonicPath": [
            match["entry"]
            for match in as_json(client, "findSonicPath", as_alice, startSongId=sid(liked), endSongId=far)["sonicMatch"]
        ],
    }
    for method, entries in lists.items():
        ratings = {entry["id"]: (entry.get("userRating"), entry.get("starred") is not None) for entry in entries}
        assert ratings[sid(liked)] == (5, True), method
        if sid(disliked) in ratings:
            assert ratings[sid(disliked)] == (1, False), method
        assert sum(rating is not None for rating, _ in ratings.values()) <= 2, method
