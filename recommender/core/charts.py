"""Charts of a trained model as PNGs: its confusion matrix and its training curves (Django-free, Pillow only).

Drawn with Pillow, like the spectrograms (``pictures``), so that a model card's pictures need no plotting library.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recommender.core.pictures import MAGMA

BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)
# Colour-blind-safe line colours (Okabe & Ito): blue, orange, bluish green, vermilion.
LINE_COLOURS = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (213, 94, 0))
FONT_SIZE = 13


def _font(size: int = FONT_SIZE) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _shorten(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def confusion_png(matrix: np.ndarray, labels: Sequence[str], *, title: str = "") -> bytes:
    """A confusion matrix as a PNG: true genres down, predicted genres across, each row shaded by its share.

    Parameters
    ----------
    matrix : np.ndarray [shape=(n_labels, n_labels), dtype=int]
        ``matrix[i, j]`` songs of label ``i`` predicted as label ``j``.
    labels : sequence of str [length n_labels]
    title : str

    Returns
    -------
    png : bytes
        An RGB PNG; each cell shows its count, darker for a larger share of its row (its label's recall).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix must be {n} × {n} for {n} labels; got {matrix.shape}")
    font = _font()
    cell = max(28, min(56, 600 // max(n, 1)))
    label_width = min(220, max((int(font.getlength(label)) for label in labels), default=0) + 16)
    top = 40 + label_width  # the predicted labels are written upwards above the columns
    left = label_width + 30
    width, height = left + n * cell + 20, top + n * cell + 40
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((10, 8), title, fill=INK, font=_font(FONT_SIZE + 2))
    draw.text((left, height - 24), "predicted", fill=INK, font=font)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    for i in range(n):
        y = top + i * cell
        name = _shorten(labels[i], font, label_width - 8)
        draw.text((left - 8, y + cell / 2), name, fill=INK, font=font, anchor="rm")
        for j in range(n):
            x = left + j * cell
            # The palette's upper part: pale for 0, dark purple for a whole row; never black, so numbers stay legible.
            colour = tuple(int(c) for c in MAGMA[255 - int(shares[i, j] * 200)])
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=BACKGROUND)
            ink = BACKGROUND if shares[i, j] > 0.45 else INK
            draw.text((x + cell / 2, y + cell / 2), str(matrix[i, j]), fill=ink, font=font, anchor="mm")
    # Column labels, written bottom to top, on a strip rotated into place.
    strip = Image.new("RGB", (label_width, n * cell), BACKGROUND)
    strip_draw = ImageDraw.Draw(strip)
    for j in range(n):
        strip_draw.text(
            (8, j * cell + cell / 2), _shorten(labels[j], font, label_width - 8), fill=INK, font=font, anchor="lm"
        )
    image.paste(strip.rotate(90, expand=True), (left, top - label_width))
    draw.text((8, top - 18), "true", fill=INK, font=font)
    return _png(image)


@dataclass(frozen=True)
class _Axes:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    low: float
    high: float
    epochs: int

    def to_xy(self, epoch: int, value: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        x = left + (right - left) * (epoch - 1) / max(self.epochs - 1, 1)
        y = bottom - (bottom - top) * (value - self.low) / (self.high - self.low)
        return x, y


def curves_png(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str = "",
    marker: int | None = None,
    width: int = 720,
    panel_height: int = 220,
) -> bytes:
    """Line charts over epochs, one panel per measure (loss, accuracy), each with its series (training, validation).

    Parameters
    ----------
    panels : mapping of str to mapping of str to sequence of float
        ``{"loss": {"training": [...], "validation": [...]}, ...}``: one value per epoch, epoch 1 first.
    title : str
    marker : int, optional
        An epoch to mark with a vertical line (the one whose weights were kept).
    width, panel_height : int
        Size of each panel in pixels.

    Returns
    -------
    png : bytes
        An RGB PNG, the panels stacked.
    """
    font = _font()
    heading = 30 if title else 6
    height = heading + len(panels) * (panel_height + 20)
    image = Image.new("RGB", (width, max(height, 40)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((10, 8), title, fill=INK, font=_font(FONT_SIZE + 2))
    for p, (measure, series) in enumerate(panels.items()):
        origin_y = heading + p * (panel_height + 20)
        box = (60, origin_y + 20, width - 130, origin_y + panel_height - 10)  # left, top, right, bottom
        values = [v for points in series.values() for v in points if np.isfinite(v)]
        epochs = max((len(points) for points in series.values()), default=0)
        draw.text((10, origin_y + 2), measure, fill=INK, font=font)
        draw.rectangle(box, outline=INK)
        if not values or epochs == 0:
            draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), "no data", fill=INK, font=font, anchor="mm")
            continue
        low, high = min(values), max(values)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        pad = 0.05 * (high - low)
        low, high = low - pad, high + pad
        to_xy = _Axes(box=box, low=low, high=high, epochs=epochs).to_xy
        for k in range(5):
            value = low + (high - low) * k / 4
            _, y = to_xy(1, value)
            draw.line([box[0] + 1, y, box[2] - 1, y], fill=GRID)
            draw.text((box[0] - 6, y), f"{value:.2f}", fill=INK, font=font, anchor="rm")
        draw.rectangle(box, outline=INK)  # again: the top and bottom grid lines lie on it
        for epoch in sorted({1, epochs, *range(5, epochs, 5)}):
            x, _ = to_xy(epoch, low)
            draw.text((x, box[3] + 4), str(epoch), fill=INK, font=font, anchor="mt")
        if marker is not None and 1 <= marker <= epochs:
            x, _ = to_xy(marker, low)
            draw.line([x, box[1], x, box[3]], fill=(150, 150, 150), width=1)
        for s, (name, points) in enumerate(series.items()):
            colour = LINE_COLOURS[s % len(LINE_COLOURS)]
            xy = [to_xy(e + 1, v) for e, v in enumerate(points) if np.isfinite(v)]
            if len(xy) > 1:
                draw.line(xy, fill=colour, width=2)
            for x, y in xy:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
            draw.line([box[2] + 12, box[1] + 10 + 18 * s, box[2] + 30, box[1] + 10 + 18 * s], fill=colour, width=3)
            draw.text((box[2] + 36, box[1] + 10 + 18 * s), name, fill=INK, font=font, anchor="lm")
    draw.text((width - 118, height - 23), "epoch", fill=INK, font=font, anchor="lm")
    return _png(image)
