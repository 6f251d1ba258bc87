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
