"""Listening: recording plays from the player, the history page, likes and dislikes, the liked songs page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from catalog.forms import PlayForm
from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import InvalidPlay, Play, Rating, Song
from catalog.redirects import same_site_url

# What the like/dislike buttons post; "clear" is sent by pressing the button that is already pressed.
RATING_ACTIONS: dict[str, int | None] = {"like": Rating.LIKE, "dislike": Rating.DISLIKE, "clear": None}


def _get_song_for_user(request: HttpRequest, pk: int) -> Song:
    """A song the request user may hear (the catalogue or their own upload), or 404: others' uploads do not exist."""
    return get_object_or_404(Song.objects.visible_to(request.user).select_related("artist"), pk=pk)


def _get_play_for_user(request: HttpRequest, pk: int) -> Play:
    """One play of the request user's own history, or 404: another person's plays do not exist for them."""
    return get_object_or_404(Play.objects.for_user(request.user), pk=pk)


def _redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page the form was on (forms without JavaScript), if it is on this site."""
    return redirect(same_site_url(request, request.META.get("HTTP_REFERER", "")) or fallback)


def _bad_request(form: forms.Form) -> HttpResponse:
    reasons = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
    return HttpResponseBadRequest(f"Not recorded. {reasons}", content_type="text/plain; charset=utf-8")


def _plays_rate(group: str, request: HttpRequest) -> str | None:
    # Read at each request (not at import), so a changed setting applies; None is no limit.
    return f"{settings.MUSREC_PLAYS_PER_MINUTE}/m" if settings.MUSREC_PLAYS_PER_MINUTE else None


@require_POST
@login_required
@ratelimit(key="user", rate=_plays_rate, block=False)
def play_record(request: HttpRequest) -> HttpResponse:
    """One play reported by the player (often a beacon as the page goes away): 204, 400 saying what is wrong,
    or 429 past ``MUSREC_PLAYS_PER_MINUTE`` (a script, not a listener: the player reports one play a song)."""
    if request.limited:
        return HttpResponse(
            f"Not recorded: more than {settings.MUSREC_PLAYS_PER_MINUTE} plays a minute.",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
    form = PlayForm(request.POST)
    if not form.is_valid():
        return _bad_request(form)
    song = _get_song_for_user(request, form.cleaned_data["song"])
    try:
        Play.objects.record(
            request.user, song, seconds_listened=form.cleaned_data["seconds"], reached_end=form.cleaned_data["ended"]
        )
    except InvalidPlay as error:
        return HttpResponseBadRequest(f"Not recorded. seconds: {error}", content_type="text/plain; charset=utf-8")
    return HttpResponse(status=204)


@require_GET
@login_required
def history(request: HttpRequest) -> HttpResponse:
    plays = Play.objects.for_user(request.user).select_related("song__artist", "song__album")
    page = Paginator(plays, settings.MUSREC_PAGE_SIZE).get_page(request.GET.get("page"))
    Rating.objects.attach(request.user, [play.song for play in page.object_list])
    return render(request, "catalog/history.html", {"page": page})


@require_POST
@login_required
def history_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    play = _get_play_for_user(request, pk)
    title = play.song.title
    play.delete()
    if wants_fragment(request):
        # The row asked for its own removal: an empty answer swaps it out.
        return HttpResponse("")
    messages.success(request, f"Removed “{title}” from your history.")
    return _redirect_back(request, reverse("catalog:history"))


@require_POST
@login_required
def history_clear(request: HttpRequest) -> HttpResponse:
    count = Play.objects.clear_history(request.user)
    messages.success(request, f"Cleared your history ({count} play{'' if count == 1 else 's'}).")
    return redirect("catalog:history")


@require_POST
@login_required
def song_rate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Like, dislike or clear (``value``); htmx gets the buttons back, a plain form goes back to its page."""
    song = _get_song_for_user(request, pk)
    action = request.POST.get("value", "")
    if action not in RATING_ACTIONS:
        return HttpResponseBadRequest(
            "Not rated. value: must be like, dislike or clear.", content_type="text/plain; charset=utf-8"
        )
    value = RATING_ACTIONS[action]
    if value is None:
        Rating.objects.clear(request.user, song)
    else:
        Rating.objects.rate(request.user, song, value)
    song.user_rating = value
    if wants_fragment(request):
        return render(request, "catalog/_rate.html", {"song": song, "in_player": request.POST.get("in") == "player"})
    return _redirect_back(request, song.get_absolute_url())


@require_GET
@login_required
def song_rating_buttons(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The like/dislike buttons of one song, for the player bar to show beside the song it plays.

    Opened by its address, the buttons alone would be an unstyled scrap: the song's page shows them instead.
    """
    song = _get_song_for_user(request, pk)
    if not wants_fragment(request):
        return redirect(song)
    return render(request, "catalog/_rate.html", {"song": song, "in_player": True})


@require_GET
@login_required
def liked(request: HttpRequest) -> HttpResponse:
    likes = Rating.objects.liked_by(request.user).select_related("song__artist", "song__album")
    page = Paginator(likes, settings.MUSREC_PAGE_SIZE).get_page(request.GET.get("page"))
    for rating in page.object_list:
        rating.song.user_rating = rating.value
    return render(request, "catalog/liked.html", {"page": page})
