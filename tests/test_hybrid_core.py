"""The blend's arithmetic (recommender.core.hybrid): ranks mixed by a weight that grows with the evidence."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.hybrid import AUDIO, TOGETHER, BlendSettings, HybridError, blend, blend_weights, standard_scores

SETTINGS = BlendSettings(max_weight=0.6, song_evidence=5, person_evidence=10)


def test_standard_scores_leave_nan_out_and_give_zero_when_all_are_equal():
    scores = standard_scores(np.array([1.0, np.nan, 3.0, 5.0]))
    assert np.isnan(scores[1])
    assert scores[[0, 2, 3]] == pytest.approx(np.array([-1.0, 0.0, 1.0]) * np.sqrt(1.5))
    assert standard_scores(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]
    assert np.isnan(standard_scores(np.array([np.nan, np.nan]))).all()


def test_the_weight_grows_with_both_sides_of_the_evidence_up_to_the_maximum():
    listeners = np.array([0, 1, 5, 50])
    assert blend_weights(listeners, 0, SETTINGS) == pytest.approx([0, 0, 0, 0])
    assert blend_weights(listeners, 5, SETTINGS) == pytest.approx([0, 0.06, 0.3, 0.3])
    assert blend_weights(listeners, 10, SETTINGS) == pytest.approx([0, 0.12, 0.6, 0.6])
    assert blend_weights(listeners, 500, SETTINGS) == pytest.approx([0, 0.12, 0.6, 0.6])


def test_a_new_person_gets_exactly_the_audio_order():
    rng = np.random.default_rng(0)
    audio = rng.random(30)
    result = blend(audio, rng.random(30), rng.integers(0, 40, 30), 0, SETTINGS)
    assert result.order.tolist() == np.argsort(-audio, kind="stable").tolist()
    assert set(result.side) == {AUDIO}


def test_new_songs_keep_their_audio_places_among_themselves_and_unknown_scores_count_as_audio():
    audio = np.array([0.9, 0.8, 0.7, 0.6])
    collaborative = np.array([0.2, 0.1, np.nan, 0.9])
    listeners = np.array([0, 0, 0, 20])  # only the last has listeners (the first two are known, without)
    result = blend(audio, collaborative, listeners, 10, SETTINGS)
    assert result.weight.tolist() == pytest.approx([0, 0, 0, 0.6])
    assert result.order.tolist() == [0, 1, 3, 2]  # the co-listened song rises past one, the others keep order
    assert result.side == [AUDIO, AUDIO, AUDIO, TOGETHER]


def test_with_full_evidence_the_collaborative_side_can_lift_a_farther_song():
    audio = np.array([0.95, 0.90, 0.85])
    collaborative = np.array([0.0, 0.1, 1.2])
    listeners = np.array([30, 30, 30])
    assert blend(audio, collaborative, listeners, 100, SETTINGS).order.tolist() == [2, 0, 1]
    nothing = BlendSettings(max_weight=0.0)
    assert blend(audio, collaborative, listeners, 100, nothing).order.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "arguments",
    [
        (np.zeros(3), np.zeros(2), np.zeros(3), 1),
        (np.array([np.nan, 1, 2]), np.zeros(3), np.zeros(3), 1),
        (np.zeros(3), np.array([np.inf, 1, 2]), np.zeros(3), 1),
        (np.zeros(3), np.zeros(3), np.array([-1, 0, 0]), 1),
        (np.zeros(3), np.zeros(3), np.zeros(3), -1),
        (np.zeros(3), np.zeros(3), np.zeros(3), float("nan")),
    ],
)
def test_arrays_that_do_not_fit_are_refused(arguments):
    with pytest.raises(HybridError):
        blend(*arguments, SETTINGS)


@pytest.mark.parametrize(
    "values", [{"max_weight": 1.5}, {"max_weight": -0.1}, {"song_evidence": 0}, {"person_evidence": -1}]
)
def test_settings_out_of_range_are_refused(values):
    with pytest.raises(HybridError):
        BlendSettings(**values)


def test_an_empty_pool_is_an_empty_blend():
    result = blend(np.zeros(0), np.zeros(0), np.zeros(0), 10, SETTINGS)
    assert result.order.tolist() == [] and result.side == []


def test_a_song_the_model_agrees_on_is_not_said_to_be_placed_by_it():
    # The model ranks the pool exactly as the sound does: nothing moved, so nothing was placed by people's listening.
    audio = np.linspace(1.0, 0.0, 12)
    result = blend(audio, audio.copy(), np.full(12, 50), 100, SETTINGS)
    assert result.order.tolist() == list(range(12))
    assert set(result.side) == {AUDIO}


def test_a_song_the_model_thinks_little_of_is_never_said_to_be_placed_by_it():
    # Far down by sound, below the model's average too, yet lifted (the model thinks even less of the others).
    audio = np.array([1.0, 0.9, 0.8, 0.1])
    collaborative = np.array([-3.0, -3.0, -3.0, -1.0])
    result = blend(audio, collaborative, np.full(4, 50), 100, SETTINGS)
    assert result.side[3] == TOGETHER  # above the pool's average: it is the model's pick
    collaborative = np.array([0.9, 0.9, 0.2, 0.1])
    result = blend(audio, collaborative, np.full(4, 50), 100, SETTINGS)
    assert result.side == [AUDIO] * 4


@pytest.mark.parametrize("known", [1, 2])
def test_a_pool_the_model_knows_too_little_of_is_left_to_the_sound(known):
    # One or two predictions say nothing about what an ordinary one is: the songs keep their audio order.
    audio = np.linspace(1.0, 0.0, 10)
    collaborative = np.full(10, np.nan)
    collaborative[-known:] = np.linspace(0.5, 1.0, known)
    result = blend(audio, collaborative, np.full(10, 50), 100, SETTINGS)
    assert result.order.tolist() == list(range(10))
    assert result.weight.tolist() == [0.0] * 10


def test_predictions_all_alike_are_left_to_the_sound():
    audio = np.linspace(1.0, 0.0, 6)
    result = blend(audio, np.full(6, 0.7), np.full(6, 50), 100, SETTINGS)
    assert result.order.tolist() == list(range(6))
