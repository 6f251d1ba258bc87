"""A path from song A to song B through embedding space, like Plexamp's Sonic Adventure (Django-free).

The way is marked by targets evenly spaced on the great circle from A to B (spherical interpolation, so
every target is as "song-like" as A and B, unlike the chord between them, which cuts through the middle of
the sphere where no song lives). The database gathers songs near each target; ``choose_path`` then walks the
targets in order and at each one takes the unused song that is close to the target *and* close to the song
before it, so the path both heads towards B and moves in small steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from recommender.core.rules import DUPLICATE_DISTANCE, Candidate
from recommender.core.vectors import unit_length

# How much nearness to the previous step counts against nearness to the step's target. At 0 the path jumps
# to whatever is nearest each target; much above 1 it lingers near A and jumps at the end.
SMOOTHNESS = 0.5
MIN_STEPS = 3
MAX_STEPS = 30
DEFAULT_STEPS = 10


class PathError(ValueError):
    """A path cannot be made from these songs (the same song twice, no direction between them)."""


def slerp(start: np.ndarray, goal: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points at fractions ``t`` of the great-circle arc from ``start`` to ``goal``.

    Parameters
    ----------
    start, goal : np.ndarray [shape=(d,)], any length (they are normalised)
    t : np.ndarray [shape=(s,)], 0 is ``start``, 1 is ``goal``

    Returns
    -------
    points : np.ndarray [shape=(s, d)], unit rows
    """
    a, b = unit_length(np.stack([start, goal]))
    t = np.asarray(t, dtype=np.float64)[:, None]
    angle = float(np.arccos(np.clip(a @ b, -1.0, 1.0)))
    if angle < 1e-6:
        raise PathError("the two songs sit at the same place, so there is no way between them")
    if np.pi - angle < 1e-6:
        raise PathError("the two songs are exact opposites, so no single way leads from one to the other")
    points = (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)
    return unit_length(points)


def path_targets(start: np.ndarray, goal: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` evenly spaced waypoints strictly between ``start`` [shape=(d,)] and ``goal`` [shape=(d,)].

    Returns
    -------
    targets : np.ndarray [shape=(steps, d)], unit rows
    """
    if steps < 1:
        raise PathError("a path needs at least one step")
    return slerp(start, goal, np.arange(1, steps + 1) / (steps + 1))


def choose_path(
    targets: np.ndarray,
    candidates: Sequence[Candidate],
    *,
    start: Candidate,
    goal: Candidate,
    smoothness: float = SMOOTHNESS,
    max_per_artist: int | None = 2,
    duplicate_distance: float = DUPLICATE_DISTANCE,
) -> list[Candidate]:
    """One song per target, in order, under the playlist rules.

    Step i takes the unused candidate minimising ``(1 - cos(song, target_i)) + smoothness * (1 - cos(song,
    previous song))``, where the previous song of the first step is A. Never A or B again, no song or
    recording twice (same file, or within ``duplicate_distance`` of a chosen song), at most ``max_per_artist``
    songs per artist counting A and B. When the candidates run out the path is shorter.

    Parameters
    ----------
    targets : np.ndarray [shape=(s, d)], the waypoints, from A's side to B's
    candidates : the songs that may be steps (their ``vector`` unit length)
    start, goal : A and B

    Returns
    -------
    steps : list of Candidate, at most s, the songs between A and B
    """
    if not candidates:
        return []
    vectors = unit_length(np.stack([c.vector for c in candidates]))
    targets = unit_length(targets)
    if targets.ndim != 2 or targets.shape[1] != vectors.shape[1]:
        raise PathError(f"targets {targets.shape} do not fit candidates of width {vectors.shape[1]}")
    to_target = 1.0 - vectors @ targets.T  # [shape=(c, s)]
    usable = np.ones(len(candidates), dtype=bool)
    per_artist: Counter[int] = Counter([start.artist_group, goal.artist_group])
    chosen: list[Candidate] = []

    def rule_out(picked: Candidate) -> None:
        same = np.array([c.song_id == picked.song_id or c.content_hash == picked.content_hash for c in candidates])
        twin = 1.0 - vectors @ unit_length(picked.vector) < duplicate_distance
        usable[same | twin] = False
        if max_per_artist is not None and per_artist[picked.artist_group] >= max_per_artist:
            usable[[c.artist_group == picked.artist_group for c in candidates]] = False

    for endpoint in (start, goal):
        rule_out(endpoint)
    previous = unit_length(start.vector)
    for step in range(len(targets)):
        if not usable.any():
            break
        cost = to_target[:, step] + smoothness * (1.0 - vectors @ previous)
        cost[~usable] = np.inf
        index = int(np.argmin(cost))
        picked = candidates[index]
        chosen.append(picked)
        per_artist[picked.artist_group] += 1
        rule_out(picked)
        previous = vectors[index]
    return chosen


def closeness(vectors: np.ndarray, start: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each of ``vectors`` [shape=(s, d)] to ``start`` and to ``goal`` [shape=(d,)].

    Returns
    -------
    to_start, to_goal : np.ndarray [shape=(s,)] each
    """
    rows = unit_length(vectors)
    a, b = unit_length(np.stack([start, goal]))
    return rows @ a, rows @ b
