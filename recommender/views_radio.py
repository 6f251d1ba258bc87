"""Radio (issue 11 §3): the player asks here for the next songs whenever its queue is about to run out.

The answer is JSON for the player: the station's name and the songs, each as the player queues it with the reason it
was picked. Without JavaScript, "Start radio" is a link to the songs like the song, artist or album instead.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from catalog.song_filters import filters_form as filters_form_for
from recommender import radio
from recommender.forms import RadioForm
from recommender.views_catalogue import queue_track

# A listener asks once a song or on a skip; a few a second is a script.
RADIO_RATE = "120/m"


@require_POST
@login_required
@ratelimit(key="user", rate=RADIO_RATE, block=False)
def radio_next(request: HttpRequest) -> JsonResponse:
    """The next songs of a radio: 200 ``{"station", "tracks": [...]}``, 400 ``{"error"}`` saying what is wrong, 404
    for a start the person cannot see, 429 for a script."""
    if request.limited:
        return JsonResponse({"error": "Too many radio requests: wait a minute."}, status=429)
    form = RadioForm(request.POST)
    # The station's filters (tempo_min, tempo_max, energy, mood), as the button that started it gave them.
    filters_form = filters_form_for(request.POST)
    if not form.is_valid() or filters_form.errors:
        reasons = "; ".join([*(" ".join(errors) for errors in form.errors.values()), *filters_form.error_messages()])
        return JsonResponse({"error": f"The radio cannot go on: {reasons}"}, status=400)
    data = form.cleaned_data
    try:
        station = radio.station(request.user, data["kind"], data["id"])
        songs = radio.next_songs(
            request.user,
            station,
            data["heard"],
            queued=data["queued"],
            k=data["count"],
            filters=filters_form.filters,
        )
    except radio.RadioError as error:
        return JsonResponse({"error": str(error)}, status=400)
    tracks = [queue_track(song) | {"reason": song.reason, "radio": True} for song in songs]
    return JsonResponse({"station": f"Radio: {station.name}", "tracks": tracks})
