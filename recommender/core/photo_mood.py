"""A photo's mood, read from its colour and light, as a target for ``describe.rank`` (Django-free).

The photo is read as hostile, as covers are (``cover_files``): at most ``MAX_PHOTO_BYTES``, at most
``MAX_PICTURE_PIXELS`` (checked from the header, before any pixel is decoded), JPEG, PNG or WebP only, turned
upright from its EXIF orientation, and kept only as a small re-encoded thumbnail with no metadata.

The method, step by step (docs/quality.md, "A photo → music"):

1. **Colour and light statistics** on a downscaled copy, in CIELAB (sRGB, D65), because Munsell value and chroma,
   the colour coordinates of the colour-emotion studies, are close to L* / 10 and C* / 5:
   brightness = mean L* / 100; saturation = mean C* / ``FULL_CHROMA``, at most 1; warmth = the mean over pixels of
   min(C* / ``WARM_CHROMA``, 1) · cos(h_ab − ``WARMEST_HUE``), −1 (blue) to 1 (orange), grey counting 0;
   contrast = the standard deviation of L* / 100 (RMS contrast); colourfulness = M of Hasler & Süsstrunk (2003),
   "Measuring colourfulness in natural images": with rg = R − G and yb = (R + G) / 2 − B (0-255),
   M = √(σ_rg² + σ_yb²) + 0.3 √(μ_rg² + μ_yb²) (about 33 "moderately", 59 "quite", 82 "highly colourful");
   and a palette of ``PALETTE_SIZE`` colours by Pillow's median cut, each with its share of the pixels.
2. **Valence and arousal**, each −1 to 1, with b = 2·brightness − 1, s = 2·saturation − 1:
   valence = 0.69 b + 0.22 s + 0.15 warmth, arousal = −0.31 b + 0.60 s + 0.20 warmth + 0.15 k, k the contrast
   term (2 · min(contrast / 0.3, 1) − 1). The b and s weights are Valdez & Mehrabian (1994), "Effects of color on
   emotions" (J. Exp. Psychol.: General 123(4)): pleasure = .69 brightness + .22 saturation, arousal =
   −.31 brightness + .60 saturation, standardised regression weights over Munsell colours; used here on values
   scaled to −1..1, so the numbers are a reading, not a measurement. Warm hues are more arousing and slightly more
   pleasant (Valdez & Mehrabian's hue effects; Wilms & Oberfeld 2018, "Color and emotion", Psychol. Res. 82), and
   contrast and colourfulness are among the features Machajdik & Hanbury (2010), "Affective image classification
   using features inspired by psychology and art theory" (ACM Multimedia) found to carry an image's emotion.
3. **A target for the songs** (Russell's circumplex, 1980: valence across, arousal up): valence past
   ±``MOOD_THRESHOLD`` wants the vocabulary's "happy" or "sad", arousal past it "energetic" or "calm" (with their
   tags, energy and opposites, as if typed on "Sounds like…"); dark and calm adds "ambient"; the tempo wanted is
   ``SLOWEST_BPM`` to ``FASTEST_BPM`` by arousal, with ``TEMPO_SIGMA`` octaves of slack. Songs are then ranked by
   ``describe.rank`` like a description in words.

``nudge`` moves a reading by the person's sliders (brighter/darker moves valence, livelier/calmer arousal: the
directions Valdez & Mehrabian found brightness and saturation to act in) without looking at the photo again.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from recommender.core.cover_files import MAX_PICTURE_PIXELS, MIN_PICTURE_SIDE, encode_jpeg, on_white
from recommender.core.describe import Query, Target, Term, parse

# A phone's photo is 2-6 MB as a JPEG; a 12-bit HEIC converted to PNG can be near 10.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
# Statistics are read on a copy at most this wide: colour statistics of a photo do not change with its size.
ANALYSIS_SIDE = 256
# The copy kept: enough for the page, too small to be the photo.
THUMBNAIL_SIDE = 480
PALETTE_SIZE = 5

FULL_CHROMA = 60.0  # C* of a vivid colour; sRGB's most saturated reach 100-130
WARM_CHROMA = 25.0  # below this C* a colour counts as partly grey for warmth
WARMEST_HUE = 60.0  # degrees of h_ab: orange; blue lies near 240-300
MOOD_THRESHOLD = 0.15
SLOWEST_BPM, FASTEST_BPM = 65.0, 150.0
TEMPO_SIGMA = 0.2
NUDGE_STEP = 0.25
NUDGE_STEPS = 4


class PhotoError(ValueError):
    """The bytes are not a photo Musrec will read; the message says why in plain words."""


@dataclass(frozen=True)
class ColourStatistics:
    """A photo's light and colour, each 0 to 1 but ``warmth`` (−1 cold to 1 warm) and ``colourfulness`` (Hasler &
    Süsstrunk's M, 0 to about 150); ``palette``: (hex colour, share of pixels), largest first."""

    brightness: float
    saturation: float
    warmth: float
    contrast: float
    colourfulness: float
    palette: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "brightness": self.brightness,
            "saturation": self.saturation,
            "warmth": self.warmth,
            "contrast": self.contrast,
            "colourfulness": self.colourfulness,
            "palette": [[colour, share] for colour, share in self.palette],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ColourStatistics:
        palette = tuple((str(colour), float(share)) for colour, share in data["palette"])  # type: ignore[union-attr]
        return cls(
            brightness=float(data["brightness"]),  # type: ignore[arg-type]
            saturation=float(data["saturation"]),  # type: ignore[arg-type]
            warmth=float(data["warmth"]),  # type: ignore[arg-type]
            contrast=float(data["contrast"]),  # type: ignore[arg-type]
            colourfulness=float(data["colourfulness"]),  # type: ignore[arg-type]
            palette=palette,
        )


@dataclass(frozen=True)
class PhotoMood:
    """Valence (−1 unpleasant to 1 pleasant) and arousal (−1 calm to 1 excited) read from a photo, and the
    statistics they came from."""

    valence: float
    arousal: float
    statistics: ColourStatistics

    @property
    def tempo_bpm(self) -> float:
        """The tempo wanted: ``SLOWEST_BPM`` at arousal −1 to ``FASTEST_BPM`` at 1, evenly in octaves."""
        share = (self.arousal + 1) / 2
        return float(SLOWEST_BPM * (FASTEST_BPM / SLOWEST_BPM) ** share)

    def concepts(self) -> list[str]:
        """The vocabulary's mood concepts this reading wants, strongest first."""
        wanted: list[tuple[float, str]] = []
        if self.valence >= MOOD_THRESHOLD:
            wanted.append((self.valence, "happy"))
        elif self.valence <= -MOOD_THRESHOLD:
            wanted.append((-self.valence, "sad"))
        if self.arousal >= MOOD_THRESHOLD:
            wanted.append((self.arousal, "energetic"))
        elif self.arousal <= -MOOD_THRESHOLD:
            wanted.append((-self.arousal, "calm"))
        names = [name for _, name in sorted(wanted, reverse=True)]
        if "sad" in names and "calm" in names:
            names.append("ambient")
        return names

    def query(self) -> Query:
        """The reading as a ``describe.Query``: its mood concepts as if typed, and the tempo wanted."""
        terms: list[Term] = []
        concepts = self.concepts()
        if concepts:
            terms.extend(parse(" ".join(concepts)).terms)
        bpm = round(self.tempo_bpm)
        tempo = Target("tempo", bpm=(bpm, bpm), sigma=TEMPO_SIGMA)
        terms.append(Term(f"about {bpm} BPM", "tempo", (tempo,)))
        return Query(text=self.reading(), terms=tuple(terms))

    def words(self) -> list[str]:
        """The photo in a few words: its light, its liveliness, its colour temperature."""
        s = self.statistics
        light = "dark" if s.brightness < 0.35 else "bright" if s.brightness > 0.65 else "mid-toned"
        pace = "calm" if self.arousal <= -MOOD_THRESHOLD else "lively" if self.arousal >= MOOD_THRESHOLD else "steady"
        temperature = "cold" if s.warmth < -0.1 else "warm" if s.warmth > 0.1 else "neutral"
        colour = "muted" if s.colourfulness < 20 else "vivid" if s.colourfulness > 60 else None
        return [w for w in (light, colour, pace, temperature) if w]

    def music_words(self) -> list[str]:
        """The music it asks for in a few words: the mood concepts and the pace."""
        bpm = self.tempo_bpm
        pace = "slow" if bpm < 90 else "fast" if bpm > 120 else "mid-tempo"
        return [*self.concepts(), pace]

    def reading(self) -> str:
        """ "dark, calm, cold → sad, calm, ambient, slow"."""
        return f"{', '.join(self.words())} → {', '.join(self.music_words())}"


def open_photo(data: bytes) -> Image.Image:
    """The photo in ``data``, decoded, upright (EXIF orientation applied) and in RGB.

    Raises
    ------
    PhotoError
        Too large a file, too many pixels, too small, not a JPEG, PNG or WebP, or damaged.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"The photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB. Send a smaller copy.")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; any such warning is a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
            width, height = image.size
            if width * height > MAX_PICTURE_PIXELS:
                raise PhotoError(
                    f"The photo has too many pixels ({width:,} × {height:,}); at most "
                    f"{MAX_PICTURE_PIXELS // 1_000_000} million are read."
                )
            if min(width, height) < MIN_PICTURE_SIDE:
                raise PhotoError(f"The photo is too small ({width} × {height}) to read a mood from.")
            # A JPEG decodes straight at a fraction of its size: the statistics and thumbnail need no more.
            image.draft("RGB", (THUMBNAIL_SIDE * 2, THUMBNAIL_SIDE * 2))
            image.load()
            upright = ImageOps.exif_transpose(image)
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise PhotoError("The photo has too many pixels to be read safely.") from error
        except UnidentifiedImageError as error:
            raise PhotoError("This is not a photo Musrec can read: send a JPEG, PNG or WebP picture.") from error
        except Exception as error:  # Pillow's decoders raise many kinds of errors on truncated or damaged files
            raise PhotoError("The photo is damaged or incomplete: it could not be decoded.") from error
    return on_white(upright)


def thumbnail_jpeg(image: Image.Image, *, side: int = THUMBNAIL_SIDE) -> tuple[bytes, int, int]:
    """A re-encoded JPEG of ``image`` at most ``side`` pixels a side, without metadata, and its size."""
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return encode_jpeg(small), small.width, small.height


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values 0-1 [shape=(n, 3)] → [shape=(n, 3)], L* 0-100."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(
        [[0.4124564, 0.2126729, 0.0193339], [0.3575761, 0.7151522, 0.1191920], [0.1804375, 0.0721750, 0.9503041]]
    )
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk's (2003) colourfulness M of pixels [shape=(n, 3)], values 0-255."""
    rgb = np.asarray(rgb, dtype=np.float64)
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def palette(image: Image.Image, *, size: int = PALETTE_SIZE) -> tuple[tuple[str, float], ...]:
    """The ``size`` colours that stand for ``image`` (median cut), as ``#rrggbb`` with their share, largest first."""
    small = image.convert("RGB")
    small.thumbnail((96, 96), Image.Resampling.BILINEAR)
    quantised = small.quantize(colors=size, method=Image.Quantize.MEDIANCUT)
    colours = quantised.getpalette() or []
    counts = sorted(quantised.getcolors(size) or [], reverse=True)
    total = sum(count for count, _ in counts)
    return tuple(
        ("#{:02x}{:02x}{:02x}".format(*colours[3 * index : 3 * index + 3]), count / total) for count, index in counts
    )


def colour_statistics(image: Image.Image) -> ColourStatistics:
    """Brightness, saturation, warmth, contrast, colourfulness and palette of an RGB image (this module's
    docstring says how each is measured)."""
    small = image.convert("RGB")
    small.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float64).reshape(-1, 3)
    lab = _srgb_to_lab(pixels / 255.0)
    lightness = lab[:, 0] / 100.0
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    warmth = np.minimum(chroma / WARM_CHROMA, 1.0) * np.cos(np.radians(hue - WARMEST_HUE))
    return ColourStatistics(
        brightness=float(np.clip(lightness.mean(), 0, 1)),
        saturation=float(min(chroma.mean() / FULL_CHROMA, 1.0)),
        warmth=float(np.clip(warmth.mean(), -1, 1)),
        contrast=float(lightness.std()),
        colourfulness=colourfulness(pixels),
        palette=palette(small),
    )


def mood_from_statistics(statistics: ColourStatistics) -> PhotoMood:
    """Valence and arousal from colour statistics (the weights: this module's docstring)."""
    b = 2 * statistics.brightness - 1
    s = 2 * statistics.saturation - 1
    k = 2 * min(statistics.contrast / 0.3, 1.0) - 1
    valence = 0.69 * b + 0.22 * s + 0.15 * statistics.warmth
    arousal = -0.31 * b + 0.60 * s + 0.20 * statistics.warmth + 0.15 * k
    return PhotoMood(valence=_clip(valence), arousal=_clip(arousal), statistics=statistics)


def nudge(mood: PhotoMood, *, brighter: int = 0, livelier: int = 0) -> PhotoMood:
    """``mood`` moved ``brighter`` steps towards pleasant (negative: darker) and ``livelier`` towards aroused
    (negative: calmer), each step ``NUDGE_STEP``, at most ``NUDGE_STEPS`` either way."""
    brighter = max(-NUDGE_STEPS, min(NUDGE_STEPS, int(brighter)))
    livelier = max(-NUDGE_STEPS, min(NUDGE_STEPS, int(livelier)))
    return replace(
        mood,
        valence=_clip(mood.valence + NUDGE_STEP * brighter),
        arousal=_clip(mood.arousal + NUDGE_STEP * livelier),
    )


def read_photo(data: bytes) -> tuple[PhotoMood, bytes, int, int]:
    """A photo file's mood, and a thumbnail to keep instead of the file: (mood, jpeg, width, height).

    Raises ``PhotoError`` for a file that is not a photo Musrec reads (``open_photo``).
    """
    image = open_photo(data)
    mood = mood_from_statistics(colour_statistics(image))
    jpeg, width, height = thumbnail_jpeg(image)
    return mood, jpeg, width, height


def _clip(value: float) -> float:
    return float(max(-1.0, min(1.0, value))) if math.isfinite(value) else 0.0
