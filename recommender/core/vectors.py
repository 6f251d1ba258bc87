"""Embedding vectors scaled to unit length (Django-free): cosine similarity is then a dot product."""

from __future__ import annotations

import numpy as np


def unit_length(vectors: np.ndarray, *, dtype: type[np.floating] = np.float64) -> np.ndarray:
    """``vectors`` scaled to unit length along their last axis; a zero vector stays zero.

    Parameters
    ----------
    vectors : np.ndarray [shape=(d,) or (n, d)]
        One vector, or one per row.
    dtype : numpy float type
        Of the result: float64 for the taste and path maths, float32 for what is stored.

    Returns
    -------
    unit : np.ndarray [shape=vectors.shape, dtype=dtype]
    """
    vectors = np.asarray(vectors, dtype=dtype)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def pair_similarity_quantiles(vectors: np.ndarray, *, points: int = 101) -> np.ndarray:
    """The quantiles of the cosine similarities of every pair of distinct ``vectors``.

    They make a scale on which one similarity can be read as a share of pairs: what a cosine of 0.6 means
    depends on the embedding (one network's space is more crowded than two networks' side by side), and only
    its place among the catalogue's pairs says whether two songs are alike.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)], n >= 2
    points : how many quantiles, evenly spaced from the least similar pair (0) to the most similar (1)

    Returns
    -------
    quantiles : np.ndarray [shape=(points,), dtype=float64], non-decreasing
    """
    unit = unit_length(vectors)
    if unit.ndim != 2 or len(unit) < 2:
        raise ValueError(f"need at least two vectors in rows, not an array of shape {unit.shape}")
    upper = np.triu_indices(len(unit), k=1)
    return np.quantile((unit @ unit.T)[upper], np.linspace(0.0, 1.0, points))


def similarity_quantiles(vector: np.ndarray, among: np.ndarray, *, points: int = 101) -> np.ndarray:
    """The quantiles of the cosine similarities of ``among`` [shape=(n, d)] to ``vector`` [shape=(d,)].

    The scale for a similarity to a point that is no song (a centre of someone's taste, which is nearer to its songs
    than songs are to each other): read with ``percentile_among_pairs`` as the share of ``among`` less similar.

    Returns
    -------
    quantiles : np.ndarray [shape=(points,), dtype=float64], non-decreasing
    """
    among = unit_length(among)
    if among.ndim != 2 or len(among) == 0:
        raise ValueError(f"need vectors in rows, not an array of shape {among.shape}")
    return np.quantile(among @ unit_length(vector), np.linspace(0.0, 1.0, points))


def percentile_among_pairs(similarity: float, quantiles: np.ndarray) -> int:
    """The share of pairs (0 to 100, rounded down) less similar than ``similarity``, from ``pair_similarity_quantiles``.

    0 at worst and 100 at best, whatever the cosine: a negative cosine is never a negative percentage.
    """
    quantiles = np.asarray(quantiles, dtype=np.float64)
    share = float(np.interp(similarity, quantiles, np.linspace(0.0, 1.0, len(quantiles))))
    return int(np.clip(np.floor(100.0 * share + 1e-9), 0, 100))
