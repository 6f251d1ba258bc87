"""Synthetic material for the benchmarks: music-like tracks and clustered embedding vectors (Django-free).

Nothing here needs a network or a data set: a track is a seeded arrangement of drums, bass and
chords, written the way real files arrive (44.1 kHz stereo MP3 or Ogg Vorbis); vectors are drawn
from a mixture of Gaussian clusters on the unit sphere, so nearest-neighbour search meets the
uneven density of real embeddings rather than uniform noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44100
FORMATS = {".mp3": ("MP3", "MPEG_LAYER_III"), ".ogg": ("OGG", "VORBIS"), ".wav": ("WAV", "PCM_16")}
# libsndfile 1.2.2 crashes on one large Ogg Vorbis write; blocks of a second are safe for every format.
WRITE_BLOCK_SECONDS = 1.0


def music_like(*, seconds: float = 240.0, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A stereo track with a steady beat, a bass line and changing chords, in sections.

    Parameters
    ----------
    seconds : float > 0
    sample_rate : int > 0
    seed : int
        Tempo, key, chords and mix all follow from it: two seeds give two different songs.

    Returns
    -------
    y : np.ndarray [shape=(n, 2), dtype=float32]
        ``n = round(seconds * sample_rate)``, peaks below 1.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    bpm = rng.uniform(80, 150)
    beat = 60.0 / bpm
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    progression = rng.choice([0, 2, 3, 5, 7, 8, 10], size=4)
    # Sections of 8 bars switch parts on and off, as verses and choruses do.
    bar = 4 * beat
    section = (t // (8 * bar)).astype(np.int64)
    plan = rng.random((int(section.max()) + 1, 3)) < 0.75
    plan[:, 0] |= ~plan.any(axis=1)
    chord_index = (t // bar).astype(np.int64) % progression.size
    chord_root = root * 2 ** (progression[chord_index] / 12)

    phase_in_beat = (t % beat) / beat
    kick = np.sin(2 * np.pi * 55 * t * (1 + 2 * np.exp(-phase_in_beat * 30))) * np.exp(-phase_in_beat * 12)
    hats = rng.standard_normal(n) * np.exp(-((t + beat / 2) % beat) / beat * 40)
    hats = np.diff(hats, prepend=0.0)  # a crude high-pass: hats hiss, they do not rumble
    drums = 0.6 * kick + 0.15 * hats

    bass = np.sign(np.sin(2 * np.pi * chord_root / 2 * t)) * np.exp(-phase_in_beat * 4)
    chords = sum(np.sin(2 * np.pi * chord_root * ratio * t) for ratio in (1.0, 1.26, 1.5, 2.0)) / 4
    chords *= 0.7 + 0.3 * np.sin(2 * np.pi * t / bar)

    parts = (drums * plan[section, 0], 0.25 * bass * plan[section, 1], 0.35 * chords * plan[section, 2])
    left = parts[0] + parts[1] + parts[2] * 0.8
    right = parts[0] + parts[1] * 0.8 + parts[2]
    fade = np.clip(np.minimum(t, seconds - t) / 2.0, 0, 1)
    y = np.stack([left, right], axis=1) * fade[:, None]
    y += 0.003 * rng.standard_normal(y.shape)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def write_track(path: Path, *, seconds: float = 240.0, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``music_like`` to ``path`` (.mp3, .ogg or .wav), in blocks; an existing file is kept."""
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt, subtype = FORMATS[path.suffix.lower()]
    y = music_like(seconds=seconds, sample_rate=sample_rate, seed=seed)
    partial = path.with_name(path.name + ".part" + path.suffix)
    block = round(WRITE_BLOCK_SECONDS * sample_rate)
    with sf.SoundFile(str(partial), "w", samplerate=sample_rate, channels=2, format=fmt, subtype=subtype) as handle:
        for start in range(0, len(y), block):
            handle.write(y[start : start + block])
    partial.rename(path)
    return path


def clustered_unit_vectors(
    n: int, *, dim: int = 200, clusters: int = 200, spread: float = 1.0, seed: int = 0, draw: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors from a mixture of ``clusters`` Gaussians, and each vector's cluster.

    Cluster sizes follow a Zipf-like law (a few big clusters, many small ones). ``spread`` is the
    length of the isotropic noise added to a unit-length centre: at 1.0 a vector's cosine to its
    centre is about 0.7, two songs of one cluster about 0.5, songs of different clusters about 0.
    Isotropic noise in all 200 dimensions is harder for HNSW than real embeddings, whose spread
    lies in fewer dimensions, so recall measured on it is a conservative figure.

    Parameters
    ----------
    seed : int
        Chooses the clusters.
    draw : int
        Chooses the points: the same ``seed`` with another ``draw`` gives new points around the
        same clusters (queries that are not in the catalogue).

    Returns
    -------
    vectors : np.ndarray [shape=(n, dim), dtype=float32]
        L2-normalised rows.
    labels : np.ndarray [shape=(n,), dtype=int64]
    """
    centres = np.random.default_rng(seed).standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng([seed, draw])
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    vectors = centres[labels] + spread * rng.standard_normal((n, dim)) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels
