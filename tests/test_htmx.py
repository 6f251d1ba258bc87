"""The one htmx helper (a fragment or a whole page?) and the htmx conventions every template keeps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from catalog.htmx import HtmxHttpRequest, fragment_target, wants_fragment
from catalog.models import Song
from tests.factories import make_song

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def request_with(**headers: str) -> HtmxHttpRequest:
    request = RequestFactory().get("/", headers=headers)
    request.htmx = HtmxDetails(request)
    return request


HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, False),
        (HTMX, True),
        ({**HTMX, "HX-Target": "results"}, True),
        # A boosted link or form is navigation: the player swaps the whole page into #page.
        ({**HTMX, "HX-Boosted": "true"}, False),
        ({**HTMX, "HX-Boosted": "true", "HX-Target": "playlist"}, False),
        # On a history cache miss htmx swaps the answer into <body>.
        ({**HTMX, "HX-History-Restore-Request": "true"}, False),
        # Without HX-Request the other headers are no htmx request at all.
        ({"HX-Target": "results"}, False),
    ],
)
def test_only_an_element_asking_for_its_own_refresh_wants_a_fragment(headers, fragment):
    assert wants_fragment(request_with(**headers)) is fragment


def test_the_target_is_named_only_when_it_is_one_the_view_answers():
    allowed = {"analysis", "playlist"}

    assert fragment_target(request_with(**HTMX, **{"HX-Target": "playlist"}), allowed) == "playlist"
    assert fragment_target(request_with(**HTMX, **{"HX-Target": "page"}), allowed) is None
    assert fragment_target(request_with(**HTMX), allowed) is None


def test_a_boosted_or_restored_page_names_no_target_whatever_it_sends():
    allowed = {"playlist"}
    boosted = request_with(**HTMX, **{"HX-Boosted": "true", "HX-Target": "playlist"})
    restored = request_with(**HTMX, **{"HX-History-Restore-Request": "true", "HX-Target": "playlist"})

    assert fragment_target(boosted, allowed) is None
    assert fragment_target(restored, allowed) is None


def test_no_template_confirms_with_an_inline_script():
    """htmx boosts forms and would send one whose onsubmit="return confirm(...)" said no: hx-confirm asks first."""
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if re.search(r"onsubmit|confirm\(", path.read_text(), flags=re.IGNORECASE)
    ]

    assert offenders == []


# Every URL a person can land on renders a whole page (issue 11, §6.2: "More like this" opened by its address was
# an unstyled fragment). What htmx loads into a page is a fragment only when htmx asks for it.

LANDING_URLS = {
    "more like this": lambda song: reverse("recommender:more_like_this", args=[song.pk]),
    "listeners also played": lambda song: reverse("recommender:listeners_also_played", args=[song.pk]),
    "analysis progress": lambda song: reverse("recommender:analysis_progress"),
    "the player's rating buttons": lambda song: reverse("catalog:song_rating_buttons", args=[song.pk]),
}


def whole_page(response) -> str:
    """The page a browser shows for ``response``, following redirects; it must be a whole page of the site."""
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().lower().startswith("<!doctype html>"), html[:200]
    assert "musrec.css" in html
    return html


@pytest.mark.django_db
@pytest.mark.parametrize("url_of", LANDING_URLS.values(), ids=LANDING_URLS.keys())
def test_a_url_that_htmx_loads_into_a_page_opened_by_its_address_is_a_whole_page(alice_client, url_of):
    song = make_song(title="Seed Song", analysis_status=Song.Analysis.DONE)

    whole_page(alice_client.get(url_of(song), follow=True))


@pytest.mark.django_db
@pytest.mark.parametrize("url_of", LANDING_URLS.values(), ids=LANDING_URLS.keys())
def test_the_same_url_asked_by_htmx_is_the_fragment_alone(alice_client, url_of):
    song = make_song(title="Seed Song", analysis_status=Song.Analysis.DONE)

    response = alice_client.get(url_of(song), headers=HTMX)

    assert response.status_code == 200
    assert "<!doctype" not in response.content.decode().lower()


@pytest.mark.django_db
def test_more_like_this_opened_by_its_address_names_its_song_and_links_back(alice_client):
    song = make_song(title="Seed Song", analysis_status=Song.Analysis.DONE)

    html = whole_page(alice_client.get(reverse("recommender:more_like_this", args=[song.pk])))

    assert "More like “Seed Song”" in html
    assert f'href="{song.get_absolute_url()}"' in html
