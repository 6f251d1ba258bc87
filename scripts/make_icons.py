"""Draw Musrec's icons (a white beamed pair of notes on the accent colour) into static/icons/.

Run once, when the design changes, and commit what it writes:

    .venv/bin/python scripts/make_icons.py

icon-192.png, icon-512.png    rounded square on a transparent ground ("any" in the web app manifest)
maskable-192.png, -512.png    full-bleed square, the notes inside the safe circle (the phone cuts its own shape)
apple-touch-icon.png          180 px, full bleed (iOS rounds the corners itself and shows transparency as black)
favicon.ico                   16, 32 and 48 px rounded squares
icon.svg                      the rounded square as a vector, for browsers that take SVG favicons
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"
# The stylesheet's --accent, and a lighter shade of it for the gradient's top.
ACCENT = (0x5B, 0x3C, 0xC4)
ACCENT_LIGHT = (0x7A, 0x5C, 0xE0)
SUPERSAMPLE = 4

# The notes in a 100 × 100 box: two heads (ellipses turned by HEAD_TILT degrees), two stems and a beam.
HEADS = [(30.0, 74.0), (72.0, 64.0)]
HEAD_RADII = (13.0, 9.5)
HEAD_TILT = -20.0
# Each stem ends at its head's right-most point and starts inside the beam.
STEMS = [(37.0, 24.0, 42.5, 73.0), (79.0, 16.0, 84.5, 63.0)]
BEAM = [(37.0, 20.0), (84.5, 10.0), (84.5, 26.0), (37.0, 36.0)]
# The drawing's bounding box, to centre it.
GLYPH_CENTRE = ((17.0 + 84.5) / 2, (10.0 + 84.0) / 2)


def ellipse_points(cx: float, cy: float, rx: float, ry: float, tilt: float, n: int = 72) -> list[tuple[float, float]]:
    turn = math.radians(tilt)
    points = []
    for k in range(n):
        t = 2 * math.pi * k / n
        x, y = rx * math.cos(t), ry * math.sin(t)
        points.append((cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn)))
    return points


def background(size: int) -> Image.Image:
    """A vertical gradient from ACCENT_LIGHT to ACCENT."""
    column = Image.linear_gradient("L").resize((1, size))
    top, bottom = Image.new("RGB", (1, size), ACCENT_LIGHT), Image.new("RGB", (1, size), ACCENT)
    return Image.composite(bottom, top, column).resize((size, size))


def draw_notes(image: Image.Image, *, scale: float) -> None:
    """The notes, ``scale`` × the image's width wide and centred."""
    size = image.width
    unit = size * scale / 100

    def place(x: float, y: float) -> tuple[float, float]:
        return (size / 2 + (x - GLYPH_CENTRE[0]) * unit, size / 2 + (y - GLYPH_CENTRE[1]) * unit)

    draw = ImageDraw.Draw(image)
    white = (255, 255, 255, 255)
    for cx, cy in HEADS:
        draw.polygon([place(x, y) for x, y in ellipse_points(cx, cy, *HEAD_RADII, HEAD_TILT)], fill=white)
    for left, top, right, bottom in STEMS:
        draw.polygon([place(left, top), place(right, top), place(right, bottom), place(left, bottom)], fill=white)
    draw.polygon([place(x, y) for x, y in BEAM], fill=white)


def icon(size: int, *, full_bleed: bool, scale: float) -> Image.Image:
    big = size * SUPERSAMPLE
    image = background(big).convert("RGBA")
    if not full_bleed:
        mask = Image.new("L", (big, big), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=round(big * 0.22), fill=255)
        image.putalpha(mask)
    draw_notes(image, scale=scale)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def svg() -> str:
    rx, ry = HEAD_RADII
    heads = "".join(
        f'<ellipse cx="{cx}" cy="{cy}" rx="{rx}" ry="{ry}" transform="rotate({HEAD_TILT} {cx} {cy})"/>'
        for cx, cy in HEADS
    )
    stems = "".join(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"/>' for x0, y0, x1, y1 in STEMS)
    beam = " ".join(f"{x},{y}" for x, y in BEAM)
    dx, dy = 50 - GLYPH_CENTRE[0] * 0.62, 50 - GLYPH_CENTRE[1] * 0.62
    light, dark = bytes(ACCENT_LIGHT).hex(), bytes(ACCENT).hex()
    place = f"translate({dx:.2f} {dy:.2f}) scale(0.62)"
    notes = f'<g fill="#fff" transform="{place}">{heads}{stems}<polygon points="{beam}"/></g>'
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="#{light}"/><stop offset="1" stop-color="#{dark}"/>'
        "</linearGradient></defs>"
        '<rect width="100" height="100" rx="22" fill="url(#g)"/>'
        f"{notes}"
        "</svg>\n"
    )


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size, full_bleed=False, scale=0.62).save(ICONS / f"icon-{size}.png", optimize=True)
        # The safe zone of a maskable icon is the middle circle of 80 % of its width: the notes stay well inside.
        icon(size, full_bleed=True, scale=0.48).save(ICONS / f"maskable-{size}.png", optimize=True)
    icon(180, full_bleed=True, scale=0.58).convert("RGB").save(ICONS / "apple-touch-icon.png", optimize=True)
    icon(256, full_bleed=False, scale=0.7).save(ICONS / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    (ICONS / "icon.svg").write_text(svg())


if __name__ == "__main__":
    main()
