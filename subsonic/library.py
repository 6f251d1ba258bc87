"""The library as one person sees it through the API: songs, albums and artists, each from the songs they may see.

Everything starts from ``Song.objects.visible_to(user)``: the catalogue and the person's own private uploads. An
album or an artist exists for someone only when one of those songs is in it, and its counts, length and date count
those songs alone, so another person's private upload never shows, not even as one more song in an album's count.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Exists, IntegerField, Max, Min, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower

from catalog.models import Album, Artist, Genre, Play, Rating, Song, SongQuerySet
from subsonic.api import not_found

User = AbstractBaseUser | AnonymousUser

# Ids carry their kind, so that one parameter (getCoverArt's, or an "instant mix" seed) may name a song, an album
# or an artist: "tr-12", "al-3", "ar-5".
SONG, ALBUM, ARTIST = "tr", "al", "ar"


def api_id(kind: str, pk: int) -> str:
    return f"{kind}-{pk}"


def parse_id(value: str, kind: str, *, what: str) -> int:
    """The primary key in an id of ``kind``; error 70 for anything else (a client's stale or foreign id)."""
    prefix, _, number = value.partition("-")
    if prefix != kind or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise not_found(what)
    return int(number)


def split_id(value: str) -> tuple[str, int]:
    """The kind and primary key of an id of any kind; error 70 for a malformed one."""
    prefix, _, number = value.partition("-")
    if prefix not in (SONG, ALBUM, ARTIST) or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise not_found("Item")
    return prefix, int(number)


def songs_for(user: User) -> SongQuerySet:
    """The songs the person may see, each with their ``user_rating`` and ``user_rated_at`` (``with_ratings``)."""
    songs = Song.objects.visible_to(user).select_related("artist", "album").prefetch_related("genres")
    return with_ratings(songs, user)


def with_ratings(songs: SongQuerySet, user: User) -> SongQuerySet:
    """``songs`` with the person's like or dislike of each (``user_rating``: ``Rating.LIKE``, ``DISLIKE`` or None)
    and when they gave it (``user_rated_at``), in the same query: song entries show them as ``starred`` and
    ``userRating``. Songs loaded another way get them from ``attach_ratings``."""
    if not user.is_authenticated:
        return songs
    rating = Rating.objects.filter(user=user, song=OuterRef("pk"))
    return songs.annotate(
        user_rating=Subquery(rating.values("value")[:1]), user_rated_at=Subquery(rating.values("rated_at")[:1])
    )


def attach_ratings(user: User, songs: list[Song]) -> list[Song]:
    """Give ``songs`` (a playlist's, a mix's) the ``user_rating`` and ``user_rated_at`` of ``with_ratings``, in one
    query; returns them."""
    found = {
        song_id: (value, rated_at)
        for song_id, value, rated_at in Rating.objects.for_user(user)
        .filter(song__in=[song.pk for song in songs])
        .values_list("song_id", "value", "rated_at")
    }
    for song in songs:
        song.user_rating, song.user_rated_at = found.get(song.pk, (None, None))
    return songs


def song_for(user: User, song_id: str) -> Song:
    found = songs_for(user).filter(pk=parse_id(song_id, SONG, what="Song")).first()
    if found is None:
        raise not_found("Song")
    return found


def albums_for(user: User) -> QuerySet[Album]:
    """Albums with a song the person may see, each with ``song_count``, ``seconds``, ``first_added``, and the
    ``lead_artist_id``/``lead_artist_name`` of its first song (for albums with no album artist)."""
    visible = Song.objects.visible_to(user)
    songs = visible.filter(album=OuterRef("pk")).order_by().values("album")
    first_song = visible.filter(album=OuterRef("pk")).order_by("track_number", Lower("title"), "pk")
    return (
        Album.objects.filter(Exists(songs))
        .annotate(
            song_count=Subquery(songs.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
            seconds=Subquery(songs.annotate(total=Sum("duration")).values("total")),
            first_added=Subquery(songs.annotate(first=Min("added_at")).values("first")),
            lead_artist_id=Subquery(first_song.values("artist_id")[:1]),
            lead_artist_name=Subquery(first_song.values("artist__name")[:1]),
        )
        .select_related("artist")
    )


def album_for(user: User, album_id: str) -> Album:
    found = albums_for(user).filter(pk=parse_id(album_id, ALBUM, what="Album")).first()
    if found is None:
        raise not_found("Album")
    return found


def albums_by_artist(user: User, artist: Artist) -> QuerySet[Album]:
    """The albums holding a song by ``artist`` that the person may see."""
    by_artist = Song.objects.visible_to(user).filter(album=OuterRef("pk"), artist=artist)
    return albums_for(user).filter(Exists(by_artist))


def albums_in_genre(user: User, genre: Genre) -> QuerySet[Album]:
    tagged = Song.objects.visible_to(user).filter(album=OuterRef("pk"), genres=genre)
    return albums_for(user).filter(Exists(tagged))


def albums_by_plays(user: User, *, recent: bool) -> QuerySet[Album]:
    """Albums the person played, most played first, or (``recent``) last played first."""
    plays = Play.objects.for_user(user).filter(song__album=OuterRef("pk")).order_by().values("song__album")
    measure = plays.annotate(m=Max("played_at") if recent else Count("pk")).values("m")
    played = albums_for(user).annotate(plays=Subquery(measure))
    return played.filter(plays__isnull=False).order_by("-plays", Lower("title"), "pk")


def artists_for(user: User) -> QuerySet[Artist]:
    """Artists with a song the person may see, each with the ``album_count`` of those songs' albums."""
    visible = Song.objects.visible_to(user)
    songs = visible.filter(artist=OuterRef("pk")).order_by().values("artist")
    return Artist.objects.filter(Exists(songs)).annotate(
        album_count=Coalesce(
            Subquery(songs.annotate(n=Count("album", distinct=True)).values("n"), output_field=IntegerField()), 0
        )
    )


def artist_for(user: User, artist_id: str) -> Artist:
    found = artists_for(user).filter(pk=parse_id(artist_id, ARTIST, what="Artist")).first()
    if found is None:
        raise not_found("Artist")
    return found


def genre_named(name: str) -> Genre | None:
    """The genre called ``name``, if any. Callers answer an unknown genre with an empty list, not error 70: a genre
    that only someone's private upload carries must look exactly like one that does not exist."""
    return Genre.objects.existing(name)
