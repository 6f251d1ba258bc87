"""How alike two songs are, shown the same way on every page: ``{% match similarity %}``."""

from __future__ import annotations

import numpy as np
from django import template
from django.utils.html import format_html

from recommender.core.vectors import percentile_among_pairs
from recommender.models import similarity_scale

register = template.Library()


@register.simple_tag(takes_context=True)
def match(context: template.Context, similarity: float | None, among: np.ndarray | None = None) -> str:
    """``similarity`` (a cosine) as "97 % match": the share of pairs of catalogue songs that are less alike.

    The tooltip gives the cosine too. The scale is read once per request (``similarity_scale``), however many
    songs the page lists. Nothing for a song without a similarity. ``among``: the similarity is to a centre of
    someone's taste, read on the catalogue's similarities to that centre (``similarity_quantiles``) instead.
    """
    if similarity is None or similarity == "":
        return ""
    similarity = float(similarity)
    if among is not None and len(among):
        percent = percentile_among_pairs(similarity, among)
        tooltip = f"Closer to this side of your taste than {percent} % of catalogue songs (cosine {similarity:.2f})"
        return _shown(percent, tooltip)
    request = context.get("request")
    scale = getattr(request, "_similarity_scale", None) if request is not None else None
    if scale is None:
        scale = (similarity_scale(),)
        if request is not None:
            request._similarity_scale = scale
    if scale[0] is None:
        # Fewer than two analysed catalogue songs: no pairs to compare with, so the cosine itself, never below 0.
        percent = round(100 * min(max(similarity, 0.0), 1.0))
        tooltip = f"cosine similarity {similarity:.2f}"
    else:
        percent = percentile_among_pairs(similarity, scale[0])
        tooltip = f"Closer than {percent} % of pairs of catalogue songs (cosine {similarity:.2f})"
    return _shown(percent, tooltip)


def _shown(percent: int, tooltip: str) -> str:
    # A no-break space: "97" and "%" never part at the end of a line.
    return format_html(
        '<span class="match" title="{}">{}\u00a0%<span class="match-word"> match</span></span>', tooltip, percent
    )


@register.filter
def any_together(songs: object) -> bool:
    """Whether what people play together placed any of ``songs`` (``Embedding.objects.nearest_songs``, ``.side``)."""
    return any(getattr(song, "side", "audio") == "together" for song in songs or ())
