"""The one htmx helper (a fragment or a whole page?) and the htmx conventions every template keeps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from catalog.htmx import HtmxHttpRequest, fragment_target, wants_fragment

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
