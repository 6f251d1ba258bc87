"""Cover pictures found in songs' files, served square in a few sizes (issue 11 §4).

A picture's address names it by a token (``Cover.token``) and never changes meaning, so browsers keep it for a
year without asking again (``immutable``); it is ``private``, as a private upload's picture is its owner's alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from catalog.models import Cover, Song
from recommender.core.cover_files import COVER_SIZES

FOR_GOOD = "private, max-age=31536000, immutable"


def cover_response(request: HttpRequest, picture: Callable[[], bytes], *, etag: str) -> HttpResponse:
    """A JPEG to keep for good, or 304 when the browser has it already (``picture`` is then never made)."""
    etag = f'"{etag}"'
    if isinstance(get_conditional_response(request, etag=etag), HttpResponseNotModified):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(picture(), content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = FOR_GOOD
    return response


@require_safe
def cover(request: HttpRequest, pk: int, size: int, token: str) -> HttpResponse:
    """A stored picture, to whoever may see a song that shows it (its own, or its album's); signed out, only an
    imported catalogue song's (``Song.objects.covers_shown_to``), for the home page's landing."""
    if size not in COVER_SIZES:
        raise Http404("No such size")
    picture = get_object_or_404(Cover, pk=pk)
    visible = Song.objects.covers_shown_to(request.user)
    # Two checks, each on its own foreign-key index: an OR across the album join scanned the songs.
    if token != picture.token or not (
        visible.filter(cover=picture).exists() or visible.filter(album__cover=picture).exists()
    ):
        raise Http404("No such cover")
    # A shared upload's picture may have become its album's, and so an imported song's: still someone's own file,
    # never shown to a visitor.
    if not request.user.is_authenticated and Song.objects.filter(owner__isnull=False, cover=picture).exists():
        raise Http404("No such cover")
    return cover_response(request, lambda: picture.sized(size), etag=f"{token}-{size}")
