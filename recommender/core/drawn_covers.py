"""Covers drawn from a song's sound, for songs whose files carry no picture (Django-free, numpy and Pillow).

The colours come from the song's embedding through a fixed random projection, so songs that sound
alike get related colours and a whole album of one kind of music looks like a set; the shapes come
from what the analysis measured: rings as many as the tempo's beats, rippled and sharpened by the
energy (a calm piece draws soft wide waves, an intense one thin tight lines). Nothing is random at
draw time: the same song always gets the same picture, byte for byte.
"""

from __future__ import annotations

import colorsys
import hashlib
import math

import numpy as np
from PIL import Image

from recommender.core.cover_files import encode_jpeg

# The projection's seed (with the vector's width): changing it changes every drawn cover, so it is part of
# DRAWING_VERSION, which the covers' addresses include.
PROJECTION_SEED = 20_251_111
FEATURES = 12
DRAWING_VERSION = 2
# Features are about standard normal for one song, but spread less across one library (``_fold``).
FOLD_PERIOD = 2.0
HUE_TURNS = 0.5
SIZE = 512


def cover_features(vector: np.ndarray, *, count: int = FEATURES) -> np.ndarray:
    """A fixed random projection of an embedding: about standard normal numbers, alike for songs that sound alike.

    Parameters
    ----------
    vector : np.ndarray [shape=(d,)]
        An embedding; only its direction counts.
    count : int > 0

    Returns
    -------
    features : np.ndarray [shape=(count,), dtype=float64]
    """
    vector = np.asarray(vector, dtype=np.float64).ravel()
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm == 0:
        return np.zeros(count)
    projection = np.random.default_rng(PROJECTION_SEED + vector.size).standard_normal((vector.size, count))
    return (vector / norm) @ projection


def placeholder_features(text: str, *, count: int = FEATURES) -> np.ndarray:
    """Features for a song not analysed yet, from a text such as its title: stable, but not from its sound."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return np.random.default_rng(seed).standard_normal(count)


def cover_pixels(
    features: np.ndarray,
    *,
    tempo_bpm: float | None = None,
    energy: float | None = None,
    muted: bool = False,
    size: int = SIZE,
) -> np.ndarray:
    """Draw a cover.

    Parameters
    ----------
    features : np.ndarray [shape=(>= FEATURES,)]
        From ``cover_features`` (or ``placeholder_features``).
    tempo_bpm : float or None
        Beats per minute; None draws a middling number of rings.
    energy : float in [0, 1] or None
        0 calm, 1 intense; None is 0.5.
    muted : bool
        Greyer colours, for a song whose sound is not known yet.
    size : int > 0

    Returns
    -------
    rgb : np.ndarray [shape=(size, size, 3), dtype=uint8]
    """
    p = np.asarray(features, dtype=np.float64)[:FEATURES]
    if p.size < FEATURES:
        p = np.pad(p, (0, FEATURES - p.size))
    p = np.nan_to_num(p)
    energy = 0.5 if energy is None or not math.isfinite(energy) else min(max(float(energy), 0.0), 1.0)
    tempo = 100.0 if not tempo_bpm or not math.isfinite(tempo_bpm) else min(max(float(tempo_bpm), 40.0), 220.0)

    # The palette: a hue that goes round the colour circle as two features change, neighbours from a third.
    hue = (HUE_TURNS * (p[0] + p[1])) % 1.0
    spread = 0.05 + 0.2 * _fold(p[2])
    accent = hue + 0.5 if _fold(p[3]) > 0.8 else hue - spread
    saturation = (0.25 if muted else 0.5 + 0.4 * energy) * (0.85 + 0.15 * _fold(p[3]))
    deep = _hsv(hue, min(1.0, saturation + 0.15), 0.16 + 0.06 * _fold(p[4]))
    middle = _hsv(hue + spread, saturation, 0.5 + 0.15 * _fold(p[5]))
    glow = _hsv(accent, saturation, 0.95)
    line = _hsv(hue + spread / 2, 0.18 if muted else 0.3, 1.0)

    coordinates = ((np.arange(size) + 0.5) / size).astype(np.float32)
    u, v = np.meshgrid(coordinates, coordinates)
    # The background: a diagonal gradient, its direction from a feature.
    angle = math.pi / 4 + 0.6 * (2 * _fold(p[6]) - 1)
    ramp = np.clip((u * math.cos(angle) + v * math.sin(angle)) / (math.cos(angle) + math.sin(angle)), 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    picture = deep + (middle - deep) * ramp[..., None]

    # Soft lights, placed by the features.
    for i, (x_feature, y_feature) in enumerate(((p[7], p[8]), (p[9], p[10]))):
        cx, cy = 0.1 + 0.8 * _fold(x_feature), 0.1 + 0.8 * _fold(y_feature)
        radius = 0.22 + 0.12 * _fold(p[11 - i])
        light = np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * radius**2))
        picture += (0.45 if i == 0 else 0.3) * light[..., None] * (glow - picture)

    # The rings: about one a beat of a two-second bar, rippled by the energy around an off-centre point.
    rings = 4 + tempo / 16
    cx, cy = 0.15 + 0.7 * _fold(p[4] - p[7]), 0.15 + 0.7 * _fold(p[5] - p[8])
    radius = np.hypot(u - cx, v - cy)
    theta = np.arctan2(v - cy, u - cx)
    lobes = 2 + min(int(_fold(p[9] + p[10]) * 6), 5)
    ripple = 1 + (0.01 + 0.07 * energy) * np.sin(lobes * theta + 2 * math.pi * _fold(p[11]))
    wave = 0.5 + 0.5 * np.cos(2 * math.pi * rings * radius * ripple)
    sharpness = 1.5 + 14 * energy
    strength = (0.16 + 0.2 * energy) * np.exp(-1.6 * radius) * np.clip(radius * 12, 0, 1)
    picture += (wave**sharpness * strength)[..., None] * (line - picture)

    # The sound's line: a luminous wave across the picture, its wiggles from the tempo, its height from the energy.
    base = 0.5 + 0.25 * _fold(p[2] - p[6])
    beats = 1.5 + tempo / 40
    curve = (
        base
        + (0.03 + 0.09 * energy)
        * (
            np.sin(2 * math.pi * (beats * u + _fold(p[0])))
            + 0.5 * np.sin(2 * math.pi * (2.3 * beats * u + _fold(p[1])))
        )
        / 1.5
    )
    distance = np.abs(v - curve)
    core = np.exp(-((distance / 0.004) ** 2))
    halo = np.exp(-distance / 0.05)
    picture += (0.85 * core + 0.35 * halo)[..., None] * (glow - picture)

    # A vignette holds the eye in the middle; a little grain keeps the gradients from banding.
    vignette = 1 - 0.35 * ((u - 0.5) ** 2 + (v - 0.5) ** 2) * 2
    picture *= vignette[..., None]
    grain_seed = int.from_bytes(hashlib.sha256(np.round(p, 6).tobytes()).digest()[:8], "big")
    grain = np.random.default_rng(grain_seed).uniform(-1.5, 1.5, (size, size, 1)).astype(np.float32)
    return np.clip(picture * 255 + grain, 0, 255).astype(np.uint8)


def draw_cover(
    features: np.ndarray,
    *,
    tempo_bpm: float | None = None,
    energy: float | None = None,
    muted: bool = False,
    size: int = SIZE,
) -> bytes:
    """``cover_pixels`` as a JPEG file (see there for the parameters)."""
    pixels = cover_pixels(features, tempo_bpm=tempo_bpm, energy=energy, muted=muted, size=size)
    return encode_jpeg(Image.fromarray(pixels, "RGB"))


def _fold(x: float) -> float:
    """A feature as a number from 0 to 1 that goes up and down as the feature grows (a triangle wave of period
    ``FOLD_PERIOD``): continuous, so songs that sound alike stay alike, yet spread over the whole range however a
    library's embeddings are placed; a catalogue's songs often share one direction (the mean of 238 demo songs'
    unit vectors is 0.7 long), which a plain squashing function would turn into one look for all of them."""
    phase = (float(x) / FOLD_PERIOD) % 1.0
    return 1.0 - abs(2.0 * phase - 1.0)


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb(hue % 1.0, min(max(saturation, 0.0), 1.0), min(max(value, 0.0), 1.0))
    return np.array(rgb, dtype=np.float32)
