"""A 2-D map of the catalogue: a projection of the songs' embeddings onto a plane (issue 13 §3).

PCA, not UMAP: umap-learn brings numba and llvmlite (tens of megabytes, and a JIT compile on its first call that
takes longer than the whole projection), and PCA is one SVD, deterministic, and can place a new vector without
refitting. How well each keeps a song's neighbours is measured in docs/quality.md ("A map of the catalogue").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class MapInputError(ValueError):
    """The vectors cannot be projected (not a matrix, or not finite)."""


@dataclass(frozen=True)
class MapProjection:
    """A fitted projection and the points it gave its songs.

    mean : np.ndarray [shape=(d,)]
    components : np.ndarray [shape=(2, d)]
        The two principal axes, each signed so that its largest loading is positive.
    offset, scale : np.ndarray [shape=(2,)]
        Place a projected point on the map: ``(p - offset) / scale`` lies in [0, 1] for the fitted songs.
    points : np.ndarray [shape=(n, 2)]
        The fitted songs' places, each coordinate in [0, 1].
    """

    mean: np.ndarray
    components: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    points: np.ndarray

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Places for more songs, ``[shape=(m, d)]`` in, ``[shape=(m, 2)]`` out (outside [0, 1] when they lie
        beyond the fitted songs)."""
        unit = _unit_rows(_checked(vectors, self.mean.shape[0]))
        return ((unit - self.mean) @ self.components.T - self.offset) / self.scale


def project(vectors: np.ndarray) -> MapProjection:
    """Project ``vectors`` [shape=(n, d)] onto their first two principal components of their unit-length rows.

    Deterministic: the same vectors in the same order give the same points (each axis' sign is fixed by its
    largest loading). Rows are scaled to unit length first, since recommendations compare songs by cosine.
    The points are stretched to [0, 1] on both axes, each axis by the same factor, so distances keep their ratios.
    """
    unit = _unit_rows(_checked(vectors, None))
    n, d = unit.shape
    mean = unit.mean(axis=0) if n else np.zeros(d)
    centred = unit - mean
    components = np.zeros((2, d))
    if n >= 2 and d:
        # The eigenvectors of the d x d scatter matrix, not an SVD of the n x d songs: the same axes, a quarter
        # of the time (docs/benchmarks.md, "The catalogue map").
        values, vectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(values)[::-1][:2]
        found = vectors[:, order].T * (values[order] > 1e-12 * max(values.max(), 1e-300))[:, None]
        components[: len(found)] = found
    for axis in components:
        if axis.any() and axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    projected = centred @ components.T
    low = projected.min(axis=0) if n else np.zeros(2)
    span = float((projected.max(axis=0) - low).max()) if n else 0.0
    scale = np.full(2, span if span > 0 else 1.0)
    # Centre the narrower axis in [0, 1] so that the cloud sits in the middle of a square map.
    offset = low - (scale - (projected.max(axis=0) - low if n else 0)) / 2
    points = (projected - offset) / scale
    return MapProjection(mean=mean, components=components, offset=offset, scale=scale, points=points)


def neighbours_kept(vectors: np.ndarray, points: np.ndarray, *, k: int = 10) -> float:
    """The share of each song's ``k`` nearest neighbours by cosine (``vectors`` [shape=(n, d)]) that are also among
    its ``k`` nearest on the map (``points`` [shape=(n, 2)]), averaged over the songs; exact, O(n²): for a sample."""
    unit = _unit_rows(_checked(vectors, None))
    n = len(unit)
    if n <= k:
        return 1.0
    high = _nearest(-(unit @ unit.T), k)
    squared = (points**2).sum(axis=1)
    low = _nearest(squared[:, None] + squared[None, :] - 2 * points @ points.T, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(high, low, strict=True)]))


def trustworthiness(vectors: np.ndarray, points: np.ndarray, *, k: int = 10) -> float:
    """Venna and Kaski's trustworthiness of the map (1 when every map neighbour is a true neighbour): the
    ``k`` nearest on the map [shape=(n, 2)] that are not among the ``k`` nearest by cosine are penalised by how far
    down the cosine ranking they are. Exact, O(n² log n): for a sample."""
    unit = _unit_rows(_checked(vectors, None))
    n = len(unit)
    if n <= 2 * k + 1:
        return 1.0
    distances = -(unit @ unit.T)
    np.fill_diagonal(distances, np.inf)
    ranks = np.argsort(np.argsort(distances, axis=1, kind="stable"), axis=1) + 1
    squared = (points**2).sum(axis=1)
    low = _nearest(squared[:, None] + squared[None, :] - 2 * points @ points.T, k)
    penalty = sum(max(ranks[i, j] - k, 0) for i in range(n) for j in low[i])
    return 1.0 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * penalty


def _nearest(distances: np.ndarray, k: int) -> np.ndarray:
    distances = distances.astype(np.float64, copy=True)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def _checked(vectors: np.ndarray, width: int | None) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        raise MapInputError(f"expected vectors of shape (n, {width or 'd'}), got {array.shape}")
    if not np.isfinite(array).all():
        raise MapInputError("the vectors hold NaN or infinity")
    return array


def _unit_rows(array: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


def map_points_body(
    ids: np.ndarray, points: np.ndarray, colours: np.ndarray, *, liked: list[int], grid: int
) -> dict[str, object]:
    """The map's points as the page reads them: parallel lists of song ids [shape=(n,)], whole-number coordinates
    from 0 to ``grid`` (``points`` [shape=(n, 2)] in [0, 1], y turned to grow downwards as on a screen), colour
    indexes [shape=(n,)], and the ids of the person's liked songs."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return {
        "grid": grid,
        "ids": np.asarray(ids, dtype=np.int64).tolist(),
        "x": np.rint(points[:, 0] * grid).astype(np.int64).tolist(),
        "y": np.rint((1 - points[:, 1]) * grid).astype(np.int64).tolist(),
        "colour": np.asarray(colours, dtype=np.int64).tolist(),
        "liked": sorted(liked),
    }
