from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from catalog.forms import form_errors_text
from catalog.htmx import HtmxHttpRequest, fragment_target, wants_fragment
from catalog.importer import Outcome, Provenance, import_file, publish_upload, retag_upload
from catalog.models import Playlist, Rating, Song
from catalog.song_filters import filters_context
from catalog.song_filters import filters_form as filters_form_for
from catalog.streaming import read_stored_file
from recommender import collaborative
from recommender.forms import PlaylistOptionsForm, SavePlaylistForm, UploadForm, UploadTagsForm
from recommender.jobs import queue_analysis
from recommender.models import Embedding
from recommender.uploads import UploadRefused, UploadUsage


def _get_upload_for_user(request: HttpRequest, pk: int) -> Song:
    """The request user's own upload, or 404: others' uploads do not exist for them."""
    return get_object_or_404(Song.objects.uploads_of(request.user).with_relations(), pk=pk)


def _uploads_rate(group: str, request: HttpRequest) -> str | None:
    # Read at each request (not at import), so a changed setting applies; None is no limit.
    return f"{settings.MUSREC_UPLOADS_PER_HOUR}/h" if settings.MUSREC_UPLOADS_PER_HOUR else None


@require_http_methods(["GET", "POST"])
@login_required
@ratelimit(key="user", rate=_uploads_rate, method="POST", block=False)
def upload(request: HttpRequest) -> HttpResponse:
    if request.limited:
        reason = f"Too many uploads: at most {settings.MUSREC_UPLOADS_PER_HOUR} an hour. Please try again later."
        return _refuse_upload(request, reason, status=429)
    try:
        # Bound on every POST, even an empty one, so that it says what is missing.
        form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
        valid = request.method == "POST" and form.is_valid()
    except RequestDataTooBig:
        return _refuse_upload(request, "The request is too large.")
    # SizeLimitUploadHandler stopped reading the file at the limit; nothing of it was kept.
    if getattr(request, "upload_too_large", False):
        return _refuse_upload(request, f"The file is larger than the {settings.MUSREC_UPLOAD_MAX_MB} MB limit.")
    if valid:
        try:
            song, error = _store_upload(request, form.cleaned_data["audio"])
        except UploadRefused as refused:
            return _refuse_upload(request, str(refused), status=refused.status)
        if song is not None:
            return redirect("recommender:upload_detail", pk=song.pk)
        form.add_error("audio", error)
    status = 400 if request.method == "POST" else 200
    return render(request, "recommender/upload.html", _upload_context(request, form), status=status)


def _refuse_upload(request: HttpRequest, reason: str, *, status: int = 413) -> HttpResponse:
    # An unbound form cannot carry errors (add_error needs cleaned_data), so the reason goes on its own.
    context = {**_upload_context(request, UploadForm()), "refusal": reason}
    return render(request, "recommender/upload.html", context, status=status)


def _upload_context(request: HttpRequest, form: UploadForm) -> dict[str, object]:
    return {
        "form": form,
        "uploads": Song.objects.uploads_of(request.user).order_by("-added_at")[:50],
        "max_mb": settings.MUSREC_UPLOAD_MAX_MB,
        "max_minutes": settings.MUSREC_UPLOAD_MAX_MINUTES,
        "min_seconds": settings.MUSREC_MIN_ANALYSIS_SECONDS,
        "usage": UploadUsage.of(request.user),
        "uploads_per_hour": settings.MUSREC_UPLOADS_PER_HOUR,
    }


def _store_upload(request: HttpRequest, uploaded) -> tuple[Song | None, str]:
    """Store an upload and queue its analysis: the song, or why the file cannot be used.

    Raises ``UploadRefused`` before anything is stored when the upload would pass one of the person's limits.
    """
    suffix = Path(uploaded.name).suffix.lower()
    with transaction.atomic():
        # The person's row stays locked from the check until their new song is in: two uploads of theirs at
        # once take turns, so both cannot fit in the same last megabytes of the quota. Others are not held up.
        get_user_model().objects.select_for_update().get(pk=request.user.pk)
        UploadUsage.of(request.user).check(adding_bytes=uploaded.size)
        with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
            for chunk in uploaded.chunks():
                handle.write(chunk)
            handle.flush()
            result = import_file(
                Path(handle.name),
                provenance=Provenance(source=f"Uploaded by {request.user.get_username()}"),
                max_duration=settings.MUSREC_UPLOAD_MAX_MINUTES * 60,
                # Read from the file's header in this request: the worker would refuse it anyway, minutes later.
                min_analysable=settings.MUSREC_MIN_ANALYSIS_SECONDS,
                owner=request.user,
                original_name=uploaded.name,
            )
    if result.outcome == Outcome.BROKEN:
        return None, f"This file cannot be used: {result.reason}."
    song = Song.objects.get(pk=result.song_id)
    if result.outcome == Outcome.IMPORTED:
        queue_analysis([song.pk])
    else:
        messages.info(request, "You uploaded this file before; here it is again.")
    return song, ""


@require_GET
@login_required
def upload_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _render_upload_detail(request, _get_upload_for_user(request, pk))


def _render_upload_detail(
    request: HtmxHttpRequest, song: Song, *, tags_form: UploadTagsForm | None = None, status: int = 200
) -> HttpResponse:
    n, genre = PlaylistOptionsForm(request.GET or None).options()
    filtering = filters_context(request.GET)
    # "recommendations": the list and its save form, which the size and genre menus reload (in the playlist piece).
    target = fragment_target(request, {"analysis", "playlist", "recommendations"})
    # The progress poll shows no playlist: a kNN query per poll would be wasted.
    playlist = (
        []
        if target == "analysis"
        else Embedding.objects.similar_songs(
            song,
            k=n,
            genre=genre,
            max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
            filters=filtering["filters"],
            viewer=request.user,
        )
    )
    embedding = Embedding.objects.of_song(song)
    Rating.objects.attach(request.user, playlist)
    context = {
        "song": song,
        # Shows the values in use: a bad size in the URL shows the default the list really has.
        "options": PlaylistOptionsForm(initial={"n": n, "genre": genre}),
        "n": n,
        "genre": genre,
        "playlist": playlist,
        "top_tags": embedding.top_tags(8) if embedding else [],
        "save_form": SavePlaylistForm(initial={"name": f"Like {song.title}", "n": n, "genre": genre}),
        "finished": song.analysis_status in (Song.Analysis.DONE, Song.Analysis.FAILED),
        "tags_form": tags_form or UploadTagsForm(song=song),
        **filtering,
    }
    if target:
        # The poll that sees the analysis finish also fetches the playlist, which was empty till now.
        context["load_playlist"] = target == "analysis"
        piece = "analysis" if target == "analysis" else "playlist"
        return render(request, f"recommender/upload_detail.html#{piece}", context)
    return render(request, "recommender/upload_detail.html", context, status=status)


@require_POST
@login_required
def upload_tags(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The owner corrects their upload's title, artist, album, track number and genres."""
    song = _get_upload_for_user(request, pk)
    form = UploadTagsForm(request.POST, song=song)
    if not form.is_valid():
        return _render_upload_detail(request, song, tags_form=form, status=400)
    retag_upload(song, **form.cleaned_data)
    messages.success(request, f"Saved the tags of “{song.title}”.")
    return redirect("recommender:upload_detail", pk=song.pk)


@require_GET
@login_required
def spectrogram(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user), pk=pk)
    response = HttpResponse(read_stored_file(song.spectrogram, what="spectrogram image"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_POST
@login_required
def upload_delete(request: HttpRequest, pk: int) -> HttpResponse:
    song = _get_upload_for_user(request, pk)
    title = song.title
    song.delete()
    messages.success(request, f"“{title}” was deleted.")
    return redirect("recommender:upload")


@require_POST
@login_required
def upload_share(request: HttpRequest, pk: int) -> HttpResponse:
    song = _get_upload_for_user(request, pk)
    if song.analysis_status != Song.Analysis.DONE:
        messages.error(request, "Only an analysed upload can be added to the catalogue.")
    elif Song.objects.catalogue().filter(content_hash=song.content_hash).exclude(pk=song.pk).exists():
        messages.info(request, "This recording is already in the catalogue.")
    else:
        publish_upload(song)
        messages.success(request, f"“{song.title}” is now in the catalogue for everyone.")
    return redirect("recommender:upload_detail", pk=song.pk)


@require_POST
@login_required
def save_playlist(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the playlist grown from song ``pk`` (an own upload or a catalogue song), recomputed on the server."""
    seed = get_object_or_404(Song.objects.visible_to(request.user), pk=pk)
    form, filters_form = SavePlaylistForm(request.POST), filters_form_for(request.POST)
    if not form.is_valid() or filters_form.errors:
        reasons = "; ".join(
            filter(None, [form_errors_text(form) if form.errors else "", *filters_form.error_messages()])
        )
        messages.error(request, f"The playlist was not saved: {reasons}")
        return redirect(_seed_url(seed))
    songs = Embedding.objects.similar_songs(
        seed,
        k=form.cleaned_data["n"],
        genre=form.cleaned_data["genre"],
        max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
        filters=filters_form.filters,
        viewer=request.user,
    )
    if not songs:
        messages.error(request, "There is nothing to save yet: the song has not been analysed.")
        return redirect(_seed_url(seed))
    playlist = Playlist.objects.create_with_songs(
        owner=request.user, name=form.cleaned_data["name"], songs=songs, seed=seed
    )
    messages.success(request, f"Saved “{playlist.name}” with {len(songs)} songs.")
    return redirect(playlist)


def _seed_url(seed: Song) -> str:
    if seed.owner_id and not seed.in_catalogue:
        return reverse("recommender:upload_detail", args=[seed.pk])
    return seed.get_absolute_url()


@require_GET
@login_required
def more_like_this(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Songs like ``pk``: the piece the song page loads into itself, or a whole page when opened by its address."""
    song = get_object_or_404(Song.objects.visible_to(request.user).select_related("artist", "album"), pk=pk)
    n, genre = PlaylistOptionsForm(request.GET or None).options()
    filtering = filters_context(request.GET)
    playlist = Embedding.objects.similar_songs(
        song,
        k=n,
        genre=genre,
        max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
        filters=filtering["filters"],
        viewer=request.user,
    )
    Rating.objects.attach(request.user, playlist)
    context = {
        **filtering,
        "song": song,
        "playlist": playlist,
        "options": PlaylistOptionsForm(initial={"n": n, "genre": genre}),
        "n": n,
        "genre": genre,
        "save_form": SavePlaylistForm(initial={"name": f"Like {song.title}", "n": n, "genre": genre}),
    }
    if wants_fragment(request):
        return render(request, "recommender/more_like_this.html#playlist", context)
    return render(request, "recommender/more_like_this.html", context)


@require_GET
@login_required
def listeners_also_played(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """What the listeners of ``pk`` also play: the piece the song page loads into itself (nothing at all when there is
    nothing to show), or a whole page when opened by its address."""
    song = get_object_or_404(Song.objects.visible_to(request.user).select_related("artist", "album"), pk=pk)
    playlist = collaborative.listeners_also_played(song, request.user)
    Rating.objects.attach(request.user, playlist)
    context = {"song": song, "playlist": playlist}
    if wants_fragment(request):
        return render(request, "recommender/listeners_also_played.html#section", context)
    return render(request, "recommender/listeners_also_played.html", context)


@require_GET
@login_required
def analysis_progress(request: HtmxHttpRequest) -> HttpResponse:
    """How far the catalogue's analysis has got (polled by the browse page, which shows it: opened by its address,
    the bar alone would be an unstyled scrap)."""
    if not wants_fragment(request):
        return redirect("catalog:song_list")
    counts = Song.objects.catalogue().analysis_counts()
    return render(request, "recommender/analysis_progress.html", {"counts": counts})
