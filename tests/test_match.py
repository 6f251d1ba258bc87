"""How alike two songs are, as people read it: a "match" of 0 to 100 %, the share of pairs of catalogue songs that
are less alike, the same on every page that shows one (issue 11, §6.1: a far song once showed "-3 %")."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Genre, Playlist, Song, forget_catalogue_figures
from recommender.core.vectors import pair_similarity_quantiles, percentile_among_pairs
from recommender.models import Embedding, active_dimensions, active_model_key, similarity_scale
from tests.factories import make_song

NEGATIVE_PERCENTAGE = re.compile(r"-\s*\d+(\.\d+)?\s*(%|&nbsp;%|\u00a0%)")


def basis(i: int) -> np.ndarray:
    vector = np.zeros(active_dimensions())
    vector[i] = 1.0
    return vector


def at_angle(degrees: float) -> np.ndarray:
    """A unit vector ``degrees`` away from ``basis(0)``, in the plane of ``basis(0)`` and ``basis(1)``."""
    radians = math.radians(degrees)
    return math.cos(radians) * basis(0) + math.sin(radians) * basis(1)


def embedded(vector: np.ndarray, **overrides: object) -> Song:
    song = make_song(analysis_status=Song.Analysis.DONE, **overrides)
    Embedding.objects.create(song=song, model=active_model_key(), vector=vector.astype(np.float32))
    return song


# The scale, without a database


def test_a_cosine_reads_as_the_share_of_pairs_that_are_less_alike():
    # Five vectors at 0, 10, 20, 30 and 40 degrees: ten pairs, at 10 (four), 20 (three), 30 (two) and 40 (one) degrees.
    vectors = np.stack([at_angle(a) for a in (0, 10, 20, 30, 40)])
    scale = pair_similarity_quantiles(vectors)

    assert percentile_among_pairs(math.cos(math.radians(40)), scale) == 0
    assert percentile_among_pairs(math.cos(math.radians(25)), scale) in range(25, 45)
    assert percentile_among_pairs(1.0, scale) == 100


def test_a_negative_cosine_is_a_match_of_zero_never_a_negative_percentage():
    scale = pair_similarity_quantiles(np.stack([at_angle(a) for a in (0, 30, 60, 80)]))

    assert percentile_among_pairs(-0.03, scale) == 0
    assert percentile_among_pairs(-1.0, scale) == 0


def test_a_scale_needs_two_vectors():
    with pytest.raises(ValueError, match="at least two vectors"):
        pair_similarity_quantiles(np.ones((1, 4)))


# The scale of the catalogue, in the cache


@pytest.mark.django_db
def test_the_scale_is_computed_once_per_catalogue_generation_and_again_when_the_catalogue_changes():
    for angle in (0, 20, 40):
        embedded(at_angle(angle))
    first = similarity_scale()

    with CaptureQueriesContext(connection) as queries:
        again = similarity_scale()
    assert len(queries) == 0
    assert again.tolist() == first.tolist()

    embedded(at_angle(90))  # a new catalogue song starts a new generation
    assert similarity_scale().min() < first.min()


@pytest.mark.django_db
def test_the_scale_counts_catalogue_songs_only_never_a_private_upload(bob):
    for angle in (0, 10):
        embedded(at_angle(angle))
    embedded(at_angle(180), owner=bob, in_catalogue=False)
    forget_catalogue_figures()

    assert similarity_scale().min() == pytest.approx(math.cos(math.radians(10)), abs=1e-5)


@pytest.mark.django_db
def test_without_two_analysed_catalogue_songs_there_is_no_scale():
    embedded(at_angle(0))

    assert similarity_scale() is None


# The pages


@pytest.fixture
def metal_far_away() -> dict[str, object]:
    """A seed, songs around it, and Heavy metal on the far side (negative cosines)."""
    metal = Genre.objects.create(name="Heavy metal")
    seed = embedded(at_angle(0), title="Seed")
    near = [embedded(at_angle(a), title=f"Near {a}") for a in (10, 20, 30, 40, 50, 60)]
    far = [embedded(at_angle(a), title=f"Metal {a}", genres=["Heavy metal"]) for a in (95, 110, 130)]
    forget_catalogue_figures()
    return {"seed": seed, "near": near, "far": far, "metal": metal}


def matches(html: str) -> list[int]:
    return [int(m) for m in re.findall(r"(\d+)\u00a0%<span class=\"match-word\"> match", html)]


@pytest.mark.django_db
def test_a_far_genre_shows_low_matches_and_never_a_negative_percentage(alice_client, alice, metal_far_away):
    upload = embedded(at_angle(0), title="My favourite", owner=alice, in_catalogue=False)

    response = alice_client.get(reverse("recommender:upload_detail", args=[upload.pk]), {"genre": "heavy-metal"})

    html = response.content.decode()
    assert [s.title for s in response.context["playlist"]] == ["Metal 95", "Metal 110", "Metal 130"]
    assert not NEGATIVE_PERCENTAGE.search(html)
    # Less alike than most pairs of catalogue songs: low matches, falling, the farthest pair of all at 0.
    shown = matches(html)
    assert shown == sorted(shown, reverse=True)
    assert shown[0] < 25 and shown[-1] == 0
    assert f"Closer than {shown[0]} % of pairs of catalogue songs (cosine -0.09)" in html


@pytest.mark.django_db
def test_more_like_this_shows_near_songs_as_high_matches_in_order(alice_client, metal_far_away):
    url = reverse("recommender:more_like_this", args=[metal_far_away["seed"].pk])

    response = alice_client.get(url, {"n": 5}, headers={"HX-Request": "true"})

    shown = matches(response.content.decode())
    assert len(shown) == 5
    assert shown == sorted(shown, reverse=True)
    assert shown[0] >= 80


@pytest.mark.django_db
def test_a_saved_playlist_shows_its_songs_matches_the_same_way(alice_client, alice, metal_far_away):
    playlist = Playlist.objects.create_with_songs(
        owner=alice, name="Mixed", songs=metal_far_away["far"][:2], similarities=[-0.9, 0.999]
    )

    html = alice_client.get(playlist.get_absolute_url()).content.decode()

    assert not NEGATIVE_PERCENTAGE.search(html)
    assert matches(html) == [0, 100]


@pytest.mark.django_db
def test_a_path_shows_matches_to_both_ends_and_its_chart_never_goes_below_zero(alice_client, metal_far_away):
    start, goal = metal_far_away["seed"], metal_far_away["far"][-1]

    response = alice_client.get(reverse("recommender:path"), {"from": start.pk, "to": goal.pk, "n": 3})

    html = response.content.decode()
    assert response.status_code == 200
    assert not NEGATIVE_PERCENTAGE.search(html)
    assert response.context["chart"]["low"] >= 0
    assert len(matches(html)) == 2 * len(response.context["result"].songs)
