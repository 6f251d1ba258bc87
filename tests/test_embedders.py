"""The two-network embedder: its card, the standardisation, and how the networks' vectors are combined."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.core.analysis import model_key
from recommender.core.embedders import PAIR, EmbedderCard, Standardisation, load_card, tag_key


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_the_committed_card_names_both_networks_and_has_statistics_for_each():
    card = load_card(PAIR)

    assert card.networks == ("msd_musicnn", "mtt_musicnn")
    assert card.layer == "penultimate"
    assert card.dimensions == 400
    for name in card.networks:
        stats = card.standardisation[name]
        assert stats.mean.shape == stats.std.shape == (200,)
        assert (stats.std > 0).all()
    assert "demo catalogue" in card.about["fitted_on"]["what"]


def test_a_single_network_keeps_the_key_its_vectors_were_stored_under_before_embedders():
    assert model_key(load_card("msd_musicnn")) == "msd_musicnn@0.1.0:penultimate:w8"
    assert load_card("msd_musicnn").standardisation == {}
    assert model_key(load_card(PAIR)).startswith(f"{PAIR}@{load_card(PAIR).version}:")


def test_an_unknown_embedder_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown embedder 'vggish'"):
        load_card("vggish")


def test_standardisation_gives_each_dimension_mean_zero_and_unit_spread():
    vectors = rng().normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(500, 3))

    standardised = Standardisation.fit(vectors).apply(vectors)

    assert np.allclose(standardised.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(standardised.std(axis=0), 1)


def test_a_dimension_that_never_varies_is_dropped_rather_than_blown_up():
    vectors = rng().normal(size=(50, 3))
    vectors[:, 1] = 0.7 + 1e-9 * rng(1).normal(size=50)  # a unit that is off for every song, plus rounding noise

    stats = Standardisation.fit(vectors)

    assert np.isinf(stats.std[1])
    assert np.all(stats.apply(vectors)[:, 1] == 0)


def test_the_statistics_survive_json_with_a_dropped_dimension():
    vectors = rng().normal(size=(20, 4))
    vectors[:, 2] = 1.0
    stats = Standardisation.fit(vectors)

    again = Standardisation.from_json(json.loads(json.dumps(stats.to_json())))

    assert np.allclose(again.apply(vectors), stats.apply(vectors), atol=1e-7)


def test_the_combined_cosine_is_the_mean_of_the_networks_cosines():
    card = EmbedderCard("pair", "t", ("msd_musicnn", "mtt_musicnn"), "penultimate")
    raw = {"msd_musicnn": rng(1).normal(size=(2, 200)), "mtt_musicnn": rng(2).normal(size=(2, 200))}

    vectors = card.combine(raw)

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    expected = np.mean([cosine(*raw[name]) for name in card.networks])
    assert vectors.shape == (2, 400) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(expected, abs=1e-6)


def test_standardising_changes_which_songs_are_near():
    # One dimension with a huge offset and spread would rule the cosine without standardisation.
    base = rng(3).normal(size=(40, 200))
    base[:, 0] = 100 + 50 * rng(4).normal(size=40)
    raw = {"msd_musicnn": base, "mtt_musicnn": rng(5).normal(size=(40, 200))}
    card = EmbedderCard("pair", "t", ("msd_musicnn", "mtt_musicnn"), "penultimate")
    stats = {name: Standardisation.fit(vectors) for name, vectors in raw.items()}

    plain, standardised = card.combine(raw), card.with_standardisation(stats, version="s").combine(raw)

    assert (plain @ plain.T).mean() > 0.4  # every song near every other, through dimension 0
    assert abs((standardised @ standardised.T)[~np.eye(40, dtype=bool)].mean()) < 0.05


def test_the_raw_vector_splits_back_into_each_networks_part():
    card = load_card(PAIR)
    raw = np.arange(400, dtype=np.float32)

    parts = card.split_raw(raw)

    assert np.array_equal(parts["msd_musicnn"], raw[:200])
    assert np.array_equal(parts["mtt_musicnn"], raw[200:])


def test_the_second_networks_tags_are_named_after_its_vocabulary():
    card = load_card(PAIR)

    assert tag_key(card, "msd_musicnn", "rock") == "rock"
    assert tag_key(card, "mtt_musicnn", "rock") == "mtt:rock"
