"""The radio's maths (recommender.core.radio): where it looks after skips and completed plays, what it picks."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core import radio

D = 32


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def space():
    """A seed between two regions, X and Y, each as near the seed as the other."""
    rng = np.random.default_rng(3)
    # Orthonormal directions: X and Y are exactly as near the seed as each other.
    seed, a, b = np.linalg.qr(rng.standard_normal((D, 3)))[0].T
    return {"seed": seed, "X": unit(seed + 0.8 * a), "Y": unit(seed + 0.8 * b)}


def test_a_skip_moves_the_target_away_and_a_completed_play_towards():
    rng = np.random.default_rng(0)
    seed, other = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    anchor = radio.Anchor(seed, "start")
    skipped = radio.target(anchor, [radio.Event(other, "skipped", 0)])
    completed = radio.target(anchor, [radio.Event(other, "completed", 0)])
    liked = radio.target(anchor, [radio.Event(other, "liked", 0)])
    assert skipped @ other < seed @ other < completed @ other < liked @ other
    # Stopped halfway says nothing; an old event says less than a new one.
    assert np.allclose(radio.target(anchor, [radio.Event(other, "heard", 0)]), seed)
    old = radio.target(anchor, [radio.Event(other, "skipped", 5)])
    assert skipped @ other < old @ other < seed @ other


def test_events_cancelling_the_anchor_leave_the_anchor():
    seed = unit(np.ones(D))
    events = [radio.Event(seed, "disliked", 0)]
    assert np.allclose(radio.target(radio.Anchor(seed, "start"), events), seed)


def test_mismatched_vectors_are_refused():
    with pytest.raises(radio.RadioError):
        radio.target(radio.Anchor(unit(np.ones(D)), "start"), [radio.Event(unit(np.ones(D + 1)), "skipped", 0)])


def test_two_skips_in_one_region_turn_the_picks_to_the_other(space):
    rng = np.random.default_rng(4)
    xs = np.stack([unit(space["X"] + 0.2 * unit(rng.standard_normal(D))) for _ in range(8)])
    ys = np.stack([unit(space["Y"] + 0.2 * unit(rng.standard_normal(D))) for _ in range(8)])
    candidates = np.concatenate([xs, ys])
    anchor = radio.Anchor(space["seed"], "start")
    before = radio.pick(candidates, list(range(16)), anchor, [anchor], [], k=6)
    assert {p.index < 8 for p in before} == {True, False}  # both regions, as near as each other
    events = [radio.Event(xs[0], "skipped", 1), radio.Event(xs[1], "skipped", 0)]
    after = radio.pick(candidates[2:], list(range(14)), anchor, [anchor], events, k=6)
    assert all(p.index + 2 >= 8 for p in after)  # all from Y
    skipped = np.stack([xs[0], xs[1]])

    def distance_to_skipped(rows: np.ndarray) -> float:
        return float(np.mean(1 - rows @ skipped.T))

    assert distance_to_skipped(candidates[[2 + p.index for p in after]]) > distance_to_skipped(
        candidates[[p.index for p in before]]
    )


def test_the_reason_names_the_song_kept_when_a_pick_is_more_like_it(space):
    anchor = radio.Anchor(space["seed"], "Like “Seed”")
    kept = radio.Event(space["Y"], "completed", 0, "Yonder")
    liked = radio.Event(space["X"], "liked", 2, "Xanadu")
    assert radio.reason_for(space["Y"], [anchor], [kept, liked]) == "Because you let “Yonder” play to the end"
    assert radio.reason_for(space["X"], [anchor], [kept, liked]) == "Because you liked “Xanadu”"
    assert radio.reason_for(space["seed"], [anchor], [kept, liked]) == "Like “Seed”"
    # A skipped song is never a reason.
    assert radio.reason_for(space["X"], [anchor], [radio.Event(space["X"], "skipped", 0, "No")]) == "Like “Seed”"


def test_at_most_two_songs_of_an_artist_in_any_ten():
    rng = np.random.default_rng(5)
    candidates = np.stack([unit(rng.standard_normal(D)) for _ in range(30)])
    groups = [1] * 10 + list(range(100, 120))  # artist 1 has the ten best candidates
    ranking = np.linspace(1, 0, 30)
    rows = radio.choose(candidates, groups, ranking, k=12, recent_artists=[1])
    picked = [groups[r] for r in rows]
    assert picked.count(1) == 1  # one of the window's two was already heard
    history = [1, *picked]
    for start in range(len(history) - 9):
        assert history[start : start + 10].count(1) <= 2
    # Two of theirs among the last few songs (fewer than nine heard in all): not yet.
    rows = radio.choose(candidates, groups, ranking, k=1, recent_artists=[1, 1, 200, 201, 202])
    assert groups[rows[0]] != 1
    # Nine others later, the artist may come back.
    rows = radio.choose(candidates, groups, ranking, k=1, recent_artists=[1, 1, *range(200, 208)])
    assert groups[rows[0]] == 1


def test_the_same_recording_is_not_picked_twice():
    rng = np.random.default_rng(6)
    song = unit(rng.standard_normal(D))
    copy = unit(song + 1e-4 * rng.standard_normal(D))
    other = unit(rng.standard_normal(D))
    candidates = np.stack([song, copy, other])
    rows = radio.choose(candidates, [1, 2, 3], np.array([3.0, 2.0, 1.0]), k=3)
    assert rows == [0, 2]
    # Nor one already heard in the session.
    rows = radio.choose(candidates, [1, 2, 3], np.array([3.0, 2.0, 1.0]), k=3, avoid=song[None])
    assert rows == [2]


def test_choose_refuses_mismatched_inputs():
    with pytest.raises(radio.RadioError):
        radio.choose(np.zeros((2, D)), [1], np.zeros(2), k=1)
