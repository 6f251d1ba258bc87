"""Musrec's songs, albums and artists as the API's ``Child``, ``AlbumID3`` and ``ArtistID3`` entries.

Field names and types follow the Subsonic schema (tests/data/subsonic-rest-api-1.16.1.xsd) and the OpenSubsonic
spec: ids are strings, durations and sizes whole numbers, times ISO 8601 in UTC. Every entry has a ``coverArt``:
a song's own picture, its album's, or the one drawn from its sound (``subsonic.endpoints.media``).
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Callable

from catalog.models import Album, Artist, Rating, Song
from subsonic.api import Payload, iso_time
from subsonic.library import ALBUM, ARTIST, SONG, api_id

# Articles a client leaves out when it sorts and indexes artists ("The Beatles" under B).
IGNORED_ARTICLES = "The El La Los Las Le Les"
_ARTICLES = tuple(f"{article.lower()} " for article in IGNORED_ARTICLES.split())


# Musrec's likes and dislikes as the API's 1-5 ratings (``setRating`` maps them back: docs/api.md).
USER_RATINGS = {Rating.LIKE: 5, Rating.DISLIKE: 1}


def song_entry(song: Song) -> Payload:
    """A song as a ``Child`` (load it with ``library.songs_for``: artist, album and genres come with it, and the
    person's rating, which ``library.attach_ratings`` gives songs loaded another way)."""
    rating = getattr(song, "user_rating", None)
    suffix = posixpath.splitext(song.audio.name)[1].lstrip(".").lower()
    genres = list(song.genres.all())
    album = song.album.title if song.album_id else None
    return {
        "id": api_id(SONG, song.pk),
        "parent": api_id(ALBUM, song.album_id) if song.album_id else None,
        "isDir": False,
        "title": song.title,
        "album": album,
        "artist": song.artist.name,
        "track": song.track_number,
        "genre": genres[0].name if genres else None,
        "coverArt": api_id(SONG, song.pk),
        "size": song.file_size,
        "contentType": song.audio_content_type,
        "suffix": suffix or None,
        "duration": round(song.duration),
        "bitRate": bit_rate(song),
        # Made up from the tags, never the file's name: an upload's name is its owner's business.
        "path": "/".join(part.replace("/", "_") for part in (song.artist.name, album or "", song.title) if part)
        + (f".{suffix}" if suffix else ""),
        "isVideo": False,
        "created": iso_time(song.added_at),
        "albumId": api_id(ALBUM, song.album_id) if song.album_id else None,
        "artistId": api_id(ARTIST, song.artist_id),
        "type": "music",
        # A like is a star, dated when it was given.
        "starred": iso_time(song.user_rated_at) if rating == Rating.LIKE else None,
        "userRating": USER_RATINGS.get(rating),
    }


def bit_rate(song: Song) -> int | None:
    """Kilobits per second, from the file's size and length: what a player shows and what it may seek by."""
    if not song.duration or not song.file_size:
        return None
    return round(song.file_size * 8 / song.duration / 1000)


def album_entry(album: Album) -> Payload:
    """An album as an ``AlbumID3`` (load it with ``library.albums_for``, which counts the person's songs in it)."""
    artist_id, artist_name = (album.artist_id, album.artist.name) if album.artist_id else (None, None)
    if artist_id is None:
        artist_id, artist_name = album.lead_artist_id, album.lead_artist_name
    return {
        "id": api_id(ALBUM, album.pk),
        "name": album.title,
        "artist": artist_name,
        "artistId": api_id(ARTIST, artist_id) if artist_id else None,
        "coverArt": api_id(ALBUM, album.pk),
        "songCount": album.song_count,
        "duration": round(album.seconds or 0),
        "created": iso_time(album.first_added),
    }


def artist_entry(artist: Artist) -> Payload:
    """An artist as an ``ArtistID3`` (load it with ``library.artists_for``, which counts the albums)."""
    return {
        "id": api_id(ARTIST, artist.pk),
        "name": artist.name,
        "coverArt": api_id(ARTIST, artist.pk),
        "albumCount": artist.album_count,
    }


def sort_name(name: str) -> str:
    """``name`` as a client sorts it: without a leading article, in lower case."""
    lowered = name.strip().lower()
    for article in _ARTICLES:
        if lowered.startswith(article) and len(lowered) > len(article):
            return lowered[len(article) :]
    return lowered


def index_letter(name: str) -> str:
    """The index an artist is listed under: its first letter without accents, or "#"."""
    first = unicodedata.normalize("NFKD", sort_name(name)[:1])[:1].upper()
    return first if first.isalpha() and first.isascii() else "#"


def artist_index(artists: list[Artist], entry: Callable[[Artist], Payload]) -> list[Payload]:
    """Artists grouped by ``index_letter`` ("#" first, then A to Z), each drawn by ``entry``."""
    groups: dict[str, list[Artist]] = {}
    for artist in sorted(artists, key=lambda artist: (sort_name(artist.name), artist.pk)):
        groups.setdefault(index_letter(artist.name), []).append(artist)
    return [{"name": letter, "artist": [entry(a) for a in groups[letter]]} for letter in sorted(groups)]
