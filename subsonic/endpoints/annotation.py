"""Listening and judging: scrobble, star, unstar, getStarred2, setRating.

They write to the same records as the web player: a scrobble is a completed play in the person's history
(``Play.objects.record``), a star is a like and a rating a like or a dislike (``Rating``). Musrec likes songs, not
albums or artists, so starring or rating an album or an artist is answered "ok" and changes nothing: liking every
song of an album for one tap would fill the person's taste (``recommender.personal``) with songs they never judged.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django_ratelimit.core import get_usage

from catalog.models import Album, Play, Rating, Song
from subsonic.api import ApiError, Call, ErrorCode, Payload, endpoint
from subsonic.library import ALBUM, SONG, User, album_for, albums_for, artist_for, songs_for, split_id
from subsonic.shapes import song_entry

# Most liked songs getStarred2 sends at once (the spec has no paging for it).
MAX_STARRED = 500
SCROBBLE_GROUP = "subsonic-scrobble"
# setRating's 1-5 as Musrec's like and dislike; 0 and the middle 3 clear the rating (docs/api.md).
RATING_TO_VALUE: dict[int, int | None] = {
    0: None,
    1: Rating.DISLIKE,
    2: Rating.DISLIKE,
    3: None,
    4: Rating.LIKE,
    5: Rating.LIKE,
}


def _named_songs(call: Call, ids: list[str]) -> list[Song]:
    """The songs among ``ids`` (song, album or artist ids), each checked to exist for the caller (error 70).

    Albums and artists are checked too, so a wrong id is an error whatever its kind, but only songs are returned.
    """
    songs: list[Song] = []
    for value in ids:
        kind, _pk = split_id(value)
        if kind == SONG:
            songs.append(_song(call, value))
        elif kind == ALBUM:
            album_for(call.user, value)
        else:
            artist_for(call.user, value)
    return songs


def _played_at(raw: str) -> dt.datetime | None:
    """A scrobble's ``time`` (milliseconds since 1970) as a moment in the past; None for "now"."""
    try:
        milliseconds = int(raw)
    except ValueError:
        raise ApiError(ErrorCode.GENERIC, "Parameter 'time' must be milliseconds since 1970.") from None
    if milliseconds < 0:
        raise ApiError(ErrorCode.GENERIC, "Parameter 'time' must be milliseconds since 1970.")
    now = timezone.now()
    # A phone's clock may run ahead: a play cannot have happened later than now.
    if milliseconds >= now.timestamp() * 1000:
        return None
    return dt.datetime.fromtimestamp(milliseconds / 1000, dt.UTC)


def _plays_rate(group: str, request: object) -> str | None:
    # The web player's limit (catalog.views_listening), read at each call; None is no limit.
    return f"{settings.MUSREC_PLAYS_PER_MINUTE}/m" if settings.MUSREC_PLAYS_PER_MINUTE else None


@endpoint("scrobble")
def scrobble(call: Call) -> Payload:
    """Record plays, as completed ones: a client scrobbles a song it played (submission=true). A "now playing"
    notice (submission=false) records nothing: Musrec does not show what others play (getNowPlaying is empty)."""
    ids = call.params.all("id")
    if not ids:
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Required parameter 'id' is missing.")
    times = [_played_at(raw) for raw in call.params.all("time")]
    songs = [_song(call, value) for value in ids]
    if not call.params.boolean("submission", default=True):
        return {}
    for i, song in enumerate(songs):
        usage = get_usage(
            call.request,
            group=SCROBBLE_GROUP,
            key=lambda group, request: str(call.user.pk),
            rate=_plays_rate,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            raise ApiError(
                ErrorCode.GENERIC, f"Not recorded: more than {settings.MUSREC_PLAYS_PER_MINUTE} plays a minute."
            )
        play = Play.objects.record(call.user, song, seconds_listened=song.duration, reached_end=True)
        when = times[i] if i < len(times) else None
        if when is not None:
            play.played_at = when
            play.save(update_fields=["played_at"])
    return {}


def _song(call: Call, value: str) -> Song:
    kind, pk = split_id(value)
    found = songs_for(call.user).filter(pk=pk).first() if kind == SONG else None
    if found is None:
        raise ApiError(ErrorCode.NOT_FOUND, "Song not found.")
    return found


def _songs_to_star(call: Call) -> list[Song]:
    """The songs among ``id``…; the albums of ``albumId``… and artists of ``artistId``… are only checked to exist."""
    params = call.params
    if not (params.all("id") or params.all("albumId") or params.all("artistId")):
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Required parameter 'id', 'albumId' or 'artistId' is missing.")
    songs = _named_songs(call, params.all("id"))
    for album_id in params.all("albumId"):
        album_for(call.user, album_id)
    for artist_id in params.all("artistId"):
        artist_for(call.user, artist_id)
    return songs


@endpoint("star")
def star(call: Call) -> Payload:
    """Like the songs named (a like already given keeps its date); albums and artists: ok, nothing stored."""
    for song in _songs_to_star(call):
        if song.user_rating != Rating.LIKE:
            Rating.objects.rate(call.user, song, Rating.LIKE)
    return {}


@endpoint("unstar")
def unstar(call: Call) -> Payload:
    """Take back the likes of the songs named; a dislike stays (it is no star)."""
    for song in _songs_to_star(call):
        if song.user_rating == Rating.LIKE:
            Rating.objects.clear(call.user, song)
    return {}


@endpoint("setRating")
def set_rating(call: Call) -> Payload:
    """Rate a song 0-5 as a like (4, 5), a dislike (1, 2) or nothing (0 clears, and so does the undecided 3)."""
    item_id = call.params.required("id")
    raw = call.params.required("rating")
    try:
        rating = int(raw)
    except ValueError:
        raise ApiError(ErrorCode.GENERIC, "Parameter 'rating' must be a whole number from 0 to 5.") from None
    if rating not in RATING_TO_VALUE:
        raise ApiError(ErrorCode.GENERIC, "Parameter 'rating' must be a whole number from 0 to 5.")
    value = RATING_TO_VALUE[rating]
    for song in _named_songs(call, [item_id]):
        if value is None:
            Rating.objects.clear(call.user, song)
        elif song.user_rating != value:
            Rating.objects.rate(call.user, song, value)
    return {}


@endpoint("getStarred2")
def get_starred2(call: Call) -> Payload:
    """The person's liked songs, last liked first; no albums or artists (only songs are liked)."""
    songs = songs_for(call.user).filter(user_rating=Rating.LIKE).order_by("-user_rated_at", "-pk")[:MAX_STARRED]
    return {"starred2": {"artist": [], "album": [], "song": [song_entry(song) for song in songs]}}


def liked_albums(user: User, *, most_liked: bool) -> QuerySet[Album]:
    """Albums holding a song the person liked (getAlbumList2 "starred" and "highest"): the last liked first, or
    (``most_liked``) the one with the most liked songs first."""
    likes = Rating.objects.liked_by(user).filter(song__album=OuterRef("pk")).order_by().values("song__album")
    measure = likes.annotate(m=Count("pk") if most_liked else Max("rated_at")).values("m")
    albums = albums_for(user).filter(Exists(likes)).annotate(liked=Subquery(measure))
    return albums.order_by("-liked", Lower("title"), "pk")
