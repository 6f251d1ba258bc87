"""The catalog app's models, one module per part of the domain, all importable from ``catalog.models``."""

from catalog.models.listening import InvalidPlay, Play, PlayQuerySet, Rating, RatingQuerySet, play_outcome
from catalog.models.music import (
    EF_SEARCH,
    EXACT_BELOW,
    MAX_QUERY_LENGTH,
    SORT_CHOICES,
    UNKNOWN_ARTIST,
    Album,
    Artist,
    Genre,
    GenreQuerySet,
    Song,
    SongQuerySet,
    genre_song_ids,
    playlist_artist_key,
)
from catalog.models.playlists import M3uImport, Playlist, PlaylistChanged, PlaylistItem, PlaylistQuerySet

__all__ = [
    "EF_SEARCH",
    "EXACT_BELOW",
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
    "PlaylistItem",
    "PlaylistQuerySet",
    "Rating",
    "RatingQuerySet",
    "Song",
    "SongQuerySet",
    "genre_song_ids",
    "play_outcome",
    "playlist_artist_key",
]
