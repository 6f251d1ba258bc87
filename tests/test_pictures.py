"""recommender.core.pictures: the PNG of a song's log-mel spectrogram shown on the upload page."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from recommender.core import pictures
from recommender.core.mel import N_MELS


def decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    return np.asarray(image, dtype=np.float64)


def brightness(pixels: np.ndarray) -> np.ndarray:
    return pixels @ [0.2126, 0.7152, 0.0722]


@pytest.mark.parametrize(("width", "height"), [(800, 200), (320, 96), (1000, 50), (37, 300)])
def test_png_decodes_at_the_requested_size(width, height):
    mel = np.random.default_rng(0).random((1000, N_MELS), dtype=np.float32) * 4
    pixels = decode(pictures.mel_image(mel, width=width, height=height))
    assert pixels.shape == (height, width, 3)


def test_low_frequencies_are_at_the_bottom():
    mel = np.zeros((500, N_MELS), dtype=np.float32)
    mel[:, :10] = 5.0
    pixels = brightness(decode(pictures.mel_image(mel, width=200, height=100)))
    assert pixels[-5:].mean() > 200
    assert pixels[:50].mean() < 10


def test_time_runs_to_the_right():
    mel = np.zeros((500, N_MELS), dtype=np.float32)
    mel[250:] = 5.0
    pixels = brightness(decode(pictures.mel_image(mel, width=200, height=100)))
    assert pixels[:, -50:].mean() > 200
    assert pixels[:, :50].mean() < 10


def test_windows_are_drawn_side_by_side():
    windows = np.zeros((4, 187, N_MELS), dtype=np.float32)
    windows[3] = 5.0
    pixels = brightness(decode(pictures.mel_image(windows, width=400, height=50)))
    assert pixels[:, 310:].mean() > 200
    assert pixels[:, :290].mean() < 10


@pytest.mark.parametrize("mel", [np.zeros((300, N_MELS)), np.zeros((0, N_MELS)), np.full((5, N_MELS), 3.0)])
def test_silent_empty_and_flat_spectrograms_still_draw(mel):
    assert decode(pictures.mel_image(mel, width=60, height=40)).shape == (40, 60, 3)


def test_the_colour_map_runs_from_dark_to_light():
    lightness = brightness(pictures.MAGMA.astype(np.float64))
    assert pictures.MAGMA.shape == (256, 3)
    assert lightness[0] < 5
    assert lightness[-1] > 230
    assert np.all(np.diff(lightness) > -1.0)
