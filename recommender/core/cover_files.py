"""Cover pictures from files: checked, bounded, re-encoded and resized with Pillow (Django-free).

A picture comes from someone's file (a tag, a ``cover.jpg``), so it is read as hostile: at most
``MAX_PICTURE_BYTES``, at most ``MAX_PICTURE_PIXELS`` (checked from the header, before any pixel is
decoded: a 50,000 x 50,000 PNG of a few kilobytes would otherwise take gigabytes), one of a few formats,
and re-encoded as a plain JPEG, so that nothing of the original file (its metadata, a payload hidden
after the image) is ever served.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

# "A few megabytes": a full-resolution scan of a sleeve is about 2-5 MB as a JPEG.
MAX_PICTURE_BYTES = 8 * 1024 * 1024
# 6,000 x 6,000 pixels; Pillow's own bomb guard (MAX_IMAGE_PIXELS, about 89 million) only warns below twice that.
MAX_PICTURE_PIXELS = 36_000_000
# Smaller than this it is a placeholder, not a picture of anything.
MIN_PICTURE_SIDE = 16
# The stored copy: enough for the largest size served.
STORED_SIDE = 1024
# The sizes served (square, in pixels): list rows, their high-density screens, album pages, Media Session.
COVER_SIZES = (64, 128, 256, 512)
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
JPEG_QUALITY = 86


class PictureError(ValueError):
    """The bytes are not a picture Musrec will use; the message says why in plain words."""


def normalise_picture(data: bytes, *, max_side: int = STORED_SIDE) -> tuple[bytes, int, int]:
    """A picture file as a clean RGB JPEG of at most ``max_side`` pixels a side.

    Parameters
    ----------
    data : bytes
        The file's bytes (JPEG, PNG, GIF, WebP or BMP).
    max_side : int > 0
        The longest side of the result; smaller pictures keep their size.

    Returns
    -------
    jpeg, width, height : bytes, int, int
        The re-encoded picture (no metadata) and its size.

    Raises
    ------
    PictureError
        Too large a file, too many pixels, too small, not a picture, or damaged.
    """
    image = _open(data)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return encode_jpeg(image), image.width, image.height


def square_cover(data: bytes, *, size: int) -> bytes:
    """A stored picture (from ``normalise_picture``) cut to its centre square and scaled to ``size`` pixels a side."""
    image = _open(data)
    return encode_jpeg(ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS))


def encode_jpeg(image: Image.Image) -> bytes:
    """``image`` as a baseline JPEG without metadata (no EXIF, no ICC profile, no comment)."""
    rgb = image.convert("RGB")
    # A new image of the pixels alone: Pillow would write the original's comment (and more) back from ``info``.
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_PICTURE_BYTES:
        raise PictureError(f"the picture is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MB")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; any such warning is a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > MAX_PICTURE_PIXELS:
                raise PictureError(f"the picture has too many pixels ({width} x {height})")
            if min(width, height) < MIN_PICTURE_SIDE:
                raise PictureError(f"the picture is too small ({width} x {height})")
            # A JPEG can be decoded straight at a fraction of its size: a large scan costs a quarter of the time.
            image.draft("RGB", (STORED_SIDE, STORED_SIDE))
            image.load()
        except PictureError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise PictureError("the picture has too many pixels") from error
        except UnidentifiedImageError as error:
            raise PictureError("not a picture Musrec can read") from error
        except Exception as error:  # Pillow's decoders raise many kinds of errors on truncated or damaged files
            raise PictureError("the picture is damaged") from error
    return on_white(image)


def on_white(image: Image.Image) -> Image.Image:
    """``image`` in RGB, its transparent parts white, as on a sleeve, instead of JPEG's black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
