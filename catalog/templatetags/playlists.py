from __future__ import annotations

from django import template

from catalog.htmx import wants_fragment

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context: template.Context) -> str:
    """The address of the page the browser shows, to come back to after adding a song.

    A fragment htmx fetched (search results, a swapped list, "More like this") has a URL of its own that
    is no page to return to: the page it went into is the one in HX-Current-URL. A whole page (a boosted
    request among them) has its own URL, the right one (HX-Current-URL still names the page being left).
    """
    request = context["request"]
    if wants_fragment(request) and request.htmx.current_url_abs_path:
        return request.htmx.current_url_abs_path
    return request.get_full_path()
