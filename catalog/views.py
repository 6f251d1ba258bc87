from __future__ import annotations

import hashlib
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_safe
from django.views.decorators.vary import vary_on_headers

from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import (
    MAX_QUERY_LENGTH,
    SORT_CHOICES,
    Genre,
    Rating,
    Song,
    SongQuerySet,
    catalogue_generation,
    catalogue_song_count,
    genre_menu,
)
from catalog.song_filters import filters_context
from catalog.stream_links import StreamLinkRefused, stream_link_holder
from catalog.streaming import accel_redirect_response, audio_file_response, read_stored_file
from catalog.views_playlists import get_shared_playlist

CATALOGUE_PAGE_SECONDS = 60


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

    filtering = filters_context(request.GET)
    filters = filtering["filters"]
    songs = Song.objects.catalogue().with_relations()
    if genre is not None:
        songs = songs.in_genre(genre)
    if filters:
        songs = songs.matching(filters)
    if query:
        songs = songs.search(query)
        # An explicit sort choice wins over relevance.
        if sort:
            songs = songs.sorted_by(sort)
    else:
        songs = songs.sorted_by(sort or "title")

    asked = (query, genre.pk if genre else None, sort, sorted(filters.as_params().items()))
    page = _catalogue_page(songs, request.GET.get("page"), asked=asked)
    Rating.objects.attach(request.user, page.object_list)
    context = {
        "page": page,
        "query": query,
        "sort": sort,
        "sort_options": _sort_options(query, sort),
        "genre": genre,
        "total_songs": catalogue_song_count(),
        **filtering,
    }
    if wants_fragment(request):
        # Search as you type swaps the results only: the genre menu is not redrawn, the sort menu's choices are.
        context["sort_menu_follows"] = True
        return render(request, "catalog/song_list.html#results", context)
    context["genres"] = genre_menu()
    return render(request, "catalog/song_list.html", context)


def _sort_options(query: str, sort: str) -> list[tuple[str, str, bool]]:
    """The sort menu: ``(value, label, chosen)``. The first choice, "", is the order of the list when none is chosen:
    by best match while searching, else by title, and then "Title (A–Z)" is not offered a second time."""
    default = "Best match" if query else SORT_CHOICES["title"]
    choices = [("", default), *((key, label) for key, label in SORT_CHOICES.items() if query or key != "title")]
    chosen = sort if query or sort != "title" else ""
    return [(value, label, value == chosen) for value, label in choices]


def _catalogue_page(songs: SongQuerySet, number: str | None, *, asked: tuple[object, ...]) -> Page:
    """The page ``number`` of ``songs``, a catalogue list that ``asked`` (query, genre, sort) defines.

    Search as you type asks for the same first pages over and over ("wes", "wesn"), and the answer is the same for
    everyone (catalogue songs only; each person's ratings are added afterwards): the count and the page's song ids
    are kept in the cache, under the catalogue's generation, for a minute. A page found there costs one query for
    its songs instead of counting and ranking the matches again (docs/benchmarks.md, "Load").
    """
    paginator = Paginator(songs, settings.MUSREC_PAGE_SIZE)
    asked_for = repr((catalogue_generation(), settings.MUSREC_PAGE_SIZE, number, *asked))
    key = "catalogue:page:" + hashlib.sha256(asked_for.encode()).hexdigest()
    if (found := cache.get(key)) is None:
        page = paginator.get_page(number)
        cache.set(key, (paginator.count, page.number, [song.pk for song in page.object_list]), CATALOGUE_PAGE_SECONDS)
        return page
    paginator.count, number, ids = found
    by_id = Song.objects.with_relations().in_bulk(ids)
    return Page([by_id[pk] for pk in ids if pk in by_id], number, paginator)


@require_GET
@login_required
def song_detail(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user).with_relations(), pk=pk)
    return render(request, "catalog/song_detail.html", {"song": song})


@require_safe
def song_audio(request: HttpRequest, pk: int) -> HttpResponse:
    """A song's audio for the person signed in, or for a player holding an exported playlist's link (``key``)."""
    if "key" in request.GET:
        # A stream link (catalog.stream_links) plays without a session, as its signer may: never more.
        try:
            listener = stream_link_holder(request.GET["key"], pk)
        except StreamLinkRefused as refused:
            # In words, for whoever opens the link in a browser; a player only needs the status.
            return HttpResponseForbidden(f"{refused}\n", content_type="text/plain; charset=utf-8")
    elif request.user.is_authenticated:
        listener = request.user
    else:
        return redirect_to_login(request.get_full_path())
    song = get_object_or_404(Song.objects.visible_to(listener), pk=pk)
    return _stream(request, song, listener=listener.pk)


@require_safe
def shared_song_audio(request: HttpRequest, token: UUID, pk: int) -> HttpResponse:
    """A song of a shared playlist, for anyone holding its link: only while it is shared, only its catalogue songs."""
    playlist = get_shared_playlist(token)
    song = get_object_or_404(Song.objects.catalogue().filter(pk__in=playlist.items.values("song_id")), pk=pk)
    # A visitor's streams are counted per share and address: there is no one else to count them for, and behind a
    # reverse proxy every visitor has the proxy's address, so a count per address alone would make all visitors of
    # all shared playlists share one handful of streams.
    address = request.META.get("REMOTE_ADDR", "")
    listener = request.user.pk if request.user.is_authenticated else f"share:{token}:address:{address}"
    return _stream(request, song, listener=listener)


def _stream(request: HttpRequest, song: Song, *, listener: int | str) -> HttpResponse:
    if prefix := settings.MUSREC_ACCEL_REDIRECT_PREFIX:
        # nginx sends the file (ranges, slow listeners); Django has checked that this person may have it.
        response = accel_redirect_response(prefix, song.audio.name, song.audio_content_type)
    else:
        response = audio_file_response(request, song.audio, song.audio_content_type, listener=listener)
    response.setdefault("Cache-Control", "private, max-age=3600")
    return response


@require_GET
@login_required
def song_licence(request: HttpRequest, pk: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.visible_to(request.user), pk=pk)
    text = read_stored_file(song.licence_file, what="licence file").decode("utf-8", errors="replace")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
