"""Artist and album pages, songs like an artist or an album, and songs' covers (issue 11 §4).

Every page shows only what the viewer may see: catalogue songs and their own uploads. An artist or an album
with nothing the viewer may see does not exist for them (404), and someone's private upload is never listed,
counted, or mixed into a similarity.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Sum
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_safe

from catalog.htmx import HtmxHttpRequest, wants_fragment
from catalog.models import MAX_PLAYLIST_SONGS, UNKNOWN_ARTIST, Album, Artist, Rating, Song, SongQuerySet
from catalog.models.music import song_url
from catalog.views_artwork import cover_response
from recommender import hybrid
from recommender.artwork import drawn_cover, drawn_cover_token, song_cover_url
from recommender.core.cover_files import COVER_SIZES
from recommender.forms import PlaylistOptionsForm
from recommender.models import Embedding
from recommender.similar_artists import centroid_for_viewer, similar_albums, similar_artists

# The cover sizes the player and Media Session are given with each song of a queue.
QUEUE_COVER_SIZE, ARTWORK_SIZE = 128, 512


def _songs_of(request: HttpRequest, **lookup: object) -> SongQuerySet:
    return Song.objects.visible_to(request.user).filter(**lookup)


def _get_artist_for_user(request: HttpRequest, pk: int) -> tuple[Artist, SongQuerySet]:
    """The artist and their songs the request user may see; 404 when they may see none."""
    artist = get_object_or_404(Artist, pk=pk)
    songs = _songs_of(request, artist=artist)
    if not songs.exists():
        raise Http404("No such artist")
    return artist, songs


def _get_album_for_user(request: HttpRequest, pk: int) -> tuple[Album, SongQuerySet]:
    album = get_object_or_404(Album.objects.select_related("artist"), pk=pk)
    songs = _songs_of(request, album=album)
    if not songs.exists():
        raise Http404("No such album")
    return album, songs


def _in_album_order(songs: SongQuerySet) -> SongQuerySet:
    return songs.order_by(
        Lower("album__title").asc(nulls_last=True),
        "album_id",
        F("track_number").asc(nulls_last=True),
        Lower("title"),
        "pk",
    )


def _songs_page(request: HttpRequest, songs: SongQuerySet):
    page = Paginator(songs.with_relations(), settings.MUSREC_PAGE_SIZE).get_page(request.GET.get("page"))
    Rating.objects.attach(request.user, page.object_list)
    return page


def _totals(songs: SongQuerySet) -> dict[str, object]:
    totals = songs.aggregate(count=Count("pk"), seconds=Sum("duration"))
    return {"song_count": totals["count"], "length": _length_label(round(totals["seconds"] or 0))}


def _length_label(seconds: int) -> str:
    """How long an artist's or album's songs last together: "42 s", "37 min", "1 h 05 min"."""
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


MAX_ALBUMS_SHOWN = 48


@require_GET
@login_required
def artist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artist, songs = _get_artist_for_user(request, pk)
    ordered = _in_album_order(songs)
    # Their albums, each with how many of its songs by this artist the viewer may see, and one to show its cover.
    counts = dict(songs.filter(album__isnull=False).order_by().values_list("album_id").annotate(n=Count("pk")))
    # An artist may have thousands of albums ("Unknown artist" after an untagged import): a page shows a bounded few.
    albums = list(Album.objects.filter(pk__in=counts).order_by(Lower("title"))[:MAX_ALBUMS_SHOWN])
    firsts = {
        song.album_id: song
        for song in ordered.filter(album_id__in=[album.pk for album in albums])
        .select_related("album")
        .order_by("album_id", F("track_number").asc(nulls_last=True), "pk")
        .distinct("album_id")
    }
    for album in albums:
        album.visible_song_count = counts[album.pk]
        album.first_song = firsts.get(album.pk)
    context = {
        "artist": artist,
        "page": _songs_page(request, ordered),
        "albums": albums,
        "album_count": len(counts),
        "cover_song": songs.select_related("album").order_by("cover", "album__cover", "pk").first(),
        "similar": [] if artist.name == UNKNOWN_ARTIST else similar_artists(artist, viewer=request.user),
        "is_unknown": artist.name == UNKNOWN_ARTIST,
        **_totals(songs),
    }
    return render(request, "recommender/artist_detail.html", context)


@require_GET
@login_required
def album_detail(request: HttpRequest, pk: int) -> HttpResponse:
    album, songs = _get_album_for_user(request, pk)
    ordered = songs.order_by(F("track_number").asc(nulls_last=True), Lower("title"), "pk")
    artist_ids = set(songs.order_by().values_list("artist_id", flat=True).distinct()[:2])
    # The album's artist, else the artist of all its songs, else none ("Various artists").
    shown_artist = album.artist or (Artist.objects.get(pk=artist_ids.pop()) if len(artist_ids) == 1 else None)
    context = {
        "album": album,
        "album_artist": shown_artist,
        "page": _songs_page(request, ordered),
        "cover_song": ordered.select_related("album").first(),
        "similar": similar_albums(album, viewer=request.user),
        **_totals(songs),
    }
    return render(request, "recommender/album_detail.html", context)


def queue_track(song: Song) -> dict[str, str]:
    """One song as the player queues it, with its covers (its artist and album loaded)."""
    return {
        # As the play buttons' data attributes give them: the player compares ids as text.
        "id": str(song.pk),
        "src": song.audio_url,
        "title": song.title,
        "artist": song.artist.name,
        "url": song.get_absolute_url(),
        "artistUrl": song_url("recommender:artist", song.artist_id),
        "cover": song_cover_url(song, QUEUE_COVER_SIZE),
        "artwork": song_cover_url(song, ARTWORK_SIZE),
    }


def _queue(songs: SongQuerySet) -> JsonResponse:
    """The player's queue for "Play all" (as ``catalog:playlist_queue`` gives it), each song with its covers."""
    tracks = [queue_track(song) for song in songs.select_related("artist", "album")[:MAX_PLAYLIST_SONGS]]
    return JsonResponse({"tracks": tracks})


@require_GET
@login_required
def artist_queue(request: HttpRequest, pk: int) -> JsonResponse:
    _artist, songs = _get_artist_for_user(request, pk)
    return _queue(_in_album_order(songs))


@require_GET
@login_required
def album_queue(request: HttpRequest, pk: int) -> JsonResponse:
    _album, songs = _get_album_for_user(request, pk)
    return _queue(songs.order_by(F("track_number").asc(nulls_last=True), Lower("title"), "pk"))


def _songs_like(request: HtmxHttpRequest, group: str, pk: int, context: dict[str, object]) -> HttpResponse:
    """Catalogue songs like the centroid of an artist's or album's songs: what "Start radio" opens without radio."""
    n, genre = PlaylistOptionsForm(request.GET or None).options()
    vector = centroid_for_viewer(group, pk, request.user)
    # Blended with what the people who play its catalogue songs also play.
    playlist = (
        []
        if vector is None
        else Embedding.objects.nearest_songs(
            vector,
            k=n,
            genre=genre,
            max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
            together=hybrid.by_group(group, pk, viewer=request.user),
        )
    )
    Rating.objects.attach(request.user, playlist)
    context |= {
        "playlist": playlist,
        "analysed": vector is not None,
        "options": PlaylistOptionsForm(initial={"n": n, "genre": genre}),
        "n": n,
        "genre": genre,
        "max_per_artist": settings.MUSREC_MAX_PER_ARTIST,
    }
    if wants_fragment(request):
        return render(request, "recommender/songs_like.html#recommendations", context)
    return render(request, "recommender/songs_like.html", context)


@require_GET
@login_required
def artist_songs_like(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    artist, _songs = _get_artist_for_user(request, pk)
    return _songs_like(request, "artist", pk, {"artist": artist, "name": artist.name})


@require_GET
@login_required
def album_songs_like(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    album, _songs = _get_album_for_user(request, pk)
    return _songs_like(request, "album", pk, {"album": album, "name": album.title})


@require_safe
def song_cover(request: HttpRequest, pk: int, size: int, token: str | None = None) -> HttpResponse:
    """A song's cover drawn from its sound; without a token, or with a stale one, a redirect to its address now
    (which may be a stored picture's, once the song or its album has one). Signed out, only an imported catalogue
    song's (``Song.objects.covers_shown_to``), for the home page's landing."""
    if size not in COVER_SIZES:
        raise Http404("No such size")
    song = get_object_or_404(Song.objects.covers_shown_to(request.user).select_related("album"), pk=pk)
    url = song_cover_url(song, size)
    if token is None or token != drawn_cover_token(song) or song.cover_id or (song.album and song.album.cover_id):
        response = redirect(url)
        response["Cache-Control"] = "private, no-cache"
        return response
    return cover_response(request, lambda: drawn_cover(song, size), etag=f"{token}-{size}")
