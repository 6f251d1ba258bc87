"""Similar artists and similar albums, from the songs' embeddings (issue 11 §4).

An artist (an album) is the centroid of its analysed songs: the mean of their embeddings in the active
model, scaled to unit length. Its neighbours are the catalogue's other centroids, nearest by cosine.
The catalogue's centroids are the same for everyone, so each web process keeps them for the catalogue
generation (``catalogue_generation``) and at most ``CENTROIDS_SECONDS``, since an analysis that finishes
changes no generation. The centroid asked about is that of the songs the viewer may see (the catalogue
and their own uploads): someone's private upload never moves a list anyone else sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from catalog.models import UNKNOWN_ARTIST, Album, Artist, Song, catalogue_generation
from recommender.models import Embedding, active_model_key

CENTROIDS_SECONDS = 600
# Similar albums: at most this many by one artist, as playlists take at most 2 songs of one artist.
ALBUMS_PER_ARTIST = 2

_centroids: dict[str, tuple[str, float, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True)
class Neighbour[T]:
    item: T
    similarity: float
    # A catalogue song of the artist or album, to show its cover (``recommender.artwork.song_cover_url``).
    song: Song | None


def catalogue_centroids(group: str) -> tuple[np.ndarray, np.ndarray]:
    """Every catalogue artist's (``"artist"``) or album's (``"album"``) centroid: ids ``[shape=(n,)]``, unit
    vectors ``[shape=(n, d)]``, kept by this process for the catalogue's generation."""
    key = f"{active_model_key()}:{catalogue_generation()}"
    found = _centroids.get(group)
    if found is not None and found[0] == key and time.monotonic() - found[1] < CENTROIDS_SECONDS:
        return found[2], found[3]
    ids, vectors = Embedding.objects.centroids(group)
    _centroids[group] = (key, time.monotonic(), ids, vectors)
    return ids, vectors


def forget_centroids() -> None:
    _centroids.clear()


def centroid_for_viewer(group: str, pk: int, viewer: AbstractBaseUser | AnonymousUser) -> np.ndarray | None:
    """The centroid of the artist's or album's songs that ``viewer`` may see; None when none is analysed."""
    songs = Song.objects.visible_to(viewer).filter(**{f"{group}_id": pk})
    ids, vectors = Embedding.objects.centroids(group, among=songs)
    return vectors[0] if len(ids) else None


def _ranked(group: str, vector: np.ndarray | None, *, exclude: set[int]) -> list[tuple[int, float]]:
    if vector is None:
        return []
    ids, vectors = catalogue_centroids(group)
    if not len(ids) or vectors.shape[1] != vector.shape[0]:
        return []
    similarities = vectors @ vector
    order = np.argsort(-similarities, kind="stable")
    return [(int(ids[i]), float(similarities[i])) for i in order if int(ids[i]) not in exclude]


def similar_artists(artist: Artist, *, viewer: AbstractBaseUser | AnonymousUser, k: int = 8) -> list[Neighbour[Artist]]:
    """The ``k`` catalogue artists whose songs sound most like ``artist``'s, nearest first.

    Never the artist itself, nor "Unknown artist" (songs without an artist tag are not one artist's).
    """
    unknown = set(Artist.objects.filter(name__iexact=UNKNOWN_ARTIST).values_list("pk", flat=True))
    ranked = _ranked("artist", centroid_for_viewer("artist", artist.pk, viewer), exclude={artist.pk, *unknown})[:k]
    artists = Artist.objects.in_bulk([pk for pk, _ in ranked])
    songs = _songs_to_show("artist_id", [pk for pk, _ in ranked])
    return [Neighbour(artists[pk], similarity, songs.get(pk)) for pk, similarity in ranked if pk in artists]


def similar_albums(album: Album, *, viewer: AbstractBaseUser | AnonymousUser, k: int = 6) -> list[Neighbour[Album]]:
    """The ``k`` catalogue albums that sound most like ``album``, nearest first, at most ``ALBUMS_PER_ARTIST`` by
    one album artist."""
    ranked = _ranked("album", centroid_for_viewer("album", album.pk, viewer), exclude={album.pk})[: 20 * k]
    albums = Album.objects.select_related("artist").in_bulk([pk for pk, _ in ranked])
    chosen: list[tuple[Album, float]] = []
    per_artist: dict[int, int] = {}
    for pk, similarity in ranked:
        candidate = albums.get(pk)
        if candidate is None:
            continue
        if candidate.artist_id is not None:
            if per_artist.get(candidate.artist_id, 0) >= ALBUMS_PER_ARTIST:
                continue
            per_artist[candidate.artist_id] = per_artist.get(candidate.artist_id, 0) + 1
        chosen.append((candidate, similarity))
        if len(chosen) == k:
            break
    songs = _songs_to_show("album_id", [item.pk for item, _ in chosen])
    return [Neighbour(item, similarity, songs.get(item.pk)) for item, similarity in chosen]


def _songs_to_show(field: str, ids: list[int]) -> dict[int, Song]:
    """One catalogue song of each artist or album, one with a picture first, for its cover."""
    if not ids:
        return {}
    songs = (
        Song.objects.catalogue()
        .filter(**{f"{field}__in": ids})
        .select_related("artist", "album")
        .order_by(field, "cover", "album__cover", "album__title", "track_number", "pk")
        .distinct(field)
    )
    return {getattr(song, field): song for song in songs}
