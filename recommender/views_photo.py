"""'A photo → music': songs whose mood matches a photo's colour and light (recommender/core/photo_mood.py).

A photo is read once, on upload; what is kept is its reading and a thumbnail (``recommender.photos``). The songs
are ranked at each visit, by ``describe_search.songs_described`` on the reading moved by the person's sliders
(``?brighter=&livelier=``), so a nudge re-ranks without sending the photo again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.decorators import ratelimit

from catalog.forms import form_errors_text
from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import Playlist, Rating
from recommender.core.photo_mood import MAX_PHOTO_BYTES, NUDGE_STEPS, PhotoError, nudge, read_photo
from recommender.describe_search import songs_described
from recommender.forms import PlaylistNameForm
from recommender.photos import Photo

PHOTO_TYPES = "image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"
# A person keeps at most this many photos, all listed on the photo page (so each can be deleted there).
MAX_PHOTOS = RECENT_PHOTOS = 48
# Reading a photo costs 0.1-0.5 s of a web process (docs/quality.md, "A photo → music"); people send a few.
PHOTOS_PER_HOUR = 60


def _get_photo_for_user(request: HttpRequest, pk: int) -> Photo:
    """The photo ``pk`` if it is the signed-in person's; a 404 otherwise, the same as for no such photo."""
    return get_object_or_404(Photo.objects.owned_by(request.user), pk=pk)


def _steps(value: str | None) -> int:
    try:
        return max(-NUDGE_STEPS, min(NUDGE_STEPS, int(value or 0)))
    except ValueError:
        return 0


def _photos_rate(group: str, request: HttpRequest) -> str:
    # Read at each request (not at import), so the limit can be changed in a running process and in tests.
    return f"{PHOTOS_PER_HOUR}/h"


@require_http_methods(["GET", "POST"])
@login_required
@ratelimit(key="user", rate=_photos_rate, method="POST", block=False)
def photo(request: HttpRequest) -> HttpResponse:
    """Send a photo (JPEG, PNG or WebP); its reading is kept and the person goes on to its songs."""
    if request.method == "GET":
        return _photo_page(request)
    if request.limited:
        reason = f"Too many photos: at most {PHOTOS_PER_HOUR} an hour. Please try again later."
        return _photo_page(request, reason, status=429)
    if Photo.objects.owned_by(request.user).count() >= MAX_PHOTOS:
        reason = f"You keep {MAX_PHOTOS} photos, the most Musrec keeps for one person: delete one to add another."
        return _photo_page(request, reason, status=400)
    uploaded = request.FILES.get("photo")
    # SizeLimitUploadHandler stopped reading the file at the limit (as the body was parsed, just above).
    if getattr(request, "upload_too_large", False):
        return _photo_page(request, f"The photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB.", status=413)
    if uploaded is None or not uploaded.size:
        return _photo_page(request, "Choose a photo to send: a JPEG, PNG or WebP picture.", status=400)
    if uploaded.size > MAX_PHOTO_BYTES:
        return _photo_page(request, f"The photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB.", status=413)
    try:
        mood, jpeg, width, height = read_photo(uploaded.read())
    except PhotoError as error:
        return _photo_page(request, str(error), status=400)
    created = Photo.objects.create(
        owner=request.user,
        thumbnail=jpeg,
        width=width,
        height=height,
        statistics=mood.statistics.as_dict(),
        valence=mood.valence,
        arousal=mood.arousal,
    )
    return redirect("recommender:photo_detail", pk=created.pk)


def _photo_page(request: HttpRequest, error: str | None = None, *, status: int = 200) -> HttpResponse:
    context = {
        "error": error,
        "photos": Photo.objects.owned_by(request.user).defer("thumbnail")[:RECENT_PHOTOS],
        "max_mb": MAX_PHOTO_BYTES // (1024 * 1024),
        "accept": PHOTO_TYPES,
    }
    return render(request, "recommender/photo.html", context, status=status)


# The fragment and the full page share one URL (hx-push-url), so caches must tell them apart.
@vary_on_headers("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
@require_GET
@login_required
def photo_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The photo, its palette and reading, the sliders, and the songs that match the reading as nudged."""
    item = _get_photo_for_user(request, pk)
    brighter, livelier = _steps(request.GET.get("brighter")), _steps(request.GET.get("livelier"))
    read = item.mood
    mood = nudge(read, brighter=brighter, livelier=livelier)
    query = mood.query()
    found = songs_described(query, request.user)
    Rating.objects.attach(request.user, found.songs)
    context = {
        "photo": item,
        "read": read,
        "mood": mood,
        "query": query,
        "found": found,
        "brighter": brighter,
        "livelier": livelier,
        "nudge_steps": NUDGE_STEPS,
        "save_form": PlaylistNameForm(initial={"name": f"From a photo: {', '.join(mood.music_words())}"[:100]}),
    }
    if wants_fragment(request):
        return render(request, "recommender/photo_detail.html#results", context)
    return render(request, "recommender/photo_detail.html", context)


@require_GET
@login_required
def photo_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_photo_for_user(request, pk)
    response = HttpResponse(bytes(item.thumbnail), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def photo_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the songs for the photo, as nudged, as a private playlist (ranked again here: the page may be old)."""
    item = _get_photo_for_user(request, pk)
    form = PlaylistNameForm(request.POST)
    back = redirect("recommender:photo_detail", pk=item.pk)
    if not form.is_valid():
        messages.error(request, f"The playlist was not saved: {form_errors_text(form)}")
        return back
    mood = nudge(
        item.mood, brighter=_steps(request.POST.get("brighter")), livelier=_steps(request.POST.get("livelier"))
    )
    songs = songs_described(mood.query(), request.user).songs
    if not songs:
        messages.error(request, "There is nothing to save: no analysed song matches this photo yet.")
        return back
    playlist = Playlist.objects.create_with_songs(
        owner=request.user, name=form.cleaned_data["name"], songs=songs, similarities=[song.match for song in songs]
    )
    messages.success(request, f"Saved “{playlist.name}” with {len(songs)} songs.")
    return redirect(playlist)


@require_POST
@login_required
def photo_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _get_photo_for_user(request, pk).delete()
    messages.success(request, "The photo and its reading were deleted.")
    return redirect("recommender:photo")
