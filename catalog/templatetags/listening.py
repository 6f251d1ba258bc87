"""Template tags for the listening features: the request user's rating of a song on any page."""

from __future__ import annotations

from django import template

from catalog.models import Rating, Song

register = template.Library()


@register.simple_tag(takes_context=True)
def rating_of(context: template.Context, song: Song) -> int | None:
    """``Rating.LIKE``, ``Rating.DISLIKE`` or None: how the request user rated ``song``.

    Views that list songs give them their ratings in one query (``Rating.objects.attach``); a song shown on
    its own (a song page, the player bar) costs one small query here.
    """
    if not hasattr(song, "user_rating"):
        request = context.get("request")
        if request is None or not request.user.is_authenticated:
            return None
        Rating.objects.attach(request.user, [song])
    return song.user_rating
