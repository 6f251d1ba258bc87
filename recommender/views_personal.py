"""Personal recommendations: For you (and starting out), extending a playlist, a path from A to B.

Every view reads only the request user's own data; songs come from ``Song.objects.visible_to(user)`` when
the person names them and from the catalogue when Musrec suggests them (``recommender.personal``).
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from catalog.forms import PLAYLIST_NAME_MAX_LENGTH, form_errors_text
from catalog.htmx import HtmxHttpRequest, fragment_target
from catalog.models import Playlist, Rating, Song
from catalog.song_filters import filters_context
from catalog.song_filters import filters_form as filters_form_for
from catalog.views_playlists import get_playlist_for_user
from recommender import personal
from recommender.core import paths
from recommender.core.vectors import percentile_among_pairs
from recommender.forms import ExtendForm, PathForm, PathSaveForm, PlaylistNameForm, StartForm
from recommender.models import similarity_scale

PICKER_RESULTS = 8
CHART_WIDTH, CHART_HEIGHT, CHART_PAD, CHART_LEFT, CHART_BOTTOM = 600, 170, 12, 44, 28


# --- For you -----------------------------------------------------------------------------------------------


@require_GET
@login_required
def for_you(request: HtmxHttpRequest) -> HttpResponse:
    if fragment_target(request, {"for-you"}):
        return render(request, "recommender/for_you.html#recommendations", _recommendations_context(request))
    return render(request, "recommender/for_you.html", _for_you_context(request))


def _recommendations_context(request: HttpRequest) -> dict[str, object]:
    filtering = filters_context(request.GET)
    recommendations = personal.for_you(request.user, filters=filtering["filters"])
    Rating.objects.attach(request.user, recommendations.songs)
    return {
        **filtering,
        "songs": recommendations.songs,
        "centres": recommendations.centres,
        "save_form": PlaylistNameForm(initial={"name": "For you"}),
    }


def _for_you_context(request: HttpRequest, start_form: StartForm | None = None) -> dict[str, object]:
    """The list and, below it, what a person starting out chooses from (their current genres ticked)."""
    genres = personal.starter_genres()
    if start_form is None:
        favourites = [g.slug for g in request.user.favourite_genres.all()]
        start_form = StartForm(genres=genres, initial={"genres": favourites})
    chosen_genres = {str(v) for v in start_form["genres"].value() or []}
    chosen_songs = {str(v) for v in start_form["songs"].value() or []}
    sample = personal.starter_songs()
    Rating.objects.attach(request.user, sample)
    return {
        **_recommendations_context(request),
        "start_form": start_form,
        "genres": [(g, g.slug in chosen_genres) for g in genres],
        "sample": [(s, str(s.pk) in chosen_songs) for s in sample],
    }


@require_POST
@login_required
def for_you_start(request: HttpRequest) -> HttpResponse:
    """A person starting out says what they like: genres and/or songs; recommendations follow at once."""
    form = StartForm(request.POST, genres=personal.starter_genres())
    if not form.is_valid():
        return render(request, "recommender/for_you.html", _for_you_context(request, form), status=400)
    personal.start(request.user, genres=form.cleaned_data["genres"], songs=form.cleaned_data["songs"])
    messages.success(request, "Thanks! Here is what Musrec suggests; every like and play sharpens it.")
    return redirect("recommender:for_you")


@require_POST
@login_required
def for_you_save(request: HttpRequest) -> HttpResponse:
    """Save For you as it is now (recomputed here: the page may be old, the list must be the person's)."""
    form, filters_form = PlaylistNameForm(request.POST), filters_form_for(request.POST)
    if not form.is_valid() or filters_form.errors:
        reasons = "; ".join(
            filter(None, [form_errors_text(form) if form.errors else "", *filters_form.error_messages()])
        )
        messages.error(request, f"The playlist was not saved: {reasons}")
        return redirect("recommender:for_you")
    songs = personal.for_you(request.user, filters=filters_form.filters).songs
    if not songs:
        messages.error(request, "There is nothing to save yet: like a few songs first.")
        return redirect("recommender:for_you")
    playlist = Playlist.objects.create_with_songs(owner=request.user, name=form.cleaned_data["name"], songs=songs)
    messages.success(request, f"Saved “{playlist.name}” with {len(songs)} songs.")
    return redirect(playlist)


# --- Extend a playlist -------------------------------------------------------------------------------------


@require_POST
@login_required
def extend_playlist(request: HttpRequest, pk: int) -> HttpResponse:
    playlist = get_playlist_for_user(request, pk)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The playlist was not extended: {form_errors_text(form)}")
        return redirect(playlist)
    try:
        extension = personal.extend_playlist(playlist, n=form.cleaned_data["n"])
    except personal.PersonalError as error:
        messages.error(request, str(error))
        return redirect(playlist)
    added, asked = len(extension.songs), extension.asked
    # Which side spoke: the blend with what people play together (recommender.hybrid) names its share.
    together = sum(1 for song in extension.songs if getattr(song, "side", "audio") == "together")
    if together == added and added:
        because = f": people who play its songs also play {'it' if added == 1 else 'them'}"
    elif together:
        them = "it" if together == 1 else "them"
        because = f", {together} of them because people who play its songs also play {them}"
    else:
        because = ""
    if added == asked or (added and not extension.shortfall):
        messages.success(request, f"Added {added} song{'s' if added != 1 else ''} like this playlist{because}.")
    elif added:
        messages.info(request, f"Added {added} of the {asked} songs asked for: {extension.shortfall}.")
    else:
        messages.info(request, f"No songs were added: {extension.shortfall or 'none like these are left'}.")
    return redirect(playlist)


# --- A path from A to B ------------------------------------------------------------------------------------


@require_GET
@login_required
def path_between_songs(request: HtmxHttpRequest) -> HttpResponse:
    """Choose A and B (search pickers, with htmx or plain GET), see the path, save it."""
    form = PathForm(request.GET or None, user=request.user)
    valid = form.is_valid() if form.is_bound else True
    context: dict[str, object] = {"form": form, "min_steps": paths.MIN_STEPS, "max_steps": paths.MAX_STEPS}
    context["pickers"] = [
        _picker(request, form, "from", "Start at"),
        _picker(request, form, "to", "End at"),
    ]
    status = 200 if valid else 400
    result = None
    if form.is_bound and form.complete():
        try:
            result = personal.path_between(
                form.cleaned_data["from"], form.cleaned_data["to"], steps=form.cleaned_data["n"], user=request.user
            )
        except personal.PersonalError as error:
            form.add_error(None, str(error))
            status = 400
    if result:
        Rating.objects.attach(request.user, result.songs)
    context["result"] = result
    context["chart"] = _chart(result) if result else None
    if result:
        start, goal = result.songs[0], result.songs[-1]
        context["save_form"] = PathSaveForm(
            initial={"name": f"From {start.title} to {goal.title}"[:PLAYLIST_NAME_MAX_LENGTH]}, user=request.user
        )
    target = fragment_target(request, {"pick-from", "pick-to"})
    if target:
        picker = next(p for p in context["pickers"] if p["id"] == target)
        return render(request, "recommender/path.html#picker", {**context, "picker": picker}, status=status)
    return render(request, "recommender/path.html", context, status=status)


def _picker(request: HttpRequest, form: PathForm, side: str, label: str) -> dict[str, object]:
    """One end's chooser: the song chosen (if valid) and what the search box found."""
    chosen = form.cleaned_data.get(side) if form.is_bound and hasattr(form, "cleaned_data") else None
    query = request.GET.get(f"find_{side}", "").replace("\x00", "")[:200]
    found = []
    if query.strip():
        found = list(
            Song.objects.visible_to(request.user)
            .analysed()
            .search(query)
            .select_related("artist", "album")[:PICKER_RESULTS]
        )
    options = ([chosen] if chosen else []) + [s for s in found if not chosen or s.pk != chosen.pk]
    return {
        "side": side,
        "id": f"pick-{side}",
        "label": label,
        "query": query,
        "chosen": chosen,
        "options": options,
        "errors": form.errors.get(side, []) if form.is_bound else [],
    }


def _chart(result: personal.SongPath) -> dict[str, object]:
    """Two lines over the path's songs, match to A and to B, as SVG points; the picture tells the story.

    The match is the one the list beside it shows (``{% match %}``): the share of pairs of catalogue songs less
    alike, so the axis never goes below 0 %, whatever the cosines.
    """
    songs = result.songs
    scale = similarity_scale()

    def share(similarity: float) -> float:
        if scale is None:
            return min(max(similarity, 0.0), 1.0)
        return percentile_among_pairs(similarity, scale) / 100

    to_start, to_goal = [share(s.to_start) for s in songs], [share(s.to_goal) for s in songs]
    # The axis starts at the tenth below the least match, so the lines use the height they are given.
    low = min(0.9, max(0.0, math.floor(min(to_start + to_goal) * 10) / 10))
    left, right, top, bottom = CHART_LEFT, CHART_WIDTH - CHART_PAD, CHART_PAD, CHART_HEIGHT - CHART_BOTTOM

    def point(i: int, value: float) -> str:
        x = left + (right - left) * i / max(len(songs) - 1, 1)
        y = top + (bottom - top) * (1 - (value - low) / (1 - low))
        return f"{x:.1f},{y:.1f}"

    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "low": round(100 * low),
        "to_start": " ".join(point(i, value) for i, value in enumerate(to_start)),
        "to_goal": " ".join(point(i, value) for i, value in enumerate(to_goal)),
    }


@require_POST
@login_required
def save_path(request: HttpRequest) -> HttpResponse:
    form = PathSaveForm(request.POST, user=request.user)
    if not form.complete():
        messages.error(request, f"The path was not saved: {form_errors_text(form) or 'choose both ends'}")
        return redirect("recommender:path")
    start, goal = form.cleaned_data["from"], form.cleaned_data["to"]
    try:
        result = personal.path_between(start, goal, steps=form.cleaned_data["n"], user=request.user)
    except personal.PersonalError as error:
        messages.error(request, f"The path was not saved: {error}")
        return redirect("recommender:path")
    playlist = Playlist.objects.create_with_songs(
        owner=request.user,
        name=form.cleaned_data["name"],
        songs=result.songs,
        similarities=[s.to_start for s in result.songs],
        seed=start,
    )
    messages.success(request, f"Saved “{playlist.name}” with {len(result.songs)} songs.")
    return redirect(playlist)
