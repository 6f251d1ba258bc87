from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_safe
from django.views.decorators.vary import vary_on_headers

from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import MAX_QUERY_LENGTH, SORT_CHOICES, Genre, Rating, Song
from catalog.streaming import ranged_file_response, read_stored_file


def _text_param(request: HttpRequest, name: str) -> str:
    # PostgreSQL text cannot hold NUL, so a NUL in the URL would otherwise end in a 500.
    return request.GET.get(name, "").replace("\x00", "")


# The fragment and the full page share one URL (hx-push-url), so caches must tell them apart.
@vary_on_headers("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
@require_GET
@login_required
def song_list(request: HtmxHttpRequest) -> HttpResponse:
    query = _text_param(request, "q").strip()[:MAX_QUERY_LENGTH]
    sort = request.GET.get("sort", "")
    sort = sort if sort in SORT_CHOICES else ""
    genre = None
    if genre_slug := _text_param(request, "genre"):
        genre = Genre.objects.filter(slug=genre_slug).first()

    songs = Song.objects.catalogue().with_relations()
    if genre is not None:
        songs = songs.in_genre(genre)
    if query:
        songs = songs.search(query)
        # An explicit sort choice wins over relevance.
        if sort:
            songs = songs.sorted_by(sort)
    else:
        songs = songs.sorted_by(sort or "title")

    page = Paginator(songs, settings.MUSREC_PAGE_SIZE).get_page(request.GET.get("page"))
    Rating.objects.attach(request.user, page.object_list)
    context = {
        "page": page,
        "query": query,
        "sort": sort,
        "sort_choices": SORT_CHOICES,
        "genre": genre,
        "total_songs": Song.objects.catalogue().count(),
    }
    if wants_fragment(request):
        # Search as you type swaps the results only: the genre menu (a recursive count) is not redrawn.
        return render(request, "catalog/song_list.html#results", context)
    context["genres"] = Genre.objects.with_subtree_song_counts()
    return render(request, "catalog/song_list.html", context)


@require_GET
@login_required
def song_detail(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user).with_relations(), pk=pk)
    return render(request, "catalog/song_detail.html", {"song": song})


@require_safe
@login_required
def song_audio(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user), pk=pk)
    try:
        handle = song.audio.open("rb")
        size = song.audio.size
    except FileNotFoundError:
        raise Http404("The audio file of this song is missing.") from None
    response = ranged_file_response(request, handle, size, song.audio_content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@login_required
def song_licence(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user), pk=pk)
    text = read_stored_file(song.licence_file, what="licence file").decode("utf-8", errors="replace")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
