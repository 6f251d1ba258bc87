"""How well an embedding space groups songs that belong together (Django-free).

Leave-one-out retrieval as in the music-similarity literature: every song in turn is the query, the others
are ranked by cosine similarity to it, and a neighbour counts as relevant when it shares the query's label
(a genre, or an album standing in for a style). ``leave_one_out_metrics`` gives precision at 1, 5 and ``k``,
mean average precision, precision with the query's own artist filtered out (so that "sounds like this
artist" is not mistaken for "sounds like this style") and hubness. ``random_vectors`` and
``spectral_statistics`` make the two baselines a learnt embedding has to beat.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.core.vectors import unit_length

# Hubness is the share of all top-k slots taken by this share of the songs, the most frequent neighbours.
# Were every song as likely a neighbour as any other, it would equal this share.
HUB_SHARE = 0.05
MFCC_COEFFICIENTS = 20


def nearest_neighbours(
    vectors: np.ndarray, *, k: int, exclude: np.ndarray | None = None, penalty: np.ndarray | None = None
) -> np.ndarray:
    """Each row's ``k`` most cosine-similar other rows, nearest first.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
        One vector per item; need not be unit length. A zero vector is similar to nothing (cosine 0).
    k : int, 0 < k < n
        Neighbours per item.
    exclude : np.ndarray [shape=(n, n), dtype=bool] or None
        ``exclude[i, j]`` keeps ``j`` out of ``i``'s neighbours (the item itself always is).
    penalty : np.ndarray [shape=(n,)] or None
        Taken off every similarity to item ``j`` before ranking (CSLS: ``hubs.csls_penalty``).

    Returns
    -------
    neighbours : np.ndarray [shape=(n, k), dtype=int64]
        Row indices, nearest first; ties go to the lower index. Where fewer than ``k`` items are allowed,
        the missing slots hold -1.
    """
    similarity = cosine_similarity(vectors)
    n = len(similarity)
    if not 0 < k < n:
        raise ValueError(f"need 0 < k < n; got k={k} for {n} items")
    if penalty is not None:
        similarity -= np.asarray(penalty, dtype=np.float64)[None, :]
    if exclude is not None:
        similarity[np.asarray(exclude, dtype=bool)] = -np.inf
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    allowed = np.isfinite(np.take_along_axis(similarity, order, axis=1))
    return np.where(allowed, order, -1)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]

    Returns
    -------
    similarity : np.ndarray [shape=(n, n), dtype=float64]
        In [-1, 1]; rows that are all zeros have similarity 0 with everything.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (n, d); got shape {vectors.shape}")
    unit = unit_length(vectors)
    return unit @ unit.T


def leave_one_out_metrics(
    vectors: np.ndarray,
    labels: Sequence[str],
    *,
    artists: Sequence[str | None] | None = None,
    k: int = 10,
    csls: bool = False,
) -> dict[str, object]:
    """Leave-one-out retrieval quality of ``vectors`` under cosine similarity.

    A query whose label no other item has cannot score and is left out of the averages (it still serves as
    a neighbour of others); likewise, for the artist-filtered precision, a query whose label only its own
    artist's songs share.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
        One vector per item, ``n > k``.
    labels : sequence of str [length n]
        What makes two items relevant to each other.
    artists : sequence of str or None [length n], optional
        Each item's artist; ``None`` or ``""`` for unknown, which filters nothing.
    k : int > 0
        The cut-off of the ranking.
    csls : bool
        Rank by CSLS (``recommender.core.hubs``) instead of plain cosine similarity.

    Returns
    -------
    metrics : dict
        ``p@1``, ``p@5`` (when ``k >= 5``) and ``p@{k}``: the mean share of relevant items among the top
        1, 5 and ``k`` neighbours. ``map@{k}``: mean average precision at ``k``, each query's sum of the
        precisions at its hits divided by ``min(k, relevant items)``. ``artist_filtered_p@{k}``: ``p@{k}``
        with the query's own artist's items removed from its ranking. ``hubness@{k}``: the share of all
        ``n * k`` top-``k`` slots taken by the ``HUB_SHARE`` most frequent neighbours (``HUB_SHARE`` when
        every item is as frequent). ``k_occurrence_skewness``: the skewness of how often each item is a
        neighbour, the usual measure of hubness. ``chance``: the precision a random ranking expects.
        ``queries`` and ``artist_filtered_queries``: the queries averaged. ``per_label_p@{k}``: ``p@{k}``
        of each label's queries.
    """
    labels_of, artist_of = _labels_and_artists(labels, artists, n=len(vectors), k=k)
    return _summarise(_rankings(vectors, labels_of, artist_of, k=k, csls=csls), labels_of, k=k)


def grouped_metrics(
    make_vectors: Callable[[np.ndarray], np.ndarray],
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    artists: Sequence[str | None] | None = None,
    k: int = 10,
    csls: bool = False,
) -> dict[str, object]:
    """``leave_one_out_metrics`` of a representation fitted on the items, scored only on items it was not fitted on.

    Leave-groups-out cross-validation: for each group (an album), ``make_vectors`` is given the mask of the
    items it may be fitted on (every other group's) and returns every item's vector; that group's items are
    the queries, ranked among all items. Each query thus counts once, from the one fit that never saw it.

    Parameters
    ----------
    make_vectors : callable, np.ndarray [shape=(n,), dtype=bool] -> np.ndarray [shape=(n, d)]
        Fits on the items marked ``True`` and returns all items' vectors.
    labels, artists, k, csls
        As for ``leave_one_out_metrics``.
    groups : sequence of str [length n]
        The items fitted and held out together.

    Returns
    -------
    metrics : dict
        As ``leave_one_out_metrics``, plus ``folds``: the number of groups.
    """
    labels_of, artist_of = _labels_and_artists(labels, artists, n=len(groups), k=k)
    group_of = np.asarray([str(g) for g in groups], dtype=object)
    parts = []
    for group in sorted(set(group_of)):
        held_out = group_of == group
        vectors = np.asarray(make_vectors(~held_out))
        parts.append(_rankings(vectors, labels_of, artist_of, k=k, csls=csls).rows(held_out))
    metrics = _summarise(_Rankings.joined(parts), labels_of, k=k)
    metrics["folds"] = len(parts)
    return metrics


def _labels_and_artists(
    labels: Sequence[str], artists: Sequence[str | None] | None, *, n: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    labels_of = np.asarray([str(label) for label in labels], dtype=object)
    if len(labels_of) != n:
        raise ValueError(f"{n} vectors but {len(labels_of)} labels")
    if n <= k:
        raise ValueError(f"leave-one-out at k={k} needs more than {k} items; got {n}")
    artist_of = np.asarray(
        [str(a) if a else "" for a in (artists if artists is not None else [None] * n)], dtype=object
    )
    if len(artist_of) != n:
        raise ValueError(f"{len(artist_of)} artists but {n} labels")
    return labels_of, artist_of


@dataclass(frozen=True)
class _Rankings:
    """Per query: its rows of the rankings leave-one-out produced, and what scoring them needs."""

    index: np.ndarray  # [shape=(q,)] which items these queries are
    neighbours: np.ndarray  # [shape=(q, k)]
    hits: np.ndarray  # [shape=(q, k), dtype=bool]
    relevant_count: np.ndarray  # [shape=(q,)]
    filtered_hits: np.ndarray  # [shape=(q, k), dtype=bool], the artist-filtered ranking's
    filtered_query: np.ndarray  # [shape=(q,), dtype=bool], whether it has relevant items by other artists
    n_items: int

    def rows(self, mask: np.ndarray) -> _Rankings:
        return _Rankings(
            self.index[mask], self.neighbours[mask], self.hits[mask], self.relevant_count[mask],
            self.filtered_hits[mask], self.filtered_query[mask], self.n_items,
        )  # fmt: skip

    @staticmethod
    def joined(parts: list[_Rankings]) -> _Rankings:
        order = np.argsort(np.concatenate([p.index for p in parts]), kind="stable")
        joined = [np.concatenate([getattr(p, f) for p in parts])[order] for f in _RANKING_ARRAYS]
        return _Rankings(*joined, parts[0].n_items)


_RANKING_ARRAYS = ("index", "neighbours", "hits", "relevant_count", "filtered_hits", "filtered_query")


def _rankings(vectors: np.ndarray, labels_of: np.ndarray, artist_of: np.ndarray, *, k: int, csls: bool) -> _Rankings:
    from recommender.core.hubs import csls_penalty, neighbour_similarity

    n = len(labels_of)
    if len(vectors) != n:
        raise ValueError(f"{len(vectors)} vectors but {n} labels")
    same_label = labels_of[:, None] == labels_of[None, :]
    np.fill_diagonal(same_label, False)
    penalty = csls_penalty(neighbour_similarity(vectors)) if csls else None
    neighbours = nearest_neighbours(vectors, k=k, penalty=penalty)
    known = artist_of != ""
    same_artist = (artist_of[:, None] == artist_of[None, :]) & known[:, None]
    filtered = nearest_neighbours(vectors, k=k, exclude=same_artist, penalty=penalty)
    return _Rankings(
        index=np.arange(n),
        neighbours=neighbours,
        hits=np.take_along_axis(same_label, neighbours, axis=1),
        relevant_count=same_label.sum(axis=1),
        filtered_hits=(filtered >= 0) & np.take_along_axis(same_label, np.maximum(filtered, 0), axis=1),
        filtered_query=(same_label & ~same_artist).any(axis=1),
        n_items=n,
    )


def _summarise(rankings: _Rankings, labels_of: np.ndarray, *, k: int) -> dict[str, object]:
    queries = rankings.relevant_count > 0
    if not queries.any():
        raise ValueError("no label is shared by two items, so nothing can be retrieved")
    hits = rankings.hits
    metrics: dict[str, object] = {
        f"p@{cut}": float(hits[queries, :cut].mean()) for cut in sorted({1, 5, k}) if cut <= k
    }
    metrics[f"map@{k}"] = float(average_precision(hits, rankings.relevant_count)[queries].mean())
    filtered_queries = rankings.filtered_query
    metrics[f"artist_filtered_p@{k}"] = (
        float(rankings.filtered_hits[filtered_queries].mean()) if filtered_queries.any() else float("nan")
    )
    metrics[f"hubness@{k}"] = hubness(rankings.neighbours, n_items=rankings.n_items)
    metrics["k_occurrence_skewness"] = k_occurrence_skewness(rankings.neighbours, n_items=rankings.n_items)
    metrics["chance"] = float((rankings.relevant_count[queries] / (rankings.n_items - 1)).mean())
    metrics["queries"] = int(queries.sum())
    metrics["artist_filtered_queries"] = int(filtered_queries.sum())
    per_query = hits.mean(axis=1)
    query_labels = labels_of[rankings.index]
    metrics[f"per_label_p@{k}"] = {
        label: float(per_query[(query_labels == label) & queries].mean())
        for label in sorted(set(query_labels[queries]), key=str.casefold)
    }
    return metrics


def average_precision(hits: np.ndarray, relevant_count: np.ndarray) -> np.ndarray:
    """Average precision at ``k`` of each ranking.

    Parameters
    ----------
    hits : np.ndarray [shape=(n, k), dtype=bool]
        Whether each ranked neighbour is relevant, nearest first.
    relevant_count : np.ndarray [shape=(n,), dtype=int]
        How many relevant items each query has in all.

    Returns
    -------
    ap : np.ndarray [shape=(n,), dtype=float64]
        The sum of the precisions at the ranks of the hits, divided by ``min(k, relevant_count)``;
        0 for a query with nothing relevant.
    """
    hits = np.asarray(hits, dtype=bool)
    k = hits.shape[1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    found = (precision_at * hits).sum(axis=1)
    possible = np.minimum(k, np.asarray(relevant_count))
    return np.divide(found, possible, out=np.zeros(len(hits)), where=possible > 0)


def k_occurrence(neighbours: np.ndarray, *, n_items: int) -> np.ndarray:
    """How many times each item appears in the others' neighbour lists.

    Parameters
    ----------
    neighbours : np.ndarray [shape=(n, k), dtype=int]
        From ``nearest_neighbours``; -1 (an empty slot) is not counted.
    n_items : int
        The number of items.

    Returns
    -------
    counts : np.ndarray [shape=(n_items,), dtype=int64]
    """
    slots = np.asarray(neighbours).ravel()
    return np.bincount(slots[slots >= 0], minlength=n_items)


def hubness(neighbours: np.ndarray, *, n_items: int, share: float = HUB_SHARE) -> float:
    """The share of all neighbour slots taken by the ``share`` most frequent neighbours.

    Parameters
    ----------
    neighbours : np.ndarray [shape=(n, k), dtype=int]
        From ``nearest_neighbours``.
    n_items : int
        The number of items.
    share : float in (0, 1]
        Which part of the items counts as hubs: ``ceil(share * n_items)`` of them.

    Returns
    -------
    hubness : float in [0, 1]
        ``share`` (about) when every item is a neighbour equally often; 1 when a few hubs fill every list.
    """
    counts = np.sort(k_occurrence(neighbours, n_items=n_items))[::-1]
    hubs = max(1, math.ceil(share * n_items))
    return float(counts[:hubs].sum() / max(1, counts.sum()))


def k_occurrence_skewness(neighbours: np.ndarray, *, n_items: int) -> float:
    """The skewness of the k-occurrence distribution (Radovanović et al., 2010); 0 when it is symmetric."""
    counts = k_occurrence(neighbours, n_items=n_items).astype(np.float64)
    spread = counts.std()
    return float(((counts - counts.mean()) ** 3).mean() / spread**3) if spread > 0 else 0.0


def random_vectors(n: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Standard Gaussian vectors, the floor a learnt embedding must clear.

    Returns
    -------
    vectors : np.ndarray [shape=(n, width), dtype=float64]
    """
    return np.random.default_rng(seed).standard_normal((n, width))


def spectral_statistics(mel: np.ndarray, *, n_mfcc: int = MFCC_COEFFICIENTS) -> np.ndarray:
    """The classic hand-made song vector: MFCC and log-mel means and standard deviations.

    The MFCCs are the DCT of the same log-mel frames the network sees (``librosa.feature.mfcc`` given
    ``S``); that log scale is ``log10(10000 * mel + 1)`` rather than decibels, which after the
    per-dimension standardisation of ``standardise`` changes nothing but the quietest bands.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_windows, n_frames, n_mels)]
        A song's log-mel patches (``audio.log_mel``).
    n_mfcc : int > 0
        MFCCs kept, the 0th (overall level) included.

    Returns
    -------
    statistics : np.ndarray [shape=(2 * n_mfcc + 2 * n_mels,), dtype=float64]
        MFCC mean, MFCC standard deviation, log-mel mean, log-mel standard deviation, over all frames.
    """
    import librosa

    frames = np.asarray(mel, dtype=np.float64).reshape(-1, np.shape(mel)[-1])
    mfcc = librosa.feature.mfcc(S=frames.T, n_mfcc=n_mfcc).T
    return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0), frames.mean(axis=0), frames.std(axis=0)])


def standardise(features: np.ndarray) -> np.ndarray:
    """Each column shifted to mean 0 and scaled to standard deviation 1 (a constant column becomes 0).

    Without it cosine similarity of the statistics is ruled by the few dimensions with the largest values.

    Parameters
    ----------
    features : np.ndarray [shape=(n, d)]

    Returns
    -------
    standardised : np.ndarray [shape=(n, d), dtype=float64]
    """
    features = np.asarray(features, dtype=np.float64)
    spread = features.std(axis=0)
    return np.divide(features - features.mean(axis=0), spread, out=np.zeros_like(features), where=spread > 0)


def label_counts(labels: Sequence[str]) -> dict[str, int]:
    """How many items each label has, most first."""
    return dict(Counter(str(label) for label in labels).most_common())
