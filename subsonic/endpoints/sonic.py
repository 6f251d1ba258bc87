"""Songs that sound alike, from Musrec's embeddings: getSimilarSongs ("instant mix"), getSimilarSongs2, and the
OpenSubsonic ``sonicSimilarity`` extension's getSonicSimilarTracks and findSonicPath.

Each is a question the web pages already answer, asked through the recommender: similar songs
(``Embedding.objects.similar_songs``), songs like an album's or an artist's centroid
(``similar_artists.centroid_for_viewer`` and ``nearest_songs``), a path between two songs
(``personal.path_between``). So they follow the same playlist rules (never the seed, never one recording twice, at
most ``MUSREC_MAX_PER_ARTIST`` songs of one artist) and the same privacy: a seed is one the caller may see, an album's
or artist's centroid counts only the songs the caller may see, and the songs found come from the catalogue.
A seed that is not analysed yet has no neighbours: the answer is an empty list, not an error.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import prefetch_related_objects

from catalog.models import Song
from recommender import hybrid
from recommender.core.paths import MAX_STEPS, MIN_STEPS
from recommender.models import Embedding
from recommender.personal import PersonalError, path_between
from recommender.similar_artists import centroid_for_viewer
from subsonic.api import ApiError, Call, ErrorCode, Payload, endpoint
from subsonic.library import (
    ALBUM,
    ARTIST,
    SONG,
    album_for,
    artist_for,
    attach_ratings,
    parse_id,
    song_for,
    split_id,
)
from subsonic.shapes import song_entry

# The most songs one mix holds, whatever a client asks for.
MAX_SIMILAR = 100
# findSonicPath's count is the whole path: the two songs and the steps between them.
MIN_PATH, MAX_PATH = MIN_STEPS + 2, MAX_STEPS + 2


def _songs_like(call: Call, item_id: str, count: int) -> list[Song]:
    """A mix of ``count`` catalogue songs like the song, album or artist ``item_id`` (error 70 if the caller may
    not see it)."""
    kind, pk = split_id(item_id)
    cap = settings.MUSREC_MAX_PER_ARTIST
    if kind == SONG:
        seed = song_for(call.user, item_id)
        songs = Embedding.objects.similar_songs(seed, k=count, max_per_artist=cap, viewer=call.user) if count else []
    else:
        # Checks that the caller may see the album or artist; the centroid is then of their songs only.
        if kind == ALBUM:
            album_for(call.user, item_id)
        else:
            artist_for(call.user, item_id)
        group = "album" if kind == ALBUM else "artist"
        vector = centroid_for_viewer(group, pk, call.user)
        # Blended with what the people who play its catalogue songs also play.
        together = hybrid.by_group(group, pk, viewer=call.user)
        songs = (
            Embedding.objects.nearest_songs(vector, k=count, max_per_artist=cap, together=together)
            if vector is not None and count
            else []
        )
    return attach_ratings(call.user, songs)


@endpoint("getSimilarSongs")
def get_similar_songs(call: Call) -> Payload:
    count = call.params.integer("count", default=50, minimum=0, maximum=MAX_SIMILAR)
    songs = _songs_like(call, call.params.required("id"), count)
    return {"similarSongs": {"song": [song_entry(song) for song in songs]}}


@endpoint("getSimilarSongs2")
def get_similar_songs2(call: Call) -> Payload:
    item_id = call.params.required("id")
    parse_id(item_id, ARTIST, what="Artist")
    count = call.params.integer("count", default=50, minimum=0, maximum=MAX_SIMILAR)
    songs = _songs_like(call, item_id, count)
    return {"similarSongs2": {"song": [song_entry(song) for song in songs]}}


def sonic_match(song: Song, similarity: float) -> Payload:
    """A ``sonicMatch``: the song as a ``Child`` in ``entry``, and its cosine ``similarity`` (held in [-1, 1]
    against rounding)."""
    return {"entry": song_entry(song), "similarity": round(min(max(similarity, -1.0), 1.0), 4)}


@endpoint("getSonicSimilarTracks")
def get_sonic_similar_tracks(call: Call) -> Payload:
    """The songs that sound most like a song, most similar first, each with its cosine similarity to it."""
    seed = song_for(call.user, call.params.required("id"))
    count = call.params.integer("count", default=10, minimum=0, maximum=MAX_SIMILAR)
    cap = settings.MUSREC_MAX_PER_ARTIST
    # Sonic similarity is the sound alone, as the extension defines it: no blend with what people play together.
    songs = Embedding.objects.similar_songs(seed, k=count, max_per_artist=cap) if count else []
    # The mix is chosen by CSLS rank (hub songs pushed back); the extension lists matches by similarity.
    songs = sorted(attach_ratings(call.user, songs), key=lambda song: -song.similarity)
    return {"sonicMatch": [sonic_match(song, song.similarity) for song in songs]}


@endpoint("findSonicPath")
def find_sonic_path(call: Call) -> Payload:
    """A path from one song to another, each step near the one before: the start song first, the end song last,
    each with its cosine similarity to the start song. ``count`` is held between ``MIN_PATH`` and ``MAX_PATH``."""
    start = song_for(call.user, call.params.required("startSongId"))
    goal = song_for(call.user, call.params.required("endSongId"))
    count = call.params.integer("count", default=25, minimum=MIN_PATH, maximum=MAX_PATH)
    if start.pk == goal.pk or start.content_hash == goal.content_hash:
        raise ApiError(ErrorCode.GENERIC, "The start and end songs are the same recording: there is no path.")
    if Embedding.objects.active().filter(song__in=[start, goal]).count() < 2:
        return {"sonicMatch": []}
    try:
        path = path_between(start, goal, steps=count - 2, user=call.user)
    except PersonalError as error:
        raise ApiError(ErrorCode.GENERIC, str(error)) from None
    songs = attach_ratings(call.user, path.songs)
    # The steps come without their genres (the web's path page does not show them); a song entry names one.
    prefetch_related_objects(songs, "genres")
    return {"sonicMatch": [sonic_match(song, song.to_start) for song in songs]}
