from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context: template.Context) -> str:
    """The address of the page the browser shows, to come back to after adding a song.

    A fragment htmx fetched (search results, a swapped list, "More like this") has a URL of its own that
    is no page to return to: the page it went into is the one in HX-Current-URL. A boosted request is a
    whole page, whose own URL is the right one (HX-Current-URL still names the page being left).
    """
    request = context["request"]
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and htmx.current_url_abs_path:
        return htmx.current_url_abs_path
    return request.get_full_path()
