"""A path from A to B: spherical waypoints and the step-by-step choice, on seeded synthetic vectors (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.paths import PathError, choose_path, closeness, path_targets, slerp
from recommender.core.rules import Candidate
from recommender.core.vectors import unit_length

D = 200


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def song(song_id: int, vector: np.ndarray, *, artist: int | None = None) -> Candidate:
    return Candidate(song_id, song_id if artist is None else artist, f"hash-{song_id}", 0.0, unit(vector))


@pytest.fixture
def landscape() -> tuple[Candidate, Candidate, list[Candidate]]:
    """A and B half a sphere apart, 120 songs scattered around the arc between them and 80 elsewhere."""
    rng = np.random.default_rng(0)
    a, b = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    on_the_way = slerp(a, b, rng.uniform(0, 1, 120))
    songs = [song(i, v + 0.25 * unit(rng.standard_normal(D))) for i, v in enumerate(on_the_way, start=10)]
    songs += [song(i, rng.standard_normal(D)) for i in range(200, 280)]
    return song(1, a), song(2, b), songs


def test_slerp_starts_at_a_ends_at_b_and_stays_on_the_sphere():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(D), rng.standard_normal(D)

    points = slerp(a, b, np.array([0.0, 0.5, 1.0]))

    np.testing.assert_allclose(points[0], unit(a), atol=1e-9)
    np.testing.assert_allclose(points[2], unit(b), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)
    assert points[1] @ unit(a) == pytest.approx(points[1] @ unit(b))


def test_the_waypoints_are_evenly_spaced_strictly_between_a_and_b():
    rng = np.random.default_rng(2)
    a, b = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))

    targets = path_targets(a, b, 4)

    chain = np.vstack([a, targets, b])
    gaps = np.arccos(np.clip(np.sum(chain[:-1] * chain[1:], axis=1), -1, 1))
    assert targets.shape == (4, D)
    np.testing.assert_allclose(gaps, gaps[0])


def test_the_path_heads_for_b_in_small_steps(landscape):
    start, goal, songs = landscape
    targets = path_targets(start.vector, goal.vector, 10)

    steps = choose_path(targets, songs, start=start, goal=goal)

    assert len(steps) == 10
    vectors = unit_length(np.stack([start.vector, *[s.vector for s in steps], goal.vector]))
    to_a, to_b = closeness(vectors, start.vector, goal.vector)
    # Closer to B, further from A, step after step (on average and from end to end).
    assert np.mean(np.diff(to_b) > 0) >= 0.8
    assert np.mean(np.diff(to_a) < 0) >= 0.8
    # Each step is near the one before: much nearer than A is to B, or than two random songs are.
    step_similarity = np.sum(vectors[:-1] * vectors[1:], axis=1)
    assert step_similarity.min() > start.vector @ goal.vector + 0.3
    # Nothing from the scattered songs off the way.
    assert all(s.song_id < 200 for s in steps)


def test_the_path_never_repeats_a_b_a_song_or_a_recording_and_keeps_two_per_artist(landscape):
    start, goal, songs = landscape
    # One artist owns every song, A and B included, and song 11 is also there as a copy of song 10.
    songs = [Candidate(s.song_id, 7, s.content_hash, 0.0, s.vector) for s in songs]
    songs.append(Candidate(999, 8, "hash-10", 0.0, songs[0].vector))
    start = Candidate(1, 7, "hash-1", 0.0, start.vector)
    copy_of_a = Candidate(1000, 9, "a-copy", 0.0, start.vector.copy())

    steps = choose_path(path_targets(start.vector, goal.vector, 8), [*songs, copy_of_a], start=start, goal=goal)

    # Artist 7 already has A; one more of theirs is allowed, then only other artists.
    assert sum(s.artist_group == 7 for s in steps) == 1
    assert {1, 2, 1000}.isdisjoint(s.song_id for s in steps)


def test_a_path_with_too_few_songs_is_shorter(landscape):
    start, goal, songs = landscape

    steps = choose_path(path_targets(start.vector, goal.vector, 10), songs[:3], start=start, goal=goal)

    assert sorted(s.song_id for s in steps) == sorted(s.song_id for s in songs[:3])
    assert choose_path(path_targets(start.vector, goal.vector, 10), [], start=start, goal=goal) == []


@pytest.mark.parametrize(("smoothness", "expected"), [(0.0, "nearest the waypoint"), (0.5, "nearer the last step")])
def test_smoothness_prefers_a_song_near_the_last_step_to_one_exactly_at_the_waypoint(smoothness, expected):
    a, b, aside = np.eye(D)[:3]
    waypoint = path_targets(a, b, 1)  # halfway, 45 degrees from each
    options = {
        # At the waypoint but off to one side: 0.96 like it, 0.68 like A.
        "nearest the waypoint": song(10, waypoint[0] + 0.3 * aside),
        # On the way, a little short of the waypoint: 0.95 like it, 0.89 like A.
        "nearer the last step": song(11, slerp(a, b, np.array([0.3]))[0]),
    }

    steps = choose_path(waypoint, list(options.values()), start=song(1, a), goal=song(2, b), smoothness=smoothness)

    assert steps[0].song_id == options[expected].song_id


def test_it_refuses_a_path_from_a_song_to_itself():
    vector = unit(np.random.default_rng(3).standard_normal(D))

    with pytest.raises(PathError):
        path_targets(vector, vector * 2, 5)
    with pytest.raises(PathError):
        path_targets(vector, -vector, 5)
    with pytest.raises(PathError):
        path_targets(vector, unit(np.ones(D)), 0)
