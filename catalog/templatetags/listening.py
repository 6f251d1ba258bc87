"""Template tags for the listening features: the request user's rating of a song on any page."""

from __future__ import annotations

from django import template

from catalog.models import Rating, Song

register = template.Library()


@register.simple_tag(takes_context=True)
def rating_of(context: template.Context, song: Song) -> int | None:
    """``Rating.LIKE``, ``Rating.DISLIKE`` or None: how the request user rated ``song``.

    Views that list songs may annotate them (``Song.objects.with_rating_for(user)``); any other page
    gets all of the person's ratings in one query per request, so a list of 50 songs never costs 50.
    """
    if hasattr(song, "user_rating"):
        return song.user_rating
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    ratings = getattr(request, "_musrec_ratings", None)
    if ratings is None:
        ratings = request._musrec_ratings = Rating.objects.values_for(request.user)
    return ratings.get(song.pk)
