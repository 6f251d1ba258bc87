"""Importing audio files into the catalogue: one file, one transaction, a reason for every refusal."""

from __future__ import annotations

import enum
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction

from catalog.models import UNKNOWN_ARTIST, Album, Artist, Cover, Genre, Song, forget_catalogue_figures
from catalog.tags import folder_picture, read_picture, read_tags
from recommender.core.cover_files import MAX_PICTURE_BYTES
from recommender.core.decoding import AUDIO_EXTENSIONS, TRACKER_EXTENSIONS, AudioError, check_duration, probe

logger = logging.getLogger(__name__)

CANDIDATE_EXTENSIONS = AUDIO_EXTENSIONS | TRACKER_EXTENSIONS


class Outcome(enum.StrEnum):
    IMPORTED = "imported"
    SKIPPED = "skipped"
    BROKEN = "broken"


@dataclass(frozen=True)
class ImportResult:
    path: Path
    outcome: Outcome
    reason: str = ""
    song_id: int | None = None


@dataclass(frozen=True)
class Provenance:
    """Where files come from, and hints that fill in for missing tags."""

    source: str = "Imported by an administrator"
    licence: str = ""
    attribution: str = ""
    licence_file: Path | None = None
    album: str | None = None
    title: str | None = None
    artist: str | None = None
    genres: tuple[str, ...] = ()


def find_audio_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files to try, in a stable order: every file named directly, and audio-looking files in folders.

    A file named on the command line is always tried, so a wrong file gets a reason rather than
    silence; inside folders, covers, playlists and notes are passed over.
    """
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.suffix.lower() in CANDIDATE_EXTENSIONS:
                        yield candidate
        else:
            yield path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(
    path: Path,
    *,
    provenance: Provenance = Provenance(),
    min_duration: float = 0.0,
    max_duration: float | None = None,
    min_analysable: float = 0.0,
    owner: AbstractBaseUser | None = None,
    original_name: str | None = None,
) -> ImportResult:
    """Add ``path`` to the catalogue, or say why not. Nothing is left half-written.

    With ``owner`` the song is that person's private upload: out of the catalogue, and a
    duplicate only of their own earlier uploads. ``min_duration`` skips shorter files quietly (an
    import of a folder); ``min_analysable`` refuses them as broken, saying they are too short to analyse.
    """
    display_name = original_name or path.name
    try:
        if not path.exists():
            return ImportResult(path, Outcome.BROKEN, "file not found")
        if not path.is_file():
            return ImportResult(path, Outcome.BROKEN, "not a regular file")
        size = path.stat().st_size
        if size == 0:
            return ImportResult(path, Outcome.BROKEN, "empty file (0 bytes)")
        content_hash = file_sha256(path)
    except OSError as error:
        return ImportResult(path, Outcome.BROKEN, f"cannot read the file ({error.strerror or error})")

    same_file = Song.objects.filter(content_hash=content_hash, owner=owner)
    if existing := same_file.values_list("pk", "title").first():
        where = "among your uploads" if owner else "in the catalogue"
        return ImportResult(path, Outcome.SKIPPED, f"already {where} as “{existing[1]}”", existing[0])

    try:
        info = probe(path)
    except AudioError as error:
        return ImportResult(path, Outcome.BROKEN, str(error))
    if info.duration < min_duration:
        return ImportResult(path, Outcome.SKIPPED, f"shorter than {min_duration:.0f} s ({info.duration:.1f} s)")
    try:
        check_duration(info, max_seconds=max_duration, min_seconds=min_analysable)
    except AudioError as error:
        return ImportResult(path, Outcome.BROKEN, str(error))

    tags = read_tags(path, display_name=display_name)
    stored_name = None
    try:
        with path.open("rb") as handle:
            stored_name = default_storage.save(
                f"songs/{content_hash[:2]}/{content_hash}{path.suffix.lower()}", File(handle)
            )
        licence_name = _store_licence_file(provenance.licence_file)
        song_cover, album_cover = _covers_for(path, catalogue=owner is None)
        with transaction.atomic():
            artist_name = provenance.artist or tags.artist or UNKNOWN_ARTIST
            artist = _get_or_create_ci(Artist, "name", artist_name)
            album = None
            if album_title := provenance.album or tags.album:
                album_artist = None
                if not provenance.album:
                    album_artist = _get_or_create_ci(Artist, "name", tags.album_artist or artist_name)
                album = _get_album(album_title, album_artist)
            song = Song.objects.create(
                title=provenance.title or tags.title,
                artist=artist,
                album=album,
                track_number=tags.track_number,
                duration=info.duration,
                audio=stored_name,
                original_filename=display_name[:255],
                content_hash=content_hash,
                file_size=size,
                source=provenance.source[:255],
                licence=provenance.licence[:100],
                attribution=provenance.attribution,
                licence_file=licence_name or "",
                owner=owner,
                in_catalogue=owner is None,
                cover=song_cover,
            )
            if album is not None and album_cover is not None and album.cover_id is None:
                Album.objects.filter(pk=album.pk, cover__isnull=True).update(cover=album_cover)
            song.genres.set(_genres_for(owner, [*provenance.genres, *tags.genres]))
    except IntegrityError:
        # Another importer (or a double-clicked upload) stored the same file between our check and our insert.
        _delete_quietly(stored_name)
        existing_id = same_file.values_list("pk", flat=True).first()
        return ImportResult(path, Outcome.SKIPPED, "already stored", existing_id)
    except OSError as error:
        _delete_quietly(stored_name)
        return ImportResult(path, Outcome.BROKEN, f"cannot store the file ({error.strerror or error})")
    except BaseException:
        _delete_quietly(stored_name)
        raise
    return ImportResult(path, Outcome.IMPORTED, song_id=song.pk)


def _covers_for(path: Path, *, catalogue: bool) -> tuple[Cover | None, Cover | None]:
    """The song's picture and the album's: the one in the file's tags, or the picture file beside it.

    Only a catalogue import looks beside the file (an upload is a lone file in a temporary folder) or gives its
    album a picture (a private upload's picture is its owner's alone). For the album the picture file beside the
    songs comes first, as a music folder's ``cover.jpg`` is the album's; for the song, its own tags.
    """
    try:
        embedded = Cover.objects.for_picture(read_picture(path, max_bytes=MAX_PICTURE_BYTES))
        beside = Cover.objects.for_picture(folder_picture(path, max_bytes=MAX_PICTURE_BYTES)) if catalogue else None
    except OSError as error:  # the picture could not be stored (a full disk): the song comes in without one
        logger.warning("No cover for %s: %s", path, error)
        return None, None
    return embedded or beside, (beside or embedded) if catalogue else None


def find_embedded_cover(song: Song) -> bool:
    """Give ``song`` the picture embedded in its stored file, if it has none yet (songs imported before covers
    existed: ``manage.py find_covers``); a catalogue song's picture also becomes its album's, if that has none.
    Whether a picture was found."""
    if song.cover_id:
        return False
    try:
        path = Path(song.audio.path)
    except NotImplementedError:  # remote storage
        return False
    try:
        cover = Cover.objects.for_picture(read_picture(path, max_bytes=MAX_PICTURE_BYTES)) if path.is_file() else None
    except OSError as error:
        logger.warning("No cover for %s: %s", path, error)
        return False
    if cover is None:
        return False
    Song.objects.filter(pk=song.pk).update(cover=cover)
    if song.album_id and song.in_catalogue:
        Album.objects.filter(pk=song.album_id, cover__isnull=True).update(cover=cover)
    return True


def _genres_for(owner: AbstractBaseUser | None, names: list[str]) -> list[Genre]:
    """The catalogue's imports create the genres they name; a private upload only joins genres that exist,
    so its tags never show up in anyone's genre menu (``publish_upload`` creates them when it is shared)."""
    if owner is None:
        return [Genre.objects.named(name) for name in names]
    return [genre for name in names if (genre := Genre.objects.existing(name)) is not None]


def retag_upload(
    song: Song, *, title: str, artist: str, album: str, genres: list[str], track_number: int | None
) -> None:
    """Give an upload the tags its owner wrote (names as import reads them from a file: at most 5 genres, each at
    most 60 characters, checked by the form).

    A private upload only joins genres that exist, as on import (``_genres_for``): the form refuses the others,
    so that nothing a person types into their private upload ever shows up in anyone's genre menu.
    """
    with transaction.atomic():
        song.title = title
        song.artist = _get_or_create_ci(Artist, "name", artist or UNKNOWN_ARTIST)
        song.album = _get_album(album, song.artist) if album else None
        song.track_number = track_number
        song.tags_edited = True
        song.save(update_fields=["title", "artist", "album", "track_number", "tags_edited"])
        song.genres.set(_genres_for(None if song.in_catalogue else song.owner, genres))


def publish_upload(song: Song) -> None:
    """Put an upload in the public catalogue, with the genres its tags name (created now if new).

    A private upload could only join genres that existed, so the file's other genres are read again now, unless
    the owner has corrected the tags: then their genres are the ones they chose.
    """
    with transaction.atomic():
        Song.objects.filter(pk=song.pk).update(in_catalogue=True)
        forget_catalogue_figures()  # update() sends no signal
        if song.album_id and song.cover_id:  # shared, its picture may be its album's too
            Album.objects.filter(pk=song.album_id, cover__isnull=True).update(cover=song.cover_id)
        try:
            path = Path(song.audio.path)
        except NotImplementedError:  # remote storage: the genres it already has will do
            return
        if not song.tags_edited and path.is_file() and (names := read_tags(path).genres):
            song.genres.add(*[Genre.objects.named(name) for name in names])


def _get_or_create_ci[M: models.Model](model: type[M], field: str, value: str) -> M:
    value = value.strip()[: 100 if model is Genre else 255]
    found = model._default_manager.filter(**{f"{field}__iexact": value}).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return model._default_manager.create(**{field: value})
    except IntegrityError:
        return model._default_manager.get(**{f"{field}__iexact": value})


def _get_album(title: str, artist: Artist | None) -> Album:
    title = title.strip()[:255]
    found = Album.objects.filter(title__iexact=title, artist=artist).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Album.objects.create(title=title, artist=artist)
    except IntegrityError:
        return Album.objects.get(title__iexact=title, artist=artist)


def _store_licence_file(path: Path | None) -> str | None:
    """Store a licence text once per distinct content and return its storage name."""
    if path is None:
        return None
    digest = file_sha256(path)[:16]
    name = f"licences/{digest}-{path.parent.name or 'copyright'}.txt"
    if not default_storage.exists(name):
        with path.open("rb") as handle:
            name = default_storage.save(name, File(handle))
    return name


def _delete_quietly(name: str | None) -> None:
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete %s after a failed import", name)
