"""Which cover a song shows, at what address, and the covers drawn from songs' sound (issue 11 §4).

A song shows the picture in its own file, else its album's, else one drawn from its embedding
(``recommender.core.drawn_covers``), made on first request and kept on disk under
``covers/drawn/<song>/``. Every address carries a token, a hash of what the picture stands for (a stored
picture's id, or the analysis a cover was drawn from), so that browsers may keep it for good: a new
analysis or a new picture gives a new address.
"""

from __future__ import annotations

import functools
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import get_script_prefix, reverse

from catalog.models import Song, cover_token
from recommender.core.cover_files import COVER_SIZES, square_cover
from recommender.core.drawn_covers import DRAWING_VERSION, SIZE, cover_features, draw_cover, placeholder_features
from recommender.models import Embedding, active_model_key

logger = logging.getLogger(__name__)

_ID, _TOKEN = 918273645, "tokenplaceholder"


@functools.cache
def _address_parts(name: str, size: int) -> tuple[str, str, str]:
    path = reverse(name, args=[_ID, size, _TOKEN]).removeprefix(get_script_prefix())
    before, _, rest = path.partition(str(_ID))
    middle, _, after = rest.partition(_TOKEN)
    return before, middle, after


def _address(name: str, pk: int, size: int, token: str) -> str:
    """``reverse(name, args=[pk, size, token])``, resolved once per process: a list of 25 songs shows 50 covers."""
    before, middle, after = _address_parts(name, size)
    return f"{get_script_prefix()}{before}{int(pk)}{middle}{token}{after}"


def stored_cover_url(cover_id: int, size: int) -> str:
    return _address("catalog:cover", cover_id, size, cover_token("stored", cover_id))


def drawn_cover_token(song: Song) -> str:
    """What a drawn cover depends on: the song's analysis (its state and time) in the active model."""
    analysed = song.analysed_at.isoformat() if song.analysed_at else ""
    return cover_token("drawn", DRAWING_VERSION, song.pk, song.analysis_status, analysed, active_model_key())


def song_cover_url(song: Song, size: int) -> str:
    """The address of ``song``'s cover at ``size`` pixels: its own picture, its album's, or the drawn one.

    Reads only the song's row and its album's (load it with the songs: ``select_related("album")``).
    """
    if song.cover_id:
        return stored_cover_url(song.cover_id, size)
    if song.album_id and song.album.cover_id:
        return stored_cover_url(song.album.cover_id, size)
    return _address("recommender:song_cover", song.pk, size, drawn_cover_token(song))


def drawn_cover(song: Song, size: int) -> bytes:
    """``song``'s drawn cover at ``size`` pixels (one of ``COVER_SIZES``): from the disk, else drawn now and kept.

    Drawn once, large, from the song's embedding in the active model (a song not analysed yet gets greyer
    colours from its title, and a new address once it is analysed); the smaller sizes are scaled from it.
    """
    if size not in COVER_SIZES:
        raise ValueError(f"no cover size {size}")
    token = drawn_cover_token(song)
    if (found := _read(_drawn_name(song.pk, token, size))) is not None:
        return found
    large = _read(_drawn_name(song.pk, token, SIZE))
    if large is None:
        embedding = Embedding.objects.of_song(song)
        if embedding is not None:
            features, muted = cover_features(embedding.vector), False
        else:
            features, muted = placeholder_features(f"{song.title}\n{song.artist_id}\n{song.pk}"), True
        large = draw_cover(features, tempo_bpm=song.tempo_bpm, energy=song.energy, muted=muted, size=SIZE)
        _forget_drawn(song.pk, keep=token)
        _keep(_drawn_name(song.pk, token, SIZE), large)
    if size == SIZE:
        return large
    data = square_cover(large, size=size)
    _keep(_drawn_name(song.pk, token, size), data)
    return data


def _drawn_name(song_id: int, token: str, size: int) -> str:
    return f"covers/drawn/{song_id}/{token}-{size}.jpg"


def _read(name: str) -> bytes | None:
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _keep(name: str, data: bytes) -> None:
    try:
        saved = default_storage.save(name, ContentFile(data))
    except OSError as error:  # a full disk: the cover is drawn again next time
        logger.warning("Could not keep the drawn cover %s: %s", name, error)
        return
    if saved != name:  # drawn by another request meanwhile
        default_storage.delete(saved)


def _forget_drawn(song_id: int, *, keep: str | None = None) -> None:
    """Delete ``song_id``'s drawn covers, but those of the token ``keep`` (an older analysis's are never shown)."""
    folder = f"covers/drawn/{song_id}"
    try:
        names = default_storage.listdir(folder)[1]
    except (FileNotFoundError, NotImplementedError):
        return
    for name in names:
        if keep is None or not name.startswith(f"{keep}-"):
            default_storage.delete(f"{folder}/{name}")


def forget_drawn_covers(sender: type[Song], instance: Song, **kwargs: object) -> None:
    """A deleted song's drawn covers go with it (connected in ``RecommenderConfig.ready``)."""
    song_id = instance.pk
    transaction.on_commit(lambda: _forget_drawn(song_id))
