"""The collaborative model's arithmetic (Django-free): listening events → a user × song confidence matrix → factors.

Implicit feedback after Hu, Koren and Volinsky (2008), factorised by the ``implicit`` library's alternating least
squares. Each event has a signed weight (a completed play, a like and a playlist say "yes"; a skip and a dislike
say "no"), faded by its age; the weights of one person and song are summed, and the sum becomes a confidence
``1 + alpha * log1p(|sum|)`` carrying the sum's sign. The logarithm gives repeats diminishing returns: the
200th play of a song is not 200 times the evidence of the first.

``implicit``'s ALS reads a positive entry as "prefers it, with this confidence" and a negative one as "does not
prefer it, with this confidence" (its ``fit`` docstring): an unseen pair counts as "does not prefer, confidence 1",
so a disliked or mostly skipped song is pushed down harder than a song never heard. A pair whose events cancel
exactly is left out, as if unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.core.taste import recency

# Confidence per log unit of summed weight; Hu et al. found 40 on raw counts, and the log scale wants far less.
ALPHA = 4.0
# A pair's summed weight is clipped to this: a song played on repeat for a year is still one song.
MAX_PAIR_WEIGHT = 50.0
# Explicit statements (a like, a dislike, a playlist) stay true until taken back, so they fade only to this share.
EXPLICIT_FLOOR = 0.3
# Strong enough that a few people's histories are not memorised: at 0.05, unheard songs of one's own taste group
# barely beat the other group's (docs/benchmarks.md, "Collaborative model").
REGULARIZATION = 5.0
ITERATIONS = 15


class CollaborativeError(ValueError):
    """Events or factors handed to a collaborative function that do not fit together."""


class Event(IntEnum):
    COMPLETED = 0
    PARTIAL = 1
    SKIPPED = 2
    LIKE = 3
    DISLIKE = 4
    PLAYLIST = 5


EXPLICIT = (Event.LIKE, Event.DISLIKE, Event.PLAYLIST)


@dataclass(frozen=True)
class FeedbackWeights:
    """What one event of each kind says, before recency: positive for "likes it", negative for "does not"."""

    completed: float = 1.0
    partial: float = 0.3
    skipped: float = -0.5
    like: float = 3.0
    dislike: float = -3.0
    playlist: float = 2.0
    half_life_days: float = 90.0

    def by_kind(self) -> np.ndarray:
        """The weight of each ``Event``, indexed by its value [shape=(len(Event),)]."""
        table = np.zeros(len(Event))
        for kind in Event:
            table[kind] = getattr(self, kind.name.lower())
        return table


@dataclass(frozen=True)
class Preferences:
    """The matrix ALS trains on.

    users : np.ndarray [shape=(n_users,)], the user id of each row
    songs : np.ndarray [shape=(n_songs,)], the song id of each column
    matrix : scipy.sparse.csr_matrix [shape=(n_users, n_songs)], float32 signed confidences
    """

    users: np.ndarray
    songs: np.ndarray
    matrix: sp.csr_matrix

    def history_sizes(self) -> np.ndarray:
        """How many songs each user has an entry for [shape=(n_users,)]."""
        return np.diff(self.matrix.indptr)

    def listener_counts(self) -> np.ndarray:
        """How many users prefer each song (a positive entry) [shape=(n_songs,)]."""
        positive = (self.matrix > 0).astype(np.int32)
        return np.asarray(positive.sum(axis=0)).ravel()


@dataclass(frozen=True)
class Factors:
    """user_factors [shape=(n_users, f)] and song_factors [shape=(n_songs, f)], float32; a user's predicted
    preference for a song is their dot product (near 1 for a song like theirs, near 0 for one unrelated)."""

    user_factors: np.ndarray
    song_factors: np.ndarray


def event_weights(kinds: np.ndarray, ages_days: np.ndarray, weights: FeedbackWeights) -> np.ndarray:
    """Each event's signed weight after recency [shape=(n,)].

    kinds : np.ndarray [shape=(n,)], ``Event`` values
    ages_days : np.ndarray [shape=(n,)], how long ago each happened
    """
    kinds = np.asarray(kinds, dtype=np.int64)
    ages = np.asarray(ages_days, dtype=np.float64)
    if kinds.shape != ages.shape or kinds.ndim != 1:
        raise CollaborativeError(f"kinds {kinds.shape} and ages {ages.shape} must be equal 1-d shapes")
    if len(kinds) and (kinds.min() < 0 or kinds.max() >= len(Event)):
        raise CollaborativeError("an event kind is not one of Event")
    if not np.isfinite(ages).all():
        raise CollaborativeError("ages must be finite")
    explicit = np.isin(kinds, [int(kind) for kind in EXPLICIT])
    fade = np.where(
        explicit,
        recency(ages, half_life_days=weights.half_life_days, floor=EXPLICIT_FLOOR),
        recency(ages, half_life_days=weights.half_life_days),
    )
    return weights.by_kind()[kinds] * fade


def preference_matrix(
    user_ids: np.ndarray,
    song_ids: np.ndarray,
    weights: np.ndarray,
    *,
    alpha: float = ALPHA,
    max_songs: int | None = None,
    max_users: int | None = None,
) -> Preferences:
    """Sum events per (user, song) and turn each sum into a signed confidence.

    Parameters
    ----------
    user_ids, song_ids : np.ndarray [shape=(n,)], int
    weights : np.ndarray [shape=(n,)], from ``event_weights``
    max_songs, max_users : keep only the songs (users) with the most entries, ties to the lower id

    Returns
    -------
    Preferences, with users and songs sorted by id; pairs whose sum is 0 are left out.
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    song_ids = np.asarray(song_ids, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    if not (user_ids.shape == song_ids.shape == weights.shape) or user_ids.ndim != 1:
        raise CollaborativeError(
            f"user_ids {user_ids.shape}, song_ids {song_ids.shape} and weights {weights.shape} must be equal 1-d"
        )
    if not np.isfinite(weights).all():
        raise CollaborativeError("weights must be finite")
    pairs, inverse = np.unique(np.stack([user_ids, song_ids], axis=1), axis=0, return_inverse=True)
    pairs = pairs.reshape(-1, 2)
    totals = np.zeros(len(pairs))
    np.add.at(totals, inverse.ravel(), weights)
    kept = totals != 0
    pairs, totals = pairs[kept], np.clip(totals[kept], -MAX_PAIR_WEIGHT, MAX_PAIR_WEIGHT)
    for column, limit in ((1, max_songs), (0, max_users)):
        if limit is not None and len(pairs):
            ids, counts = np.unique(pairs[:, column], return_counts=True)
            if len(ids) > limit:
                busiest = ids[np.lexsort((ids, -counts))[:limit]]
                keep = np.isin(pairs[:, column], busiest)
                pairs, totals = pairs[keep], totals[keep]
    users, rows = np.unique(pairs[:, 0], return_inverse=True)
    songs, columns = np.unique(pairs[:, 1], return_inverse=True)
    confidence = np.sign(totals) * (1.0 + alpha * np.log1p(np.abs(totals)))
    matrix = sp.csr_matrix(
        (confidence.astype(np.float32), (rows.ravel(), columns.ravel())), shape=(len(users), len(songs))
    )
    return Preferences(users=users, songs=songs, matrix=matrix)


def train(
    preferences: Preferences,
    *,
    factors: int,
    iterations: int = ITERATIONS,
    regularization: float = REGULARIZATION,
    seed: int = 0,
) -> Factors:
    """Factorise ``preferences`` with ``implicit``'s ALS on one thread (the worker gives each job one core).

    Raises ``CollaborativeError`` on an empty matrix: with no events there is nothing to learn.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    if preferences.matrix.nnz == 0:
        raise CollaborativeError("no events to learn from")
    # implicit warns, rightly, when BLAS runs its own thread pool inside ALS's: the two fight over the cores.
    with threadpool_limits(1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            iterations=iterations,
            random_state=seed,
            num_threads=1,
        )
        model.fit(preferences.matrix, show_progress=False)
    return Factors(
        user_factors=np.asarray(model.user_factors, dtype=np.float32),
        song_factors=np.asarray(model.item_factors, dtype=np.float32),
    )


def predicted_preferences(user_factor: np.ndarray, song_factors: np.ndarray) -> np.ndarray:
    """user_factor [shape=(f,)] · song_factors [shape=(n, f)] → [shape=(n,)] predicted preferences."""
    user_factor = np.asarray(user_factor, dtype=np.float32)
    song_factors = np.asarray(song_factors, dtype=np.float32).reshape(-1, len(user_factor))
    return song_factors @ user_factor
