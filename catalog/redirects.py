"""Where a form may send a person back to: only a page of this site, never one elsewhere (open redirects)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def same_site_url(request: HttpRequest, url: str) -> str:
    """``url`` when it leads to a page of this site (on HTTPS when the request came over HTTPS), else ""."""
    if "\x00" in url:
        return ""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return ""
