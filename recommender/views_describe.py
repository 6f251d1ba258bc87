"""'Sounds like…': songs found from a description in words (recommender/describe_search.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import Rating
from recommender.core.describe import EXAMPLES, MAX_CHARACTERS, DescriptionError, parse
from recommender.describe_search import songs_described


# The fragment and the full page share one URL (hx-push-url), so caches must tell them apart.
@vary_on_headers("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
@require_GET
@login_required
def sounds_like(request: HtmxHttpRequest) -> HttpResponse:
    """The songs a person may see that best match ``?q=`` ("calm piano"), with the words understood and not."""
    # PostgreSQL text cannot hold NUL; the parser refuses anything longer than a description anyway.
    text = request.GET.get("q", "").replace("\x00", "")
    context: dict[str, object] = {"text": text[: MAX_CHARACTERS * 2], "examples": EXAMPLES, "asked": bool(text)}
    if text:
        try:
            query = parse(text)
        except DescriptionError as error:
            context.update(error=str(error), unknown=error.unknown)
        else:
            found = songs_described(query, request.user)
            Rating.objects.attach(request.user, found.songs)
            context.update(query=query, unknown=query.unknown, found=found)
    if wants_fragment(request):
        return render(request, "recommender/sounds_like.html#results", context)
    return render(request, "recommender/sounds_like.html", context)
