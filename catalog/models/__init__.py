"""The catalog app's models, one module per part of the domain, all importable from ``catalog.models``."""

from catalog.models.listening import InvalidPlay, Play, PlayQuerySet, Rating, RatingQuerySet, play_outcome
from catalog.models.music import (
    MAX_QUERY_LENGTH,
    SORT_CHOICES,
    UNKNOWN_ARTIST,
    Album,
    Artist,
    Genre,
    GenreQuerySet,
    Song,
    SongQuerySet,
    artist_group_key,
    genre_song_ids,
)
from catalog.models.playlists import (
    MAX_PLAYLIST_SONGS,
    M3uImport,
    Playlist,
    PlaylistChanged,
    PlaylistFull,
    PlaylistItem,
    PlaylistQuerySet,
)

__all__ = [
    "MAX_PLAYLIST_SONGS",
    "MAX_QUERY_LENGTH",
    "SORT_CHOICES",
    "UNKNOWN_ARTIST",
    "Album",
    "Artist",
    "Genre",
    "GenreQuerySet",
    "InvalidPlay",
    "M3uImport",
    "Play",
    "PlayQuerySet",
    "Playlist",
    "PlaylistChanged",
    "PlaylistFull",
    "PlaylistItem",
    "PlaylistQuerySet",
    "Rating",
    "RatingQuerySet",
    "Song",
    "SongQuerySet",
    "artist_group_key",
    "genre_song_ids",
    "play_outcome",
]
