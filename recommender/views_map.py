"""The map of the catalogue (issue 13 §3): the page, its points, the songs under the pointer, a selection saved.

The points are the stored map (``recommender.catalogue_map``, made by the worker): catalogue songs only, so
nobody's private upload is ever on the map, nor counted on it.
"""

from __future__ import annotations

import json

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_POST

from catalog.forms import PLAYLIST_NAME_ERRORS, PlaylistNameField
from catalog.models import Playlist, Rating, Song
from recommender.catalogue_map import MAP_COLOURS, CatalogueMap, MapPoint
from recommender.core.catalogue_map import map_points_body
from recommender.models import active_model_key
from recommender.views_catalogue import queue_track

# Coordinates travel as whole numbers from 0 to GRID: 100,000 points make a few hundred kilobytes gzipped
# (docs/benchmarks.md, "The catalogue map"), and a 10,000-step grid is finer than any screen.
GRID = 10_000
# At most this many songs are described per request (a hover asks for one; the selection list for its first few).
MAX_TRACKS = 50
# At most this many songs make one playlist from a selection.
MAX_SELECTION = 500
# The colours of the legend, then "Other genres"; songs without a genre are grey. Set here so that the page's
# legend and the canvas agree.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]
NO_GENRE_COLOUR = "#b8b8c8"


@require_GET
@login_required
def catalogue_map(request: HttpRequest) -> HttpResponse:
    """The map page: a canvas the script fills from ``map_points``, its legend, and a form for the selection."""
    model = active_model_key()
    stored = CatalogueMap.objects.filter(model=model).first()
    legend = list(zip(stored.legend, PALETTE, strict=False)) if stored else []
    context = {
        "stored": stored,
        "shown": MapPoint.objects.shown(model).count() if stored else 0,
        "legend": legend,
        "no_genre_colour": NO_GENRE_COLOUR,
        "palette": json.dumps([*PALETTE[: MAP_COLOURS + 1]]),
        "max_selection": MAX_SELECTION,
        "default_name": f"From the map, {timezone.localdate():%-d %b %Y}",
    }
    return render(request, "recommender/map.html", context)


# Gzipped, 100,000 points are 0.67 MB instead of 1.9 (docs/benchmarks.md). The body reflects nothing a request
# sends, so compressing it gives BREACH nothing to guess at.
@gzip_page
@require_GET
@login_required
def map_points(request: HttpRequest) -> HttpResponse:
    """Every point of the map, as parallel lists: ``ids``, ``x`` and ``y`` (0 to ``grid``, y down), ``colour``
    (an index into ``palette``, -1 for none), and the ids of the person's liked songs that are on it."""
    model = active_model_key()
    rows = MapPoint.objects.shown(model).order_by("song_id").values_list("song_id", "x", "y", "colour")
    table = np.array(list(rows.iterator(chunk_size=10_000)), dtype=np.float64).reshape(-1, 4)
    on_map = Rating.objects.liked_by(request.user).filter(song__in_catalogue=True, song__map_points__model=model)
    body = map_points_body(
        table[:, 0], table[:, 1:3], table[:, 3], liked=list(on_map.values_list("song_id", flat=True)), grid=GRID
    )
    return HttpResponse(json.dumps(body, separators=(",", ":")), content_type="application/json")


def _song_ids(text: str, limit: int) -> list[int] | None:
    """Song ids from "1,2,3", each once, in order; None when it is not such a list or names more than ``limit``."""
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) > limit:
        return None
    try:
        ids = [int(part) for part in parts]
    except ValueError:
        return None
    if any(pk < 1 or pk > 2**63 - 1 for pk in ids):
        return None
    return list(dict.fromkeys(ids))


@require_GET
@login_required
def map_tracks(request: HttpRequest) -> JsonResponse:
    """The songs ``?ids=`` names that are on the map, as the player queues them: what a hover or a click needs."""
    ids = _song_ids(request.GET.get("ids", ""), MAX_TRACKS)
    if ids is None:
        return JsonResponse({"error": f"Ask for at most {MAX_TRACKS} songs, by id."}, status=400)
    songs = Song.objects.catalogue().filter(pk__in=ids, map_points__model=active_model_key())
    by_id = songs.select_related("artist", "album").in_bulk()
    return JsonResponse({"tracks": [queue_track(by_id[pk]) for pk in ids if pk in by_id]})


@require_POST
@login_required
def map_playlist(request: HttpRequest) -> HttpResponse:
    """A new playlist of the songs selected on the map (``songs``: their ids, at most ``MAX_SELECTION``)."""
    field = PlaylistNameField(error_messages=PLAYLIST_NAME_ERRORS)
    try:
        name = " ".join(field.clean(request.POST.get("name", "")).split())
    except ValidationError as error:
        name = ""
        problem = " ".join(error.messages)
    else:
        problem = "" if name else "A playlist needs a name."

    ids = _song_ids(request.POST.get("songs", ""), MAX_SELECTION)
    if ids is None:
        return HttpResponseBadRequest(f"Select at most {MAX_SELECTION} songs on the map.")
    if not ids:
        messages.error(request, "No playlist was made: select some songs on the map first.")
        return redirect("recommender:map")
    on_map = Song.objects.catalogue().filter(pk__in=ids, map_points__model=active_model_key())
    found = on_map.in_bulk()
    if len(found) != len(ids):
        # An id not on the map: someone's private upload, a deleted song, or a made-up number. Nothing is made.
        return HttpResponseBadRequest("Some of the selected songs are not on the map.")
    if problem:
        messages.error(request, f"No playlist was made: {problem}")
        return redirect("recommender:map")
    playlist = Playlist.objects.create_with_songs(
        owner=request.user, name=name, songs=[found[pk] for pk in ids], similarities=[None] * len(ids)
    )
    messages.success(request, f"Saved “{playlist.name}” with {len(ids)} songs from the map.")
    return redirect(playlist)
