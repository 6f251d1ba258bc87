"""Browsing and searching: artists, albums, songs, genres, album lists, random songs, search3.

Every list is bounded (``MAX_LIST``), whatever a client asks for, and counted among the songs the person may see
(``subsonic.library``).
"""

from __future__ import annotations

from django.db.models import Count, Max
from django.db.models.functions import Lower

from catalog.models import MAX_PLAYLIST_SONGS, Album, Song
from catalog.text import words
from subsonic.api import ApiError, Call, ErrorCode, Payload, endpoint
from subsonic.endpoints.annotation import liked_albums
from subsonic.library import (
    album_for,
    albums_by_artist,
    albums_by_plays,
    albums_for,
    albums_in_genre,
    artist_for,
    artists_for,
    genre_named,
    song_for,
    songs_for,
)
from subsonic.shapes import IGNORED_ARTICLES, album_entry, artist_entry, artist_index, song_entry

# The most entries one answer holds: the spec's own limit for album lists and random songs.
MAX_LIST = 500
ALBUM_LIST_TYPES = (
    "newest",
    "random",
    "frequent",
    "recent",
    "alphabeticalByName",
    "alphabeticalByArtist",
    "byGenre",
    # Albums holding songs the person liked (subsonic.endpoints.annotation.liked_albums).
    "starred",
    "highest",
    # Musrec keeps no release years yet: this list is empty rather than an error.
    "byYear",
)


@endpoint("getIndexes")
def get_indexes(call: Call) -> Payload:
    artists = list(artists_for(call.user))
    last_added = songs_for(call.user).aggregate(last=Max("added_at"))["last"]
    return {
        "indexes": {
            "lastModified": int(last_added.timestamp() * 1000) if last_added else 0,
            "ignoredArticles": IGNORED_ARTICLES,
            "index": artist_index(artists, lambda artist: {"id": artist_entry(artist)["id"], "name": artist.name}),
        }
    }


@endpoint("getArtists")
def get_artists(call: Call) -> Payload:
    artists = list(artists_for(call.user))
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": artist_index(artists, artist_entry)}}


@endpoint("getArtist")
def get_artist(call: Call) -> Payload:
    artist = artist_for(call.user, call.params.required("id"))
    albums = albums_by_artist(call.user, artist).order_by(Lower("title"), "pk")[:MAX_LIST]
    return {"artist": artist_entry(artist) | {"album": [album_entry(album) for album in albums]}}


@endpoint("getAlbum")
def get_album(call: Call) -> Payload:
    album = album_for(call.user, call.params.required("id"))
    # Bounded like a playlist: shared uploads under one album title could make an album of thousands.
    songs = songs_for(call.user).filter(album=album).order_by("track_number", Lower("title"), "pk")[:MAX_PLAYLIST_SONGS]
    return {"album": album_entry(album) | {"song": [song_entry(song) for song in songs]}}


@endpoint("getSong")
def get_song(call: Call) -> Payload:
    return {"song": song_entry(song_for(call.user, call.params.required("id")))}


@endpoint("getAlbumList2")
def get_album_list2(call: Call) -> Payload:
    list_type = call.params.required("type")
    size = call.params.integer("size", default=10, minimum=0, maximum=MAX_LIST)
    offset = call.params.integer("offset", default=0, minimum=0)
    albums = album_list(call, list_type)
    return {"albumList2": {"album": [album_entry(album) for album in albums[offset : offset + size]]}}


def album_list(call: Call, list_type: str):
    user = call.user
    match list_type:
        case "newest":
            return albums_for(user).order_by("-first_added", "-pk")
        case "random":
            return albums_for(user).order_by("?")
        case "frequent":
            return albums_by_plays(user, recent=False)
        case "recent":
            return albums_by_plays(user, recent=True)
        case "alphabeticalByName":
            return albums_for(user).order_by(Lower("title"), "pk")
        case "alphabeticalByArtist":
            return albums_for(user).order_by(Lower("artist__name"), Lower("lead_artist_name"), Lower("title"), "pk")
        case "byGenre":
            genre = genre_named(call.params.required("genre"))
            return albums_in_genre(user, genre).order_by(Lower("title"), "pk") if genre else Album.objects.none()
        case "starred" | "highest":
            return liked_albums(user, most_liked=list_type == "highest")
        case "byYear":
            return Album.objects.none()
    raise ApiError(ErrorCode.GENERIC, f"Unknown album list type '{list_type}': one of {', '.join(ALBUM_LIST_TYPES)}.")


@endpoint("getGenres")
def get_genres(call: Call) -> Payload:
    """Genres of the songs the person may see (their tags), with those songs' and albums' counts."""
    rows = (
        Song.objects.visible_to(call.user)
        .filter(genres__isnull=False)
        .order_by()
        .values("genres__name")
        .annotate(songs=Count("pk", distinct=True), albums=Count("album", distinct=True))
        .order_by(Lower("genres__name"))
    )
    genres = [{"value": row["genres__name"], "songCount": row["songs"], "albumCount": row["albums"]} for row in rows]
    return {"genres": {"genre": genres}}


@endpoint("getSongsByGenre")
def get_songs_by_genre(call: Call) -> Payload:
    genre = genre_named(call.params.required("genre"))
    count = call.params.integer("count", default=10, minimum=0, maximum=MAX_LIST)
    offset = call.params.integer("offset", default=0, minimum=0)
    songs = songs_for(call.user).filter(genres=genre) if genre else Song.objects.none()
    songs = songs.order_by(Lower("title"), "pk")[offset : offset + count]
    return {"songsByGenre": {"song": [song_entry(song) for song in songs]}}


@endpoint("getRandomSongs")
def get_random_songs(call: Call) -> Payload:
    size = call.params.integer("size", default=10, minimum=0, maximum=MAX_LIST)
    songs = songs_for(call.user)
    if genre := call.params.get("genre"):
        found = genre_named(genre)
        songs = songs.filter(genres=found) if found else songs.none()
    return {"randomSongs": {"song": [song_entry(song) for song in songs.order_by("?")[:size]]}}


@endpoint("search3")
def search3(call: Call) -> Payload:
    """Artists, albums and songs matching ``query``; an empty query (OpenSubsonic) pages through everything."""
    params = call.params
    # Clients send "" or "*" for everything, and some wrap the words in quotes.
    query = " ".join(words(params.get("query", "").replace('"', " ").replace("*", " ")))
    bounds = {}
    for kind in ("artist", "album", "song"):
        count = params.integer(f"{kind}Count", default=20, minimum=0, maximum=MAX_LIST)
        offset = params.integer(f"{kind}Offset", default=0, minimum=0)
        bounds[kind] = slice(offset, offset + count)
    artists = artists_for(call.user).order_by(Lower("name"), "pk")
    albums = albums_for(call.user).order_by(Lower("title"), "pk")
    songs = songs_for(call.user)
    if query:
        artists = artists.filter(name__unaccent__icontains=query)
        albums = albums.filter(title__unaccent__icontains=query)
        songs = songs.search(query)
    else:
        songs = songs.order_by(Lower("title"), "pk")
    return {
        "searchResult3": {
            "artist": [artist_entry(artist) for artist in artists[bounds["artist"]]],
            "album": [album_entry(album) for album in albums[bounds["album"]]],
            "song": [song_entry(song) for song in songs[bounds["song"]]],
        }
    }
