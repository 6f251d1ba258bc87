"""A listener's taste as a few centres in embedding space, and the merge of their neighbours (Django-free).

People like several kinds of music. The average of everything someone likes lands between those kinds, where
they may like nothing, so the liked songs are clustered instead (weighted spherical k-means, cosine geometry as
in the database) and each cluster becomes a centre with its share of the evidence. Each centre is then moved
away from disliked or skipped songs that lie inside its region. The database finds songs near each centre;
``merge_by_weight`` interleaves those lists in proportion to the centres' weights under the playlist rules.

Everything here is numpy in, numpy out and seeded, so the same history always gives the same centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.core.rules import Candidate, build_playlist
from recommender.core.vectors import unit_length

# A listening counts half as much after this many days: last month's habits matter more than last year's.
HALF_LIFE_DAYS = 30.0
# Explicit statements (a like, a dislike, a saved playlist, an upload) stay true until taken back, so they
# fade only to this share of their weight; plays and skips are moments and fade away completely.
EXPLICIT_FLOOR = 0.3
# One song's total weight is capped: a track played 200 times must not become someone's whole taste.
MAX_SONG_WEIGHT = 8.0
MAX_CENTRES = 4
# A split into k > 1 centres must separate the songs at least this well (weighted mean silhouette, cosine
# distance); below it one centre describes them as well as several. One shapeless cloud of 5-40 synthetic
# songs is split in under 5 % of draws; on the demo catalogue the best split of half an album scores 0.36-0.57
# (quartiles: games have sub-styles, and a centre per sub-style is fine) and of halves of two albums 0.35-0.57.
# So the bar sits above noise rather than between "one album" and "two": a needless split costs little, a
# missing one gives recommendations between two tastes that fit neither.
MIN_SILHOUETTE = 0.2
# A centre must carry at least this share of the positive weight, so one stray song makes no centre.
MIN_CENTRE_SHARE = 0.1
# A negative this similar to a centre (cosine) is inside its region even when all its members are nearer: on
# the demo catalogue, 11 % of the song pairs of one game are above it and 1.3 % of the pairs of different games.
NEAR_NEIGHBOUR = 0.9
# How far a centre moves away from the negatives inside its region, at most (see push_away).
PUSH_STRENGTH = 0.5
KMEANS_RESTARTS = 4
KMEANS_ITERATIONS = 50


class TasteError(ValueError):
    """The vectors or weights handed to a taste function do not fit together."""


@dataclass(frozen=True)
class Centre:
    """One kind of music a person likes.

    vector : np.ndarray [shape=(d,)], unit length
    weight : share of the positive evidence behind this centre; the shares of all centres sum to 1
    members : np.ndarray [shape=(m,)], rows of the positive songs clustered here
    representative : the row of the positive song that best stands for the centre (for "Because you liked X")
    """

    vector: np.ndarray
    weight: float
    members: np.ndarray
    representative: int


def recency(age_days: np.ndarray, *, half_life_days: float = HALF_LIFE_DAYS, floor: float = 0.0) -> np.ndarray:
    """How much events ``age_days`` [shape=(n,)] old still count: 1 now, 1/2 after a half-life, never under ``floor``.

    Events dated in the future (a clock running ahead) count as happening now.
    """
    age = np.maximum(np.asarray(age_days, dtype=np.float64), 0.0)
    return floor + (1.0 - floor) * np.power(0.5, age / half_life_days)


def song_weights(
    song_ids: np.ndarray, weights: np.ndarray, *, cap: float = MAX_SONG_WEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """Sum events per song: repeated plays add up, a like and a skip of one song partly cancel.

    Parameters
    ----------
    song_ids : np.ndarray [shape=(n,)], int
    weights : np.ndarray [shape=(n,)], each event's weight after recency (negative for dislikes and skips)
    cap : totals are clipped to ``[-cap, cap]``

    Returns
    -------
    ids : np.ndarray [shape=(m,)], the distinct song ids, sorted
    totals : np.ndarray [shape=(m,)]
    """
    song_ids = np.asarray(song_ids, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    if song_ids.shape != weights.shape or song_ids.ndim != 1:
        raise TasteError(f"song_ids {song_ids.shape} and weights {weights.shape} must be equal 1-d shapes")
    ids, inverse = np.unique(song_ids, return_inverse=True)
    totals = np.zeros(len(ids))
    np.add.at(totals, inverse, weights)
    return ids, np.clip(totals, -cap, cap)


def spherical_kmeans(
    vectors: np.ndarray, weights: np.ndarray, k: int, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means on the unit sphere: centres are normalised weighted sums, nearness is cosine.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)], unit rows
    weights : np.ndarray [shape=(n,)], positive
    k : number of clusters, 1 <= k <= n
    rng : the seeded generator that picks the starting centres (k-means++; best of a few restarts)

    Returns
    -------
    centres : np.ndarray [shape=(k, d)], unit rows
    labels : np.ndarray [shape=(n,)], the centre of each row
    """
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(KMEANS_RESTARTS if k > 1 else 1):
        centres = _kmeans_plus_plus(vectors, weights, k, rng)
        labels = np.full(len(vectors), -1)
        for _ in range(KMEANS_ITERATIONS):
            new_labels = np.argmax(vectors @ centres.T, axis=1)
            if np.array_equal(new_labels, labels):
                break
            labels = new_labels
            sums = np.zeros_like(centres)
            np.add.at(sums, labels, vectors * weights[:, None])
            # A centre that lost all its songs keeps its place rather than becoming zero.
            filled = np.linalg.norm(sums, axis=1) > 0
            centres[filled] = unit_length(sums[filled])
        fit = float(weights @ np.sum(vectors * centres[labels], axis=1))
        if best is None or fit > best[0]:
            best = (fit, centres, labels)
    assert best is not None
    return best[1], best[2]


def _kmeans_plus_plus(vectors: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [int(rng.choice(len(vectors), p=weights / weights.sum()))]
    for _ in range(1, k):
        distance = np.clip(1.0 - np.max(vectors @ vectors[chosen].T, axis=1), 0.0, None)
        odds = weights * distance**2
        if odds.sum() <= 0:  # fewer distinct songs than centres: repeat one, k-means leaves it empty
            odds = weights.copy()
        chosen.append(int(rng.choice(len(vectors), p=odds / odds.sum())))
    return vectors[chosen].copy()


def weighted_silhouette(vectors: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> float:
    """The weighted mean silhouette of a clustering, with cosine distance; 1 is well separated, 0 is no structure.

    A song alone in its cluster has no silhouette and is left out of the mean (the usual definition counts it as
    0, which would forbid a centre for the one song of another kind someone liked); it still counts as a cluster
    the other songs may be near. 0 when every cluster is a single song.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)], unit rows
    weights : np.ndarray [shape=(n,)], positive
    labels : np.ndarray [shape=(n,)], at least two distinct labels
    """
    clusters = np.unique(labels)
    if len(clusters) < 2:
        raise TasteError("a silhouette needs at least two clusters")
    distance = np.clip(1.0 - vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    # mean[i, c]: weighted mean distance from song i to the songs of cluster c.
    member = labels[:, None] == clusters[None, :]
    cluster_weight = (weights[:, None] * member).sum(axis=0)
    totals = distance @ (weights[:, None] * member)
    own = np.searchsorted(clusters, labels)
    own_weight = cluster_weight[own] - weights  # without the song itself
    rows = np.arange(len(vectors))
    inside = np.divide(totals[rows, own], own_weight, out=np.zeros(len(vectors)), where=own_weight > 0)
    mean = totals / cluster_weight[None, :]
    mean[rows, own] = np.inf
    nearest_other = mean.min(axis=1)
    scale = np.maximum(inside, nearest_other)
    score = np.divide(nearest_other - inside, scale, out=np.zeros(len(vectors)), where=scale > 0)
    counted = np.bincount(own, minlength=len(clusters))[own] > 1
    if not counted.any():
        return 0.0
    return float(weights[counted] @ score[counted] / weights[counted].sum())


def taste_centres(
    positives: np.ndarray,
    weights: np.ndarray,
    *,
    negatives: np.ndarray | None = None,
    negative_weights: np.ndarray | None = None,
    max_centres: int = MAX_CENTRES,
    min_silhouette: float = MIN_SILHOUETTE,
    push: float = PUSH_STRENGTH,
    seed: int = 0,
) -> list[Centre]:
    """The centres of someone's taste, heaviest first.

    With more songs than ``max_centres``, k runs from 1 to ``max_centres``; a split into k > 1 is kept when every
    centre has ``MIN_CENTRE_SHARE`` of the weight and its silhouette is the best seen and at least
    ``min_silhouette``. With ``max_centres`` songs or fewer (someone just starting) there are too few to tell
    kinds apart, and the person chose each one: every song is a centre of its own, except those under
    ``MIN_CENTRE_SHARE``, which join the nearest heavier one.

    Parameters
    ----------
    positives : np.ndarray [shape=(n, d)], the vectors of songs the person likes, n >= 1
    weights : np.ndarray [shape=(n,)], how much each counts, > 0
    negatives : np.ndarray [shape=(m, d)] or None, songs disliked or skipped
    negative_weights : np.ndarray [shape=(m,)] or None, how much each counts against (either sign; the size counts)
    max_centres : at most this many centres
    min_silhouette : the least separation a split needs
    push : how far a centre may move away from the negatives in its region (see ``push_away``)
    seed : seeds the clustering, so the same history gives the same centres

    Returns
    -------
    centres : list of Centre, by weight, heaviest first
    """
    vectors = unit_length(positives)
    weights = np.asarray(weights, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) == 0 or weights.shape != (len(vectors),):
        raise TasteError(f"positives {vectors.shape} and weights {weights.shape} do not fit")
    if not (np.all(np.isfinite(vectors)) and np.all(np.isfinite(weights)) and np.all(weights > 0)):
        raise TasteError("weights must be positive and all values finite")
    if len(vectors) <= max_centres:
        centres, labels = _each_song_a_centre(vectors, weights)
    else:
        rng = np.random.default_rng(seed)
        centres, labels = spherical_kmeans(vectors, weights, 1, rng=rng)
        best_score = min_silhouette
        for k in range(2, max_centres + 1):
            candidate_centres, candidate_labels = spherical_kmeans(vectors, weights, k, rng=rng)
            shares = np.bincount(candidate_labels, weights=weights, minlength=k) / weights.sum()
            if shares.min() < MIN_CENTRE_SHARE:
                continue
            score = weighted_silhouette(vectors, weights, candidate_labels)
            if score >= best_score:
                best_score, centres, labels = score, candidate_centres, candidate_labels

    result = []
    for index, vector in enumerate(centres):
        members = np.flatnonzero(labels == index)
        if len(members) == 0:
            continue
        closeness = vectors[members] @ vector
        # The song that best stands for the centre is near it and weighs much: the reason names it.
        representative = int(members[np.argmax(weights[members] * np.clip(closeness, 0.0, None))])
        if negatives is not None and negative_weights is not None and len(negatives):
            vector = push_away(
                vector,
                # A centre of one song has a radius of 0 (closeness 1): its near neighbours count all the same.
                radius=min(float(closeness.min()), NEAR_NEIGHBOUR),
                weight=float(weights[members].sum()),
                negatives=negatives,
                negative_weights=negative_weights,
                strength=push,
            )
        share = float(weights[members].sum() / weights.sum())
        result.append(Centre(vector=vector, weight=share, members=members, representative=representative))
    return sorted(result, key=lambda centre: -centre.weight)


def _each_song_a_centre(vectors: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every song its own centre, but a song under ``MIN_CENTRE_SHARE`` joins the nearest heavier one."""
    labels = np.arange(len(vectors))
    heavy = weights / weights.sum() >= MIN_CENTRE_SHARE
    if not heavy.any():
        heavy[np.argmax(weights)] = True
    for light in np.flatnonzero(~heavy):
        labels[light] = np.flatnonzero(heavy)[np.argmax(vectors[heavy] @ vectors[light])]
    kept = np.unique(labels)
    labels = np.searchsorted(kept, labels)
    sums = np.zeros((len(kept), vectors.shape[1]))
    np.add.at(sums, labels, vectors * weights[:, None])
    return unit_length(sums), labels


def push_away(
    centre: np.ndarray,
    *,
    radius: float,
    weight: float,
    negatives: np.ndarray,
    negative_weights: np.ndarray,
    strength: float = PUSH_STRENGTH,
) -> np.ndarray:
    """``centre`` moved away from the negatives inside its region, then re-normalised (Rocchio's rule).

    A negative is inside the region when it is at least as similar to the centre as the centre's least
    similar member (``radius``): a dislike far from this kind of music says nothing about it. The centre
    moves against the weighted mean of those negatives, by ``strength`` times their weight relative to the
    centre's positive ``weight`` (at most ``strength``), so one skip cannot undo twenty likes.

    Parameters
    ----------
    centre : np.ndarray [shape=(d,)], unit length
    radius : cosine similarity of the centre's loosest member
    weight : the positive weight behind the centre
    negatives : np.ndarray [shape=(m, d)]
    negative_weights : np.ndarray [shape=(m,)], the size counts, not the sign

    Returns
    -------
    centre : np.ndarray [shape=(d,)], unit length
    """
    negatives = unit_length(negatives)
    sizes = np.abs(np.asarray(negative_weights, dtype=np.float64))
    if negatives.shape[0] != sizes.shape[0] or negatives.shape[1:] != centre.shape:
        raise TasteError(f"negatives {negatives.shape} and weights {sizes.shape} do not fit a centre {centre.shape}")
    inside = sizes * (negatives @ centre >= radius)
    if inside.sum() <= 0:
        return centre
    direction = inside @ negatives / inside.sum()
    amount = strength * min(1.0, inside.sum() / max(weight, 1e-9))
    moved = centre - amount * direction
    norm = float(np.linalg.norm(moved))
    return moved / norm if norm > 0 else centre


def nearer_to_negatives(
    candidates: np.ndarray, similarity: np.ndarray, negatives: np.ndarray, *, near: float = NEAR_NEIGHBOUR
) -> np.ndarray:
    """Which candidates are near neighbours of a disliked song, and more similar to it than to their centre.

    Both conditions, so that only near twins of what someone disliked go: songs of the same kind as a
    dislike, but no closer to it than songs of one game are to each other, stay (the centre already moved).

    Parameters
    ----------
    candidates : np.ndarray [shape=(c, d)]
    similarity : np.ndarray [shape=(c,)], each candidate's cosine similarity to its centre
    negatives : np.ndarray [shape=(m, d)]
    near : the cosine similarity from which a song is a near neighbour

    Returns
    -------
    mask : np.ndarray [shape=(c,)], bool
    """
    if len(candidates) == 0 or len(negatives) == 0:
        return np.zeros(len(candidates), dtype=bool)
    nearest = np.max(unit_length(candidates) @ unit_length(negatives).T, axis=1)
    return (nearest >= near) & (nearest > np.asarray(similarity))


def merge_by_weight(
    lists: Sequence[Sequence[Candidate]],
    weights: Sequence[float],
    *,
    k: int,
    max_per_artist: int | None = 2,
    taken: Sequence[Candidate] = (),
) -> list[tuple[int, Candidate]]:
    """One playlist from each centre's nearest songs, each list contributing in proportion to its weight.

    The r-th song (from 0) of list i is placed at ``(r + 1/2) / weights[i]``: a centre with twice the weight
    gets every other slot. Then the playlist rules apply to the merged order: no song twice (a song near two
    centres keeps its first place), no duplicate recordings, at most ``max_per_artist`` per artist, counting
    the songs already ``taken`` (a playlist being extended), which are never returned.

    Parameters
    ----------
    lists : per centre, its candidates nearest first
    weights : per centre, > 0 (lists with weight <= 0 are ignored)
    k : at most this many songs
    taken : songs already in the playlist

    Returns
    -------
    merged : list of (index of the list it came from, candidate), at most ``k``
    """
    if len(lists) != len(weights):
        raise TasteError(f"{len(lists)} lists but {len(weights)} weights")
    placed = sorted(
        ((rank + 0.5) / weight, index, rank, candidate)
        for index, (candidates, weight) in enumerate(zip(lists, weights, strict=True))
        if weight > 0
        for rank, candidate in enumerate(candidates)
    )
    taken_ids = {candidate.song_id for candidate in taken}
    source: dict[int, int] = {}
    ordered = []
    for _, index, _, candidate in placed:
        if candidate.song_id not in source and candidate.song_id not in taken_ids:
            source[candidate.song_id] = index
            ordered.append(candidate)
    chosen = build_playlist([*taken, *ordered], k=len(taken) + k, max_per_artist=max_per_artist)
    return [(source[c.song_id], c) for c in chosen if c.song_id not in taken_ids][:k]
