"""CSLS: each song's neighbour similarity r(y), and the re-ranking that keeps hubs out of every list."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.evaluation import grouped_metrics, hubness, leave_one_out_metrics, nearest_neighbours
from recommender.core.hubs import csls_penalty, neighbour_similarity
from recommender.core.vectors import unit_length


def test_r_is_the_mean_similarity_to_the_k_nearest_others():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])

    r = neighbour_similarity(vectors, k=2)

    # Row 0's two nearest others: 0.8 and 0.6.
    assert r[0] == pytest.approx((0.8 + 0.6) / 2)
    assert r[1] == pytest.approx((0.96 + 0.8) / 2)


def test_a_song_is_never_its_own_neighbour_when_compared_with_the_catalogue():
    catalogue = unit_length(np.random.default_rng(0).normal(size=(30, 8)))
    ids = np.arange(100, 130)

    with_itself = neighbour_similarity(catalogue[:5], among=catalogue, ids=ids[:5], among_ids=ids, k=3)
    alone = neighbour_similarity(catalogue, k=3)

    assert np.allclose(with_itself, alone[:5])
    assert (with_itself < 1 - 1e-6).all()


def test_blocks_give_the_same_answer_as_one_pass(monkeypatch):
    vectors = np.random.default_rng(1).normal(size=(70, 16))
    whole = neighbour_similarity(vectors)

    monkeypatch.setattr("recommender.core.hubs.BLOCK_ROWS", 8)

    assert np.allclose(neighbour_similarity(vectors), whole)


def test_csls_pushes_a_hub_out_of_the_lists_it_crowds():
    rng = np.random.default_rng(2)
    directions = unit_length(rng.normal(size=(6, 32)))
    # Six clusters; the last song sits between all of them, the nearest neighbour of many.
    songs = np.concatenate([d + 0.45 * rng.normal(size=(12, 32)) for d in directions])
    hub = directions.sum(axis=0)
    vectors = np.vstack([songs, hub])
    labels = [str(i // 12) for i in range(72)] + ["hub"]

    plain = nearest_neighbours(vectors, k=5)
    reranked = nearest_neighbours(vectors, k=5, penalty=csls_penalty(neighbour_similarity(vectors)))

    assert (plain == 72).sum() > (reranked == 72).sum()
    assert hubness(reranked, n_items=73) < hubness(plain, n_items=73)
    assert (
        leave_one_out_metrics(vectors, labels, k=5, csls=True)["p@5"]
        >= leave_one_out_metrics(vectors, labels, k=5)["p@5"]
    )


def test_grouped_metrics_never_score_a_fit_on_the_songs_it_saw():
    rng = np.random.default_rng(3)
    labels = [str(i // 10) for i in range(60)]
    noise = rng.normal(size=(60, 20))

    def memorising(fit_on: np.ndarray) -> np.ndarray:
        # A "fit" that writes the label of every song it sees into its vector: perfect on what it saw.
        vectors = noise.copy()
        for i in np.flatnonzero(fit_on):
            vectors[i, int(labels[i])] += 100
        return vectors

    in_sample = leave_one_out_metrics(memorising(np.ones(60, dtype=bool)), labels, k=5)
    held_out = grouped_metrics(memorising, labels, labels, k=5)

    assert in_sample["p@5"] == 1.0
    assert held_out["p@5"] < 0.4
    assert held_out["folds"] == 6 and held_out["queries"] == 60


def test_grouped_metrics_equal_leave_one_out_for_a_representation_that_fits_nothing():
    vectors = np.random.default_rng(4).normal(size=(40, 10))
    labels = [str(i % 4) for i in range(40)]
    albums = [str(i % 8) for i in range(40)]

    grouped = grouped_metrics(lambda fit_on: vectors, labels, albums, k=5)
    plain = leave_one_out_metrics(vectors, labels, k=5)

    for key in ("p@1", "p@5", "map@5", "hubness@5"):
        assert grouped[key] == pytest.approx(plain[key])
