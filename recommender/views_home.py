"""The home page ("/", issue 11 §5): what Musrec is, for a visitor; a person's own music, for someone signed in.

Signed in, each section is a short shelf with a link to its whole page: Continue listening (the person's own
recent plays), For you (asked for by the page once shown, htmx targeting ``FOR_YOU_TARGET``; with no history yet,
the chooser of the For you page instead, first on the page, so that the first minute ends in music), Recently
added, Your uploads, Your playlists and the genres of the catalogue. Every section reads only the person's own data
and the catalogue; the page and the For you shelf each cost a fixed number of queries, however long the person's
history (tests/test_home.py).

A visitor's covers are the only ones they may fetch: imported catalogue songs' (``Song.objects.covers_shown_to``).
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from catalog.htmx import HtmxHttpRequest, fragment_target
from catalog.models import Genre, Play, Playlist, PlaylistItem, Rating, Song, catalogue_song_count, genre_menu
from recommender import personal
from recommender.forms import StartForm

SHELF = 12
# Continue listening reads this many of the newest plays, the newest first, and shows the distinct songs among
# them: a fixed cost whatever the history's length (someone who played one song 200 times in a row sees it alone).
RECENT_PLAYS = 200
MAX_PLAYLISTS = 8
MAX_GENRES = 16
LANDING_COVERS = 8
FOR_YOU_TARGET = "home-for-you"


# The home page and its For you shelf share one URL: caches must tell them apart.
@vary_on_headers("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target")
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "recommender/home.html", _landing_context())
    if fragment_target(request, {FOR_YOU_TARGET}):
        return render(request, "recommender/home.html#for_you", _for_you_context(request.user))
    return render(request, "recommender/home.html", _home_context(request.user))


def landing_songs() -> list[Song]:
    """The few songs whose covers a visitor sees: imported catalogue songs only, never an upload, even a shared
    one (its picture came from someone's own file). The For you chooser's sample, one song per album, kept in
    the cache, so the landing costs no query of its own once the sample is there."""
    songs = [song for song in personal.starter_songs() if song.owner_id is None]
    # Nor an imported song whose album shows a shared upload's picture (the cover view refuses it to visitors).
    pictures = {song.cover_id or (song.album.cover_id if song.album_id else None) for song in songs} - {None}
    uploaded = set(Song.objects.filter(owner__isnull=False, cover_id__in=pictures).values_list("cover_id", flat=True))
    return [
        song for song in songs if (song.cover_id or (song.album.cover_id if song.album_id else None)) not in uploaded
    ][:LANDING_COVERS]


def _landing_context() -> dict[str, object]:
    return {"landing_songs": landing_songs(), "total_songs": catalogue_song_count()}


def _home_context(user: AbstractBaseUser) -> dict[str, object]:
    """Everything but For you, which the page asks for once shown (``_for_you_context``): on a long history it
    takes a few hundred milliseconds (docs/benchmarks.md, "Home page"), and the rest of the page need not wait."""
    context: dict[str, object] = {
        "continue_listening": continue_listening(user),
        "recently_added": list(
            Song.objects.catalogue().select_related("artist", "album").order_by("-added_at", "-pk")[:SHELF]
        ),
        "uploads": list(
            Song.objects.uploads_of(user).select_related("artist", "album").order_by("-added_at", "-pk")[:SHELF]
        ),
        "playlists": your_playlists(user),
        "genres": browse_genres(),
        "total_songs": catalogue_song_count(),
        "for_you_target": FOR_YOU_TARGET,
        "starting_out": not has_history(user),
    }
    if context["starting_out"]:
        # Nothing to go on yet: the For you page's chooser, first on the page, so a new person's first move is to pick.
        context.update(_chooser_context(user))
    return context


def _for_you_context(user: AbstractBaseUser) -> dict[str, object]:
    """The For you shelf, or the chooser when nothing of the person's counts yet (say, only plays stopped halfway)."""
    recommendations = personal.for_you(user, k=SHELF)
    context: dict[str, object] = {
        "for_you": recommendations.songs,
        "has_taste": bool(recommendations.centres),
        "for_you_target": FOR_YOU_TARGET,
    }
    if not recommendations.centres:
        context.update(_chooser_context(user))
    return context


def _chooser_context(user: AbstractBaseUser) -> dict[str, object]:
    genres = personal.starter_genres()
    sample = personal.starter_songs()
    Rating.objects.attach(user, sample)
    return {
        "start_form": StartForm(genres=genres),
        "genres_to_pick": [(genre, False) for genre in genres],
        "sample": [(song, False) for song in sample],
    }


def has_history(user: AbstractBaseUser) -> bool:
    """Whether ``user`` has done anything For you could go on: rated, played, filled a playlist, uploaded, or picked
    genres. At most five small queries, each stopping at the first row."""
    return (
        Rating.objects.for_user(user).exists()
        or Play.objects.for_user(user).exists()
        or PlaylistItem.objects.filter(playlist__in=Playlist.objects.owned_by(user)).exists()
        or Song.objects.uploads_of(user).exists()
        or user.favourite_genres.exists()
    )


def continue_listening(user: AbstractBaseUser, *, size: int = SHELF) -> list[Song]:
    """The songs ``user`` played last, each once, the latest first (songs they can still see)."""
    recent = Play.objects.for_user(user).values_list("song_id", flat=True)[:RECENT_PLAYS]
    ids = list(dict.fromkeys(recent))[:size]
    by_id = Song.objects.visible_to(user).select_related("artist", "album").in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def your_playlists(user: AbstractBaseUser) -> list[Playlist]:
    """The person's latest playlists, each with ``song_count`` and ``first_song`` (for its cover: the first song
    they can still play, or None)."""
    playlists = list(Playlist.objects.owned_by(user).with_song_counts()[:MAX_PLAYLISTS])
    visible = Song.objects.visible_to(user).values("pk")
    firsts = (
        PlaylistItem.objects.filter(playlist__in=[p.pk for p in playlists], song__in=visible)
        .order_by("playlist_id", "position")
        .distinct("playlist_id")
        .select_related("song__album")
    )
    first_song = {item.playlist_id: item.song for item in firsts}
    for playlist in playlists:
        playlist.first_song = first_song.get(playlist.pk)
    return playlists


def browse_genres(*, size: int = MAX_GENRES) -> list[Genre]:
    """The broadest genres of the catalogue's menu, the most songs first, each with ``song_count``.

    The counts are the Browse page's genre menu's (``genre_menu``): catalogue songs only, so someone else's
    private upload is never counted, and the number beside a genre is what Browse lists under it for everyone.
    """
    top = [genre for genre in genre_menu() if genre.parent_id is None]
    return sorted(top, key=lambda genre: (-genre.song_count, genre.name.lower()))[:size]
