"""Reading title / artist / album / genre / track tags with mutagen (Django-free)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from mutagen.flac import Picture
from mutagen.id3 import ID3

from catalog.genre_tree import is_genre

_TRACK_PREFIX = re.compile(r"^\s*(\d{1,3})\s*[-_. ]+\s*")
_GENRE_SPLIT = re.compile(r"\s*[;/,|]\s*")
MAX_FIELD = 255
# A file may carry any number of GENRE values; a handful says what the music is, thousands are an attack
# on every genre menu. Longer names are not genres either.
MAX_GENRES = 5
MAX_GENRE_LENGTH = 60


@dataclass
class Tags:
    title: str = ""
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    genres: list[str] = field(default_factory=list)
    track_number: int | None = None


def _first(values: object) -> str:
    if isinstance(values, list | tuple):
        values = values[0] if values else ""
    return str(values or "").replace("\x00", "").strip()[:MAX_FIELD]


def _known(value: str) -> str:
    """``value``, or "" when a tagger wrote a placeholder such as "<Unknown>"."""
    return "" if value.strip("<>()[] ").casefold() in {"unknown", "unknown artist", "none", "various"} else value


def _track(value: str) -> int | None:
    match = re.match(r"\s*(\d+)", value)
    if not match:
        return None
    number = int(match.group(1))
    return number if 0 < number < 10_000 else None


def read_tags(path: Path, *, display_name: str | None = None) -> Tags:
    """Tags of ``path``, with the file name as fallback for the title.

    A file whose tags mutagen cannot parse still gets a title from its name: broken
    tags are common and not a reason to refuse music that plays fine.
    """
    tags = Tags()
    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception:  # mutagen raises many kinds of errors for damaged tag blocks
        audio = None
    if audio is not None and audio.tags is not None:
        get = _id3_getter(audio.tags) if isinstance(audio.tags, ID3) else audio.tags.get
        tags.title = _first(get("title"))
        tags.artist = _known(_first(get("artist"))) or _known(_first(get("albumartist")))
        tags.album = _first(get("album"))
        tags.album_artist = _known(_first(get("albumartist")))
        tags.track_number = _track(_first(get("tracknumber")))
        raw_genres = get("genre") or []
        if isinstance(raw_genres, str):
            raw_genres = [raw_genres]
        seen: set[str] = set()
        for raw in raw_genres[: 4 * MAX_GENRES]:
            for name in _GENRE_SPLIT.split(str(raw)[: 4 * MAX_GENRE_LENGTH].replace("\x00", "")):
                name = " ".join(name.split())
                wanted = len(tags.genres) < MAX_GENRES and len(name) <= MAX_GENRE_LENGTH
                if wanted and is_genre(name) and name.casefold() not in seen:
                    seen.add(name.casefold())
                    tags.genres.append(name)
    if not tags.title:
        tags.title, number = title_from_filename(Path(display_name) if display_name else path)
        tags.track_number = tags.track_number or number
    return tags


_ID3_FRAMES = {
    "title": "TIT2",
    "artist": "TPE1",
    "albumartist": "TPE2",
    "album": "TALB",
    "genre": "TCON",
    "tracknumber": "TRCK",
}


def _id3_getter(id3: ID3):
    """A ``get`` over raw ID3 frames, for formats (WAV, AIFF) that mutagen's easy mode does not cover."""

    def get(key: str) -> list[str] | None:
        frame = id3.get(_ID3_FRAMES.get(key, ""))
        if frame is None:
            return None
        return list(frame.genres) if key == "genre" else [str(text) for text in frame.text]

    return get


def title_from_filename(path: Path) -> tuple[str, int | None]:
    """("Heroes Rite", 3) from "03 - heroes_rite.ogg"."""
    stem = path.stem
    number = None
    if match := _TRACK_PREFIX.match(stem):
        number = _track(match.group(1))
        stem = stem[match.end() :] or stem
    title = " ".join(stem.replace("_", " ").split())
    if title.islower():
        title = title.title()
    return (title or path.name)[:MAX_FIELD], number


# --- Cover pictures (issue 11 §4): embedded in the tags, or a picture file beside the song --------------------------

# ID3 and FLAC picture type 3 is the front cover; any other picture (the back, the band, a leaflet) comes after it.
FRONT_COVER = 3
FOLDER_PICTURE_NAMES = ("cover", "folder", "front", "album")
FOLDER_PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def read_picture(path: Path, *, max_bytes: int) -> bytes | None:
    """The picture embedded in ``path``'s tags, front cover first, or None.

    ID3 APIC frames (MP3, WAV, AIFF), FLAC picture blocks, Ogg Vorbis/Opus ``METADATA_BLOCK_PICTURE`` and
    MP4 ``covr`` atoms. A picture over ``max_bytes`` is passed over, and damaged tags give None, never an error.
    """
    try:
        audio = mutagen.File(str(path))
    except Exception:  # mutagen raises many kinds of errors for damaged tag blocks
        return None
    if audio is None:
        return None
    candidates: list[tuple[int, bytes]] = []  # (picture type, data)
    try:
        for picture in getattr(audio, "pictures", None) or []:  # FLAC
            candidates.append((picture.type, picture.data))
        tags = audio.tags
        if isinstance(tags, ID3):
            candidates.extend((frame.type, frame.data) for frame in tags.getall("APIC"))
        elif tags is not None and hasattr(tags, "get"):
            for value in tags.get("covr") or []:  # MP4
                candidates.append((FRONT_COVER, bytes(value)))
            for encoded in tags.get("metadata_block_picture") or []:  # Vorbis comments: base64 of a FLAC block
                # base64 takes 4 characters for 3 bytes: anything longer than this cannot fit the limit.
                if len(encoded) <= max_bytes * 4 // 3 + 1024:
                    picture = _vorbis_picture(encoded)
                    if picture is not None:
                        candidates.append((picture.type, picture.data))
    except Exception:
        return None
    usable = [(kind != FRONT_COVER, data) for kind, data in candidates if data and len(data) <= max_bytes]
    return min(usable, key=lambda item: item[0])[1] if usable else None


def _vorbis_picture(encoded: str) -> Picture | None:
    try:
        return Picture(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError, mutagen.MutagenError, IndexError, TypeError):
        return None


def folder_picture(path: Path, *, max_bytes: int) -> bytes | None:
    """The picture file beside ``path`` (``cover.jpg``, ``folder.jpg``, ``front.png``…, any case), or None.

    Only regular files of at most ``max_bytes`` are read.
    """
    folder = path.parent
    for name in FOLDER_PICTURE_NAMES:
        for suffix in FOLDER_PICTURE_SUFFIXES:
            spellings = (name + suffix, name.capitalize() + suffix, (name + suffix).upper())
            for spelling in spellings:
                candidate = folder / spelling
                try:
                    if candidate.is_file() and 0 < candidate.stat().st_size <= max_bytes:
                        return candidate.read_bytes()[: max_bytes + 1]
                except OSError:
                    continue
    return None
