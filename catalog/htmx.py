"""The one place that decides whether a request wants a piece of a page or a whole page.

Signed in, links and forms are boosted (hx-boost on <body>): their answers are whole pages, of which the player
swaps in #page so the music goes on. On a history cache miss htmx reloads the URL with HX-Request set and swaps
the answer into <body>, so that too must be a whole page. Only the rest, an element that asked with hx-get or
hx-post for its own refresh, gets a fragment.
"""

from __future__ import annotations

from collections.abc import Collection

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (the type django-htmx's example project uses)."""

    htmx: HtmxDetails


def wants_fragment(request: HtmxHttpRequest) -> bool:
    """Whether htmx asked for a piece of a page: neither a boosted link or form nor a history restore."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def fragment_target(request: HtmxHttpRequest, allowed: Collection[str]) -> str | None:
    """The id of the element a fragment request asks to refresh, if it is one of ``allowed``; None: a whole page."""
    if not wants_fragment(request):
        return None
    target = request.htmx.target
    return target if target in allowed else None
