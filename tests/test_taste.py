"""Taste centres, recency, negatives and the weighted merge, on seeded synthetic vectors (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.rules import Candidate
from recommender.core.taste import (
    EXPLICIT_FLOOR,
    HALF_LIFE_DAYS,
    MAX_SONG_WEIGHT,
    TasteError,
    merge_by_weight,
    nearer_to_negatives,
    recency,
    song_weights,
    taste_centres,
    weighted_silhouette,
)
from recommender.core.vectors import unit_length

D = 200


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def clusters(rng: np.random.Generator, sizes: list[int], *, spread: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Songs around ``len(sizes)`` kinds of music. Like the real embeddings, all share a common direction."""
    common = unit(rng.standard_normal(D))
    directions = [unit(rng.standard_normal(D)) for _ in sizes]
    vectors, labels = [], []
    for label, (size, direction) in enumerate(zip(sizes, directions, strict=True)):
        for _ in range(size):
            vectors.append(common + direction + spread * unit(rng.standard_normal(D)))
            labels.append(label)
    return unit_length(np.array(vectors)), np.array(labels)


def mean_direction(vectors: np.ndarray) -> np.ndarray:
    return unit(vectors.mean(axis=0))


def test_it_finds_two_centres_for_two_kinds_of_music_not_their_average():
    rng = np.random.default_rng(1)
    vectors, labels = clusters(rng, [8, 8])

    centres = taste_centres(vectors, np.ones(len(vectors)))

    assert len(centres) == 2
    own = [mean_direction(vectors[labels == label]) for label in (0, 1)]
    average = mean_direction(vectors)
    for centre in centres:
        best = max(float(centre.vector @ kind) for kind in own)
        assert best > 0.98
        # The average sits between the two kinds: each centre is much nearer its own kind than the average is.
        assert best - float(average @ own[0]) > 0.1
    assert sorted(len(c.members) for c in centres) == [8, 8]
    assert sum(c.weight for c in centres) == pytest.approx(1.0)


@pytest.mark.parametrize("kinds", [1, 2, 3, 4])
def test_it_makes_one_centre_per_kind_of_music(kinds):
    rng = np.random.default_rng(10 + kinds)
    vectors, _ = clusters(rng, [7] * kinds)

    assert len(taste_centres(vectors, np.ones(len(vectors)))) == kinds


def test_it_gives_the_same_centres_for_the_same_history():
    vectors, _ = clusters(np.random.default_rng(3), [6, 9, 5])
    weights = np.random.default_rng(4).uniform(0.5, 3, len(vectors))

    first = taste_centres(vectors, weights, seed=7)
    again = taste_centres(vectors, weights, seed=7)

    assert [c.weight for c in first] == [c.weight for c in again]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)


def test_one_stray_song_makes_no_centre_of_its_own():
    rng = np.random.default_rng(5)
    vectors, _ = clusters(rng, [10, 1])

    centres = taste_centres(vectors, np.ones(len(vectors)))

    assert len(centres) == 1


def test_one_liked_song_of_another_kind_gets_a_centre_of_its_own():
    rng = np.random.default_rng(15)
    vectors, labels = clusters(rng, [5, 1])

    centres = taste_centres(vectors, np.ones(len(vectors)))

    assert sorted(len(c.members) for c in centres) == [1, 5]
    assert centres[1].vector @ vectors[labels == 1][0] == pytest.approx(1.0)


def test_with_only_a_few_liked_songs_each_is_a_centre_unless_it_weighs_too_little():
    vectors, _ = clusters(np.random.default_rng(16), [1, 1, 1])

    assert len(taste_centres(vectors, np.ones(3))) == 3
    faint = taste_centres(vectors, np.array([3.0, 3.0, 0.2]))
    assert len(faint) == 2
    assert sorted(len(c.members) for c in faint) == [1, 2]


def test_the_heavier_kind_comes_first_and_its_most_played_song_stands_for_it():
    rng = np.random.default_rng(6)
    vectors, labels = clusters(rng, [6, 6])
    weights = np.where(labels == 1, 3.0, 1.0)
    weights[np.flatnonzero(labels == 1)[2]] = 8.0

    centres = taste_centres(vectors, weights)

    assert set(labels[centres[0].members]) == {1}
    assert centres[0].weight > centres[1].weight
    assert centres[0].representative == np.flatnonzero(labels == 1)[2]


def test_a_dislike_inside_a_centre_pushes_it_away():
    rng = np.random.default_rng(8)
    vectors, _ = clusters(rng, [6])
    disliked = unit(vectors[0] + vectors[1])  # right among the liked songs
    before = taste_centres(vectors, np.ones(6))[0].vector

    after = taste_centres(vectors, np.ones(6), negatives=disliked[None, :], negative_weights=np.array([-3.0]))[0]

    assert after.vector @ disliked < before @ disliked - 0.01
    assert np.linalg.norm(after.vector) == pytest.approx(1.0)
    # Still the same kind of music.
    assert after.vector @ before > 0.9


def test_a_dislike_of_another_kind_of_music_moves_nothing():
    rng = np.random.default_rng(9)
    vectors, labels = clusters(rng, [6, 6])
    liked, other = vectors[labels == 0], vectors[labels == 1]

    alone = taste_centres(liked, np.ones(6))[0].vector
    pushed = taste_centres(liked, np.ones(6), negatives=other, negative_weights=np.full(6, -3.0))[0].vector

    np.testing.assert_allclose(pushed, alone)


def test_a_stronger_dislike_pushes_further():
    vectors, _ = clusters(np.random.default_rng(11), [6])
    disliked = unit(vectors[2] + vectors[3])[None, :]

    def pushed(weight: float) -> float:
        return float(
            taste_centres(vectors, np.ones(6), negatives=disliked, negative_weights=np.array([weight]))[0].vector
            @ disliked[0]
        )

    assert pushed(-0.75) > pushed(-3.0)


def test_recency_halves_a_weight_every_half_life_and_explicit_signals_keep_a_floor():
    ages = np.array([0, HALF_LIFE_DAYS, 2 * HALF_LIFE_DAYS, 3650, -5])

    np.testing.assert_allclose(recency(ages)[:3], [1.0, 0.5, 0.25])
    assert recency(ages)[3] < 1e-9
    assert recency(ages)[4] == 1.0  # a clock ahead does not boost
    assert recency(ages, floor=EXPLICIT_FLOOR)[3] == pytest.approx(EXPLICIT_FLOOR)


def test_repeated_plays_add_up_to_a_cap_and_a_skip_takes_away():
    ids, totals = song_weights(np.array([5, 5, 5, 9, 9, 7]), np.array([1.0, 1.0, 1.0, 1.0, -0.75, 30.0]))

    assert ids.tolist() == [5, 7, 9]
    np.testing.assert_allclose(totals, [3.0, MAX_SONG_WEIGHT, 0.25])


def test_recent_listening_makes_the_heavier_centre():
    rng = np.random.default_rng(12)
    vectors, labels = clusters(rng, [6, 6])
    ages = np.where(labels == 0, 60.0, 2.0)  # kind 0 played two months ago, kind 1 this week

    centres = taste_centres(vectors, recency(ages))

    assert len(centres) == 2
    assert set(labels[centres[0].members]) == {1}
    assert centres[0].weight > 0.7


def test_a_taste_not_heard_for_a_year_fades_into_no_centre_of_its_own():
    rng = np.random.default_rng(12)
    vectors, labels = clusters(rng, [6, 6])
    ages = np.where(labels == 0, 365.0, 2.0)

    centres = taste_centres(vectors, recency(ages))

    assert len(centres) == 1
    assert centres[0].vector @ mean_direction(vectors[labels == 1]) > 0.99


def test_the_silhouette_is_high_for_separate_kinds_and_low_for_a_random_split():
    vectors, labels = clusters(np.random.default_rng(13), [10, 10])
    weights = np.ones(20)

    assert weighted_silhouette(vectors, weights, labels) > 0.3
    assert weighted_silhouette(vectors, weights, np.random.default_rng(0).permutation(labels)) < 0.05


def test_the_silhouette_leaves_out_songs_alone_in_their_cluster():
    vectors, labels = clusters(np.random.default_rng(17), [6, 1])
    weights = np.ones(7)

    score = weighted_silhouette(vectors, weights, labels)

    assert score > 0.3
    # The stray song's own weight does not enter the mean; only its distance to the others does.
    heavier_stray = np.where(labels == 1, 100.0, 1.0)
    assert weighted_silhouette(vectors, heavier_stray, labels) == pytest.approx(score)
    assert weighted_silhouette(vectors[:2], weights[:2], np.array([0, 1])) == 0.0


@pytest.mark.parametrize(
    ("positives", "weights"),
    [
        (np.ones((3, D)), np.ones(2)),
        (np.ones((3, D)), np.array([1.0, 0.0, 1.0])),
        (np.ones((3, D)), np.array([1.0, np.nan, 1.0])),
        (np.zeros((0, D)), np.zeros(0)),
    ],
)
def test_it_refuses_vectors_and_weights_that_do_not_fit(positives, weights):
    with pytest.raises(TasteError):
        taste_centres(positives, weights)


def candidate(song_id: int, *, artist: int | None = None, vector: np.ndarray | None = None, distance: float = 0.1):
    if vector is None:
        vector = unit(np.random.default_rng(song_id).standard_normal(D))
    return Candidate(song_id, song_id if artist is None else artist, f"hash-{song_id}", distance, vector)


def test_the_merge_gives_a_centre_twice_the_weight_twice_the_songs():
    heavy = [candidate(i) for i in range(1, 21)]
    light = [candidate(i) for i in range(101, 121)]

    merged = merge_by_weight([heavy, light], [2 / 3, 1 / 3], k=9)

    sources = [source for source, _ in merged]
    assert sources.count(0) == 6 and sources.count(1) == 3
    assert [c.song_id for source, c in merged if source == 0] == list(range(1, 7))


def test_the_merge_keeps_a_song_near_two_centres_once_and_at_most_two_per_artist():
    first = [candidate(1, artist=50), candidate(2, artist=50), candidate(3, artist=50), candidate(4)]
    second = [candidate(2, artist=50), candidate(5), candidate(6)]

    merged = merge_by_weight([first, second], [0.5, 0.5], k=10)

    ids = [c.song_id for _, c in merged]
    assert sorted(ids) == [1, 2, 4, 5, 6]
    # Song 2 is the second centre's first song before it is the first centre's second: it keeps that place.
    assert dict((c.song_id, source) for source, c in merged)[2] == 1


def test_the_merge_counts_the_songs_already_taken_and_never_returns_them():
    taken = [candidate(1, artist=50), candidate(2, artist=50)]
    more = [candidate(1, artist=50), candidate(3, artist=50), candidate(4), candidate(5)]

    merged = merge_by_weight([more], [1.0], k=5, taken=taken)

    assert [c.song_id for _, c in merged] == [4, 5]


def test_the_merge_leaves_out_a_copy_of_a_recording_already_taken():
    original = candidate(1)
    copy = Candidate(2, 2, "other-file", 0.1, original.vector.copy())

    merged = merge_by_weight([[copy, candidate(3)]], [1.0], k=5, taken=[original])

    assert [c.song_id for _, c in merged] == [3]


def test_a_candidate_nearer_a_disliked_song_than_its_centre_is_flagged_only_when_a_near_twin():
    rng = np.random.default_rng(14)
    disliked = unit(rng.standard_normal(D))
    twin = unit(disliked + 0.1 * unit(rng.standard_normal(D)))  # cosine 0.995
    sibling = unit(disliked + 0.7 * unit(rng.standard_normal(D)))  # cosine 0.82: same kind, not a twin
    stranger = unit(rng.standard_normal(D))

    mask = nearer_to_negatives(np.stack([twin, sibling, stranger]), np.array([0.8, 0.8, 0.8]), disliked[None, :])

    assert mask.tolist() == [True, False, False]
