"""The 'Sounds like…' page: songs found from a description in words (recommender/views_describe.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from catalog.models import Song
from recommender.core.describe import parse, stored_tag_keys
from recommender.core.embedders import load_card
from recommender.describe_search import songs_described
from recommender.models import Embedding, active_dimensions
from tests.factories import embed, make_song

URL = reverse("recommender:sounds_like")


def keys() -> dict[str, str]:
    return stored_tag_keys(load_card(settings.MUSREC_MODEL))


def make_described_song(title: str, *, tags: dict[str, float], seed: int, **song_fields: object) -> Song:
    """An analysed song whose stored tag scores are low except ``tags`` (vocabulary names: ``"mtt:piano"``)."""
    rng = np.random.default_rng(seed)
    stored = {key: 0.02 for key in keys().values()}
    stored.update({keys()[tag]: score for tag, score in tags.items()})
    fields = {"tempo_bpm": 120.0, "energy": 0.5, "loudness_db": -18.0, **song_fields}
    song = embed(make_song(title=title, **fields), rng.standard_normal(active_dimensions()))
    Embedding.objects.filter(song=song).update(tag_scores=stored)
    return song


CALM = {"msd:chillout": 0.7, "msd:Mellow": 0.6, "mtt:soft": 0.6, "mtt:quiet": 0.5}
PIANO = {"mtt:piano": 0.8}
LOUD = {"mtt:loud": 0.8, "msd:metal": 0.7, "msd:hard rock": 0.6, "msd:party": 0.5}


@pytest.fixture
def catalogue(db) -> dict[str, Song]:
    return {
        "calm piano": make_described_song(
            "Still Water", tags={**CALM, **PIANO}, seed=1, energy=0.12, loudness_db=-30.0, tempo_bpm=70.0
        ),
        "calm": make_described_song("Soft Rain", tags=CALM, seed=2, energy=0.2, loudness_db=-27.0, tempo_bpm=80.0),
        "loud": make_described_song("Thunder", tags=LOUD, seed=3, energy=0.9, loudness_db=-7.0, tempo_bpm=172.0),
        "middle": make_described_song("Plain Song", tags={}, seed=4),
    }


def titles(response) -> list[str]:
    return re.findall(r'<td class="title">.*?<a href="[^"]+">([^<]+)</a>', response.content.decode(), re.S)


def test_it_needs_a_signed_in_person(client):
    response = client.get(URL, {"q": "calm"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_offers_a_description_box_and_examples(alice_client):
    response = alice_client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="q"' in content and "Sounds like…" in content
    assert "calm piano" in content
    assert 'class="error"' not in content


def test_it_ranks_the_song_that_matches_best_first(alice_client, catalogue):
    response = alice_client.get(URL, {"q": "calm piano"})
    assert response.status_code == 200
    assert titles(response)[0] == "Still Water"
    assert titles(response).index("Soft Rain") < titles(response).index("Thunder")


def test_loud_and_fast_finds_the_loud_song(alice_client, catalogue):
    assert titles(alice_client.get(URL, {"q": "loud fast"}))[0] == "Thunder"


def test_it_shows_the_words_understood_and_those_not(alice_client, catalogue):
    content = alice_client.get(URL, {"q": "calm glorptastic piano"}).content.decode()
    understood, _, not_understood = content.partition("Not understood:")
    assert re.search(r'class="tag chip"[^>]*>calm</span>', understood)
    assert re.search(r'class="tag chip"[^>]*>piano</span>', understood)
    assert re.search(r'class="tag chip unknown">glorptastic</span>', not_understood)
    assert "glorptastic" not in understood.partition("Understood:")[2]


def test_htmx_gets_only_the_results(alice_client, catalogue):
    response = alice_client.get(URL, {"q": "calm"}, headers={"HX-Request": "true", "HX-Target": "results"})
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="results"')
    assert "<html" not in content and 'name="q"' not in content
    assert "Soft Rain" in content
    assert "HX-Request" in response["Vary"]


def test_the_results_play_as_elsewhere(alice_client, catalogue):
    content = alice_client.get(URL, {"q": "calm"}).content.decode()
    song = catalogue["calm"]
    assert f'data-song-id="{song.pk}"' in content
    assert 'data-queue-target="#described-songs"' in content


def test_another_persons_private_upload_never_shows_nor_counts(alice, bob, alice_client, bob_client, catalogue):
    make_described_song(
        "Bob's Lullaby", tags={**CALM, **PIANO}, seed=9, energy=0.05, loudness_db=-35.0, owner=bob, in_catalogue=False
    )
    alices = alice_client.get(URL, {"q": "calm piano"}).content.decode()
    bobs = bob_client.get(URL, {"q": "calm piano"}).content.decode()
    assert "Bob&#x27;s Lullaby" not in alices and "Bob's Lullaby" not in alices
    assert "The 4 best matches" in alices
    assert "Bob&#x27;s Lullaby" in bobs
    assert "The 5 best matches" in bobs
    assert songs_described(parse("calm piano"), alice).scored == 4


def test_ones_own_private_upload_is_found(alice, alice_client, catalogue):
    make_described_song("My Demo", tags={**CALM, **PIANO}, seed=10, energy=0.05, owner=alice, in_catalogue=False)
    assert "My Demo" in titles(alice_client.get(URL, {"q": "calm piano"}))


def test_the_rerank_by_sound_keeps_every_song_a_description_found(alice, catalogue):
    plain = songs_described(parse("calm"), alice, rerank=False)
    reranked = songs_described(parse("calm"), alice, rerank=True)
    assert {song.pk for song in plain.songs} == {song.pk for song in reranked.songs}
    assert [song.pk for song in plain.songs[:2]] == [catalogue["calm piano"].pk, catalogue["calm"].pk]


def test_at_most_max_scored_songs_are_scored(alice, catalogue):
    found = songs_described(parse("calm"), alice, max_scored=2)
    assert found.scored == 2
    # The stand-in for the score keeps the two calm songs, not the loud one.
    assert {song.title for song in found.songs} == {"Still Water", "Soft Rain"}


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("   ", "Describe the music in a few words"),
        ("a" * 10_000, "10,000 characters long"),
        ("zxqv blorptastic", "No word of this description is in the vocabulary"),
        ("the music", "describes a sound"),
        ("calm 00 bpm", "A tempo is 30-300 bpm"),
    ],
)
def test_bad_input_gets_a_clear_message(alice_client, catalogue, q, message):
    response = alice_client.get(URL, {"q": q})
    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="error" role="alert"' in content
    assert message in content
    assert "<table" not in content


def test_unknown_words_alone_are_shown_as_not_understood(alice_client, catalogue):
    content = alice_client.get(URL, {"q": "zxqv blorptastic"}).content.decode()
    assert re.search(r'class="tag chip unknown">blorptastic</span>', content)


def test_a_nul_character_is_no_error(alice_client, catalogue):
    response = alice_client.get(URL, {"q": "calm\x00 piano"})
    assert response.status_code == 200


def test_no_analysed_song_gives_a_plain_message(alice_client, db):
    content = alice_client.get(URL, {"q": "calm"}).content.decode()
    assert "No analysed song matches “calm” yet." in content


def test_a_word_the_models_tags_cannot_measure_is_named_and_left_out(alice_client, settings, db):
    settings.MUSREC_MODEL = "msd_musicnn"  # MSD's tags only: no piano
    make_described_song("Tearful", tags={"msd:sad": 0.8}, seed=11)
    make_described_song("Cheerful", tags={"msd:happy": 0.8}, seed=12)
    content = alice_client.get(URL, {"q": "sad piano"}).content.decode()
    assert "The analysis has no tag for “piano”: it was left out." in content
    assert re.search(r'class="tag chip unscorable"[^>]*>piano</span>', content)
    assert titles(alice_client.get(URL, {"q": "sad piano"}))[0] == "Tearful"
    only_piano = alice_client.get(URL, {"q": "piano"}).content.decode()
    assert "The analysis has no tag for “piano”: it was left out." in only_piano
    assert "No analysed song matches" not in only_piano and "<table" not in only_piano
