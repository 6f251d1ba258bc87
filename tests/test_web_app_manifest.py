"""The web app manifest and icons that let a phone add Musrec to its home screen, and the favicon."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db


def fetch(client: Client, url: str) -> bytes:
    """The body of ``url``, streamed or not (WhiteNoise streams the static files)."""
    response = client.get(url, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_manifest_is_valid_json_naming_the_app_and_its_colours(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == manifest["short_name"] == "Musrec"
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    stylesheet = fetch(client, "/static/css/musrec.css").decode()
    assert f"--accent: {manifest['theme_color']};" in stylesheet
    assert f"--bg: {manifest['background_color']};" in stylesheet


def test_every_icon_the_manifest_names_is_a_png_of_its_size(client):
    icons = json.loads(client.get("/manifest.webmanifest").content)["icons"]

    assert {(icon["sizes"], icon["purpose"]) for icon in icons} >= {
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    }
    for icon in icons:
        image = Image.open(io.BytesIO(fetch(client, icon["src"])))
        assert image.format == "PNG"
        assert "x".join(map(str, image.size)) == icon["sizes"]
        assert icon["type"] == "image/png"


def test_a_maskable_icon_fills_its_square_to_the_corners(client):
    icons = json.loads(client.get("/manifest.webmanifest").content)["icons"]
    maskable = next(icon for icon in icons if icon["purpose"] == "maskable")

    image = Image.open(io.BytesIO(fetch(client, maskable["src"]))).convert("RGBA")

    # The phone cuts its own shape out of it: transparent corners would show as a ring of black or white.
    assert all(image.getpixel(corner)[3] == 255 for corner in [(0, 0), (image.width - 1, image.height - 1)])


@pytest.mark.parametrize("logged_in", [False, True])
def test_every_page_links_the_manifest_the_icons_and_the_theme_colour(client, alice, logged_in):
    if logged_in:
        client.force_login(alice)
    page = client.get("/accounts/login/" if not logged_in else "/").content.decode()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#5b3cc4">' in page
    for rel in ("icon", "apple-touch-icon"):
        for href in re.findall(rf'<link rel="{rel}" href="([^"]+)"', page):
            fetch(client, href)
    assert re.search(r'<link rel="apple-touch-icon" href="[^"]+\.png">', page)


def test_favicon_ico_is_an_icon_not_a_404(client):
    icon = Image.open(io.BytesIO(fetch(client, "/favicon.ico")))

    assert icon.format == "ICO"
    assert (32, 32) in icon.ico.sizes()
