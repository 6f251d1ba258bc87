"""A photo's mood from its colour and light (recommender/core/photo_mood.py): no Django, no database."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from recommender.core.describe import rank
from recommender.core.photo_mood import (
    MAX_PHOTO_BYTES,
    PhotoError,
    colour_statistics,
    colourfulness,
    mood_from_statistics,
    nudge,
    open_photo,
    palette,
    read_photo,
)

NAVY = (18, 28, 72)
ORANGE = (250, 130, 10)


def photo_of(colour: tuple[int, int, int], *, size: tuple[int, int] = (160, 120), noise: int = 12) -> Image.Image:
    """A photo-like picture: one colour with a little seeded grain (a flat colour has no contrast at all)."""
    rng = np.random.default_rng(7)
    pixels = np.array(colour, dtype=np.int16) + rng.integers(-noise, noise + 1, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def mood_of(colour: tuple[int, int, int]):
    return mood_from_statistics(colour_statistics(photo_of(colour)))


def test_a_dark_blue_photo_reads_calmer_sadder_and_slower_than_a_saturated_orange_one():
    blue, orange = mood_of(NAVY), mood_of(ORANGE)
    assert blue.valence < orange.valence
    assert blue.arousal < orange.arousal
    assert blue.tempo_bpm < orange.tempo_bpm
    assert "sad" in blue.concepts() and "happy" in orange.concepts()
    assert "energetic" in orange.concepts() and "energetic" not in blue.concepts()
    assert blue.statistics.warmth < 0 < orange.statistics.warmth
    assert blue.statistics.brightness < orange.statistics.brightness


def test_the_reading_says_it_in_words():
    blue, orange = mood_of(NAVY), mood_of(ORANGE)
    assert blue.reading().startswith("dark")
    assert "cold" in blue.reading().split(" → ")[0]
    assert "warm" in orange.reading().split(" → ")[0] and orange.reading().endswith("fast")


def test_a_grey_dusk_reads_as_calm_and_ambient():
    dusk = mood_of((70, 72, 80))
    assert dusk.arousal < 0 and dusk.valence < 0
    assert set(dusk.concepts()) == {"calm", "sad", "ambient"}
    assert dusk.reading().endswith("slow")


def test_the_target_ranks_calm_slow_songs_first_for_blue_and_lively_fast_ones_for_orange():
    # Two songs over the tags the target names: a calm, soft, slow one and an energetic, loud, fast one.
    columns = [
        "msd:chillout",
        "msd:Mellow",
        "msd:ambient",
        "msd:sad",
        "msd:happy",
        "msd:party",
        "msd:dance",
        "mtt:loud",
    ]
    calm = [0.8, 0.7, 0.8, 0.6, 0.1, 0.05, 0.05, 0.05]
    lively = [0.05, 0.05, 0.05, 0.05, 0.7, 0.8, 0.8, 0.8]
    matrix = np.array([calm, lively])
    descriptors = {
        "tempo_bpm": np.array([72.0, 140.0]),
        "energy": np.array([0.1, 0.9]),
        "loudness_db": np.array([-28.0, -6.0]),
    }
    blue = rank(mood_of(NAVY).query(), tag_matrix=matrix, tag_columns=columns, descriptors=descriptors)
    orange = rank(mood_of(ORANGE).query(), tag_matrix=matrix, tag_columns=columns, descriptors=descriptors)
    assert blue[0] > blue[1]
    assert orange[1] > orange[0]


def test_the_palette_finds_the_colours_and_their_shares():
    image = Image.new("RGB", (100, 100), (230, 40, 40))
    image.paste((20, 40, 200), (0, 0, 100, 25))  # a quarter blue, three quarters red
    found = palette(image)
    assert 1 <= len(found) <= 5
    assert sum(share for _, share in found) == pytest.approx(1.0)
    colour, share = found[0]
    assert share == pytest.approx(0.75, abs=0.05)
    red, _, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    assert red > 200 and blue < 80
    assert all(c.startswith("#") and len(c) == 7 for c, _ in found)


def test_a_photo_has_at_most_five_palette_colours():
    assert len(colour_statistics(photo_of((120, 180, 60), noise=80)).palette) == 5


def test_colourfulness_is_zero_for_grey_and_high_for_vivid_colours():
    grey = np.full((100, 3), 128.0)
    halves = np.array([[255, 0, 0]] * 50 + [[0, 0, 255]] * 50, dtype=np.float64)
    assert colourfulness(grey) == pytest.approx(0.0)
    assert colourfulness(halves) > 82  # "highly colourful" in Hasler & Süsstrunk's scale


def test_nudging_moves_the_reading_without_the_photo():
    blue = mood_of(NAVY)
    livelier = nudge(blue, livelier=3)
    assert livelier.arousal > blue.arousal and livelier.tempo_bpm > blue.tempo_bpm
    assert nudge(blue, brighter=-2).valence < blue.valence
    assert nudge(blue, livelier=99).arousal == nudge(blue, livelier=4).arousal
    assert nudge(blue).valence == blue.valence


def test_exif_orientation_is_honoured():
    # Stored landscape (80 x 40), left half red; EXIF 6 says "rotate 90° clockwise to view", so it is upright
    # portrait (40 x 80) with the red half on top.
    image = Image.new("RGB", (80, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = open_photo(encoded(image, "JPEG", exif=exif, quality=95))
    assert upright.size == (40, 80)
    top, bottom = upright.getpixel((20, 10)), upright.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_the_thumbnail_keeps_no_metadata():
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "SecretCam"  # Make
    mood, jpeg, width, height = read_photo(encoded(photo_of(ORANGE, size=(1200, 900)), "JPEG", exif=exif))
    assert b"SecretCam" not in jpeg and b"Exif" not in jpeg
    assert max(width, height) <= 480
    assert Image.open(io.BytesIO(jpeg)).size == (width, height)
    assert mood.statistics.palette


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_it_reads_jpeg_png_and_webp(fmt):
    image = open_photo(encoded(photo_of(NAVY), fmt))
    assert image.mode == "RGB" and image.size == (160, 120)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a picture at all, just words", "not a photo Musrec can read"),
        (encoded(photo_of(NAVY), "GIF"), "not a photo Musrec can read"),
        (encoded(photo_of(NAVY), "BMP"), "not a photo Musrec can read"),
        (encoded(photo_of(NAVY, size=(400, 300)), "JPEG")[:1500], "damaged or incomplete"),
        (encoded(Image.new("RGB", (8, 8))), "too small"),
        (b"\xff" * (MAX_PHOTO_BYTES + 1), "larger than 10 MB"),
    ],
    ids=["text", "gif", "bmp", "truncated-jpeg", "tiny", "huge-file"],
)
def test_it_refuses_bad_files_with_a_clear_message(data, message):
    with pytest.raises(PhotoError, match=message):
        open_photo(data)


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but that holds a few bytes: the header is all Pillow
    reads before refusing it."""
    small = encoded(Image.new("L", (1, 1)))
    # The IHDR chunk (bytes 8-33: length, type, width, height, 5 more bytes, CRC) with the size and CRC rewritten.
    ihdr = b"IHDR" + struct.pack(">II", width, height) + small[24:29]
    return small[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + small[33:]


def test_it_refuses_a_decompression_bomb_from_its_header():
    data = bomb_png(60_000, 60_000)
    assert len(data) < 200
    with pytest.raises(PhotoError, match="too many pixels"):
        open_photo(data)
