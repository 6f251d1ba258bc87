"""The Apps page: the API secret a Subsonic player signs in with, and how to set one up."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from subsonic.models import ApiSecret

# The new secret goes from the POST to the page through the session, once: the page is reached by a redirect, so
# reloading it neither shows the secret again nor sends the form again (which would replace the secret just copied).
NEW_SECRET_KEY = "subsonic:new-secret"


# never_cache: the page that shows a new secret must not be kept by any cache, nor shown again by "Back".
@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def apps(request: HttpRequest) -> HttpResponse:
    """GET shows whether a secret exists (and a new one, once); POST makes a new one or revokes it."""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            if ApiSecret.objects.revoke(request.user):
                messages.success(
                    request, "Your API secret was revoked: players signed in with it can no longer reach Musrec."
                )
        else:
            request.session[NEW_SECRET_KEY] = ApiSecret.objects.issue(request.user).secret
        return redirect("subsonic:apps")
    context = {
        "server_url": request.build_absolute_uri("/").rstrip("/"),
        "ping_url": request.build_absolute_uri(reverse("subsonic:rest", args=["ping.view"])),
        "current": ApiSecret.objects.filter(user=request.user).first(),
        "new_secret": request.session.pop(NEW_SECRET_KEY, None),
    }
    return render(request, "subsonic/apps.html", context)
