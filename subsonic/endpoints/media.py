"""Audio and pictures: stream, download and getCoverArt.

The audio is the stored file as it is, with HTTP Range for seeking (``catalog.streaming``): Musrec does not
transcode, so ``format`` and ``maxBitRate`` are read as ``raw`` and the original is sent, which the spec allows.
Streams count against the person's ``MUSREC_STREAMS_PER_USER``, as the web player's do.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header

from catalog.models import Song
from catalog.streaming import accel_redirect_response, audio_file_response
from recommender.artwork import drawn_cover
from recommender.core.cover_files import COVER_SIZES
from subsonic.api import Call, endpoint, not_found
from subsonic.library import ALBUM, ARTIST, SONG, album_for, artist_for, song_for, songs_for, split_id
from subsonic.shapes import song_entry

# A cover's id names a song, an album or an artist, whose picture may change (a song analysed at last gets its drawn
# cover): players keep it a day, not for good.
COVER_CACHE = "private, max-age=86400"


@endpoint("stream")
def stream(call: Call) -> HttpResponseBase:
    return audio_response(call, song_for(call.user, call.params.required("id")))


@endpoint("download")
def download(call: Call) -> HttpResponseBase:
    song = song_for(call.user, call.params.required("id"))
    response = audio_response(call, song)
    name = song_entry(song)["path"].rsplit("/", 1)[-1]
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


def audio_response(call: Call, song: Song) -> HttpResponseBase:
    if prefix := settings.MUSREC_ACCEL_REDIRECT_PREFIX:
        # nginx sends the file (ranges, slow listeners); Django has checked that this person may have it.
        response = accel_redirect_response(prefix, song.audio.name, song.audio_content_type)
    else:
        response = audio_file_response(call.request, song.audio, song.audio_content_type, listener=call.user.pk)
    response.setdefault("Cache-Control", "private, max-age=3600")
    return response


@endpoint("getCoverArt")
def get_cover_art(call: Call) -> HttpResponseBase:
    """The picture of a song (its own, its album's, or drawn from its sound), an album or an artist, square."""
    size = cover_size(call.params.integer("size", default=COVER_SIZES[-1], minimum=1))
    item_id = call.params.required("id")
    kind, _ = split_id(item_id)
    if kind == SONG:
        song = song_for(call.user, item_id)
    elif kind == ALBUM:
        album = album_for(call.user, item_id)
        song = songs_for(call.user).filter(album=album).order_by("track_number", "pk").first()
    elif kind == ARTIST:
        artist = artist_for(call.user, item_id)
        song = songs_for(call.user).filter(artist=artist).order_by("album__cover", "pk").first()
    else:  # split_id knows only the three kinds
        raise not_found("Cover")
    if song is None:
        raise not_found("Cover")
    return picture_response(song_picture(song, size, album_first=kind == ALBUM))


def cover_size(asked: int) -> int:
    """The smallest size Musrec keeps that is at least ``asked`` pixels, else the largest."""
    return next((size for size in COVER_SIZES if size >= asked), COVER_SIZES[-1])


def song_picture(song: Song, size: int, *, album_first: bool = False) -> bytes:
    """The song's own picture, else its album's (the other way round for an album's cover), else the drawn one."""
    own, album = song.cover if song.cover_id else None, song.album.cover if song.album_id else None
    for cover in (album, own) if album_first else (own, album):
        if cover is not None:
            try:
                return cover.sized(size)
            except FileNotFoundError:  # its file lost (a restore without media): the next picture will do
                continue
    return drawn_cover(song, size)


def picture_response(data: bytes) -> HttpResponseBase:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = COVER_CACHE
    return response
