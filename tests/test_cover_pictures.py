"""Cover pictures without Django: reading them from tags and folders, refusing bad ones, drawing them from the sound."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from catalog.tags import folder_picture, read_picture
from recommender.core.cover_files import (
    MAX_PICTURE_BYTES,
    PictureError,
    normalise_picture,
    square_cover,
)
from recommender.core.drawn_covers import cover_features, cover_pixels, draw_cover, placeholder_features
from tests.factories import add_picture, jpeg, write_audio

LIMIT = MAX_PICTURE_BYTES


def png_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


# --- Reading pictures from files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg", ".wav"])
def test_it_reads_the_picture_embedded_in_the_tags(tmp_path, suffix):
    picture = jpeg(colour=(10, 120, 200))
    path = add_picture(write_audio(tmp_path / f"song{suffix}", title="Song"), picture)

    assert read_picture(path, max_bytes=LIMIT) == picture


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg"])
def test_it_prefers_the_front_cover_to_other_pictures(tmp_path, suffix):
    back, front = jpeg(colour=(0, 0, 0)), jpeg(colour=(255, 200, 0))
    path = write_audio(tmp_path / f"song{suffix}", title="Song")
    add_picture(path, back, kind=4)
    add_picture(path, front, kind=3)

    assert read_picture(path, max_bytes=LIMIT) == front


def test_a_file_without_a_picture_has_none(tmp_path):
    assert read_picture(write_audio(tmp_path / "plain.flac", title="Plain"), max_bytes=LIMIT) is None


def test_it_passes_over_an_embedded_picture_larger_than_the_limit(tmp_path):
    path = add_picture(write_audio(tmp_path / "big.flac", title="Big"), jpeg(600, 600))

    assert read_picture(path, max_bytes=1000) is None


def test_damaged_picture_tags_give_no_picture_and_no_error(tmp_path):
    path = write_audio(tmp_path / "damaged.ogg", title="Damaged")
    import mutagen

    audio = mutagen.File(str(path))
    audio.tags["metadata_block_picture"] = ["not base64 at all!", "AAAA"]
    audio.save()

    assert read_picture(path, max_bytes=LIMIT) is None


@pytest.mark.parametrize("name", ["cover.jpg", "Folder.jpg", "FRONT.JPG", "cover.png"])
def test_it_finds_the_picture_file_beside_a_song(tmp_path, name):
    song = write_audio(tmp_path / "01 - song.wav")
    (tmp_path / name).write_bytes(b"picture bytes")

    assert folder_picture(song, max_bytes=LIMIT) == b"picture bytes"


def test_it_leaves_a_picture_file_over_the_limit_alone(tmp_path):
    song = write_audio(tmp_path / "song.wav")
    (tmp_path / "cover.jpg").write_bytes(b"x" * 2000)

    assert folder_picture(song, max_bytes=1000) is None


def test_a_folder_without_a_picture_file_gives_none(tmp_path):
    (tmp_path / "notes.txt").write_text("liner notes")

    assert folder_picture(write_audio(tmp_path / "song.wav"), max_bytes=LIMIT) is None


# --- Checking and re-encoding them ----------------------------------------------------------------------------------


def test_a_picture_is_stored_as_a_plain_jpeg_without_its_metadata():
    exif = Image.Exif()
    exif[0x010E] = "a secret description"  # ImageDescription
    source = io.BytesIO()
    Image.new("RGB", (2000, 1500), (30, 60, 90)).save(source, format="JPEG", exif=exif.tobytes(), comment=b"hidden")

    data, width, height = normalise_picture(source.getvalue())

    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and (width, height) == image.size == (1024, 768)
    assert not image.getexif() and "comment" not in image.info and "icc_profile" not in image.info
    assert b"a secret description" not in data and b"hidden" not in data


def test_a_transparent_png_becomes_an_opaque_jpeg():
    data, _, _ = normalise_picture(png_bytes(Image.new("RGBA", (64, 64), (255, 0, 0, 0))))

    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((32, 32)) >= (250, 250, 250)


@pytest.mark.parametrize("side", [7_000, 20_000], ids=["over-our-limit", "over-pillows-limit"])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(side):
    # 20,000 x 20,000 one-bit pixels compress to 50 kB and would decode to 400 million; 7,000 a side passes Pillow's
    # own guard (89 million pixels) but not ours.
    bomb = png_bytes(Image.new("1", (side, side)), optimize=True)
    assert len(bomb) < MAX_PICTURE_BYTES

    with pytest.raises(PictureError, match="too many pixels"):
        normalise_picture(bomb)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a picture|damaged"),
        (jpeg(400, 400)[:600], "damaged"),
        (b"GIF89a" + b"\xff" * 50, "not a picture|damaged"),
        (b"%PDF-1.4 not a picture", "not a picture"),
        (b"x" * (MAX_PICTURE_BYTES + 1), "larger than"),
        (jpeg(8, 8), "too small"),
    ],
    ids=["broken-png", "truncated-jpeg", "broken-gif", "pdf", "too-large", "too-small"],
)
def test_a_bad_picture_is_refused_with_a_reason(data, reason):
    with pytest.raises(PictureError, match=reason):
        normalise_picture(data)


def test_served_sizes_are_squares_cut_from_the_middle():
    stored, _, _ = normalise_picture(jpeg(600, 300))

    for size in (64, 128, 256, 512):
        assert Image.open(io.BytesIO(square_cover(stored, size=size))).size == (size, size)


# --- Drawing them from the sound ------------------------------------------------------------------------------------


def vectors(seed: int, n: int = 2, d: int = 400) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def test_a_drawn_cover_is_the_same_every_time():
    features = cover_features(vectors(1)[0])

    first = draw_cover(features, tempo_bpm=120, energy=0.6)
    again = draw_cover(cover_features(vectors(1)[0].copy()), tempo_bpm=120, energy=0.6)

    assert first == again
    assert Image.open(io.BytesIO(first)).size == (512, 512)


def test_different_songs_get_different_covers():
    a, b = (cover_features(vector) for vector in vectors(2))

    pixels_a = cover_pixels(a, tempo_bpm=90, energy=0.3).astype(float)
    pixels_b = cover_pixels(b, tempo_bpm=90, energy=0.3).astype(float)

    assert np.abs(pixels_a - pixels_b).mean() > 20


def test_songs_that_sound_alike_get_closer_colours_than_songs_that_do_not():
    rng = np.random.default_rng(3)
    distances_near, distances_far = [], []
    for _ in range(20):
        song, other = rng.standard_normal((2, 400))
        neighbour = song + 0.1 * rng.standard_normal(400)  # a cosine of 0.995
        colour = {
            name: cover_pixels(cover_features(vector), size=64).reshape(-1, 3).mean(axis=0)
            for name, vector in (("song", song), ("neighbour", neighbour), ("other", other))
        }
        distances_near.append(np.linalg.norm(colour["song"] - colour["neighbour"]))
        distances_far.append(np.linalg.norm(colour["song"] - colour["other"]))

    assert np.mean(distances_near) < 0.5 * np.mean(distances_far)


def test_the_tempo_and_the_energy_change_the_shapes():
    features = cover_features(vectors(4)[0])
    calm = cover_pixels(features, tempo_bpm=60, energy=0.05).astype(float)
    intense = cover_pixels(features, tempo_bpm=180, energy=0.95).astype(float)

    assert np.abs(calm - intense).mean() > 5


def test_a_song_not_analysed_yet_gets_a_stable_greyer_placeholder():
    features = placeholder_features("Forest 1\n3\n17")
    assert np.array_equal(features, placeholder_features("Forest 1\n3\n17"))

    muted = cover_pixels(features, muted=True, size=64).reshape(-1, 3).astype(float)
    coloured = cover_pixels(features, size=64).reshape(-1, 3).astype(float)
    assert (muted.max(axis=1) - muted.min(axis=1)).mean() < (coloured.max(axis=1) - coloured.min(axis=1)).mean()


@pytest.mark.parametrize("vector", [np.zeros(200), np.full(200, np.nan)])
def test_a_degenerate_vector_still_draws_a_cover(vector):
    assert Image.open(io.BytesIO(draw_cover(cover_features(vector), size=64))).size == (64, 64)
