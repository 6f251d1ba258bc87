"""Finding the music in an unpacked package: one :class:`DemoTrack` per song, with its licence and title hints.

The licence and attribution of each file come from the package's copyright file (:mod:`catalog.demo.copyright`);
titles and artists from what the games say of their own music, a Frets on Fire ``song.ini`` or a Warzone 2100
``album.json``, so that the importer need not guess them from file names. A Frets on Fire song folder gives one
track, the mix of its stems (:mod:`catalog.demo.stems`).
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from catalog.demo.copyright import UNKNOWN_LICENCE, CopyrightStanza, licence_for, parse_copyright
from catalog.demo.music_files import CANDIDATE_EXTENSIONS, is_sound_effect
from catalog.demo.stems import StemsDoNotMix, _frets_on_fire_song, frets_on_fire_stems, mix_song_folder


@dataclass(frozen=True)
class DemoTrack:
    path: Path
    package: str
    album: str
    title_hint: str | None
    artist_hint: str | None
    licence: str
    attribution: str
    copyright_file: Path


def find_tracks(
    package_root: Path,
    *,
    package: str,
    album: str,
    mix_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[DemoTrack]:
    """List the music files in an unpacked package, with licence, attribution and title hints.

    Symbolic links are passed over (drascula-music links each language folder to the same audio files),
    as are the package's documentation, sound effects and ``.pk3`` archives (their music was extracted next to
    them). A Frets on Fire song folder gives one track: its stems mixed by :func:`mix_song_folder` into
    ``mix_dir / "<folder>.ogg"``, which then stands in the track's ``path`` (licence and hints still come from
    the folder). Without ``mix_dir``, or when the stems do not mix, it is ``song.ogg`` alone.
    """
    copyright_file = package_root / "usr" / "share" / "doc" / package / "copyright"
    stanzas = parse_copyright(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
    docs = package_root / "usr" / "share" / "doc"
    tracks = []
    for folder, dirs, files in os.walk(package_root):
        here = Path(folder)
        dirs[:] = sorted(name for name in dirs if here / name != docs)
        candidates = [
            here / name
            for name in sorted(files)
            if Path(name).suffix.lower() in CANDIDATE_EXTENSIONS and not (here / name).is_symlink()
        ]
        title = artist = None
        titles_by_file: dict[str, tuple[str | None, str | None]] = {}
        mixed: dict[Path, Path] = {}
        if (here / "song.ini").is_file():
            candidates = _frets_on_fire_song(candidates)
            if mix_dir is not None and candidates and len(frets_on_fire_stems(here)) > 1:
                try:
                    mixed[candidates[0]] = mix_song_folder(here, dest=mix_dir / f"{here.name}.ogg", log=log)
                except StemsDoNotMix as error:
                    log(f"Using {candidates[0].name} alone for {here.name} ({package}): {error}.")
            title, artist = read_song_ini(here / "song.ini")
        elif (here / "album.json").is_file():
            titles_by_file = _read_album_json(here / "album.json")
        for path in candidates:
            relative = path.relative_to(package_root).as_posix()
            if is_sound_effect(relative):
                continue
            stanza = licence_for(stanzas, relative)
            file_title, file_artist = titles_by_file.get(path.name, (title, artist))
            tracks.append(
                DemoTrack(
                    path=mixed.get(path, path),
                    package=package,
                    album=album,
                    title_hint=file_title,
                    artist_hint=file_artist or _composer_from_stanza(stanza),
                    licence=stanza.licence if stanza else UNKNOWN_LICENCE,
                    attribution=stanza.attribution if stanza else "",
                    copyright_file=copyright_file,
                )
            )
    return tracks


def read_song_ini(path: Path) -> tuple[str | None, str | None]:
    """Title and artist from a Frets on Fire ``song.ini``, cleaned of credits and web addresses.

    Returns
    -------
    (title, artist) : tuple of str or None
        ``name`` and ``artist`` of the ``[song]`` section; None where missing or blank.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # song packs predate UTF-8 everywhere
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None, None
    section = parser["song"] if parser.has_section("song") else {}
    title = section.get("name", "").strip() or None
    artist = _clean_artist(section.get("artist", "")) or None
    return title, artist


def _clean_artist(artist: str) -> str:
    # "Composed and performed by Sectoid", "Muldjord - www.muldjord.com"
    artist = re.sub(r"^(?:(?:composed|performed|written)(?:\s+and\s+\w+)?\s+)?by\s+", "", artist.strip(), flags=re.I)
    artist = re.sub(r"\s*(?:[-–|,]\s*)?(?:https?://|www\.)\S+$", "", artist)
    return artist.strip()


def _read_album_json(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """Titles and authors by file name from a Warzone 2100 ``album.json``."""
    try:
        album = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    titles: dict[str, tuple[str | None, str | None]] = {}
    for track in album.get("tracks", []) if isinstance(album, dict) else []:
        if isinstance(track, dict) and isinstance(track.get("filename"), str):
            title = str(track.get("title") or "").strip() or None
            author = str(track.get("author") or album.get("author") or "").strip() or None
            titles[track["filename"]] = (title, author)
    return titles


def _composer_from_stanza(stanza: CopyrightStanza | None) -> str | None:
    # A stanza naming specific files and a single holder credits that person for them (hyperrogue's
    # "music/hr3-*.ogg: Shawn Parrotte"); a catch-all "*" stanza names the game's authors, not a composer.
    if stanza is None or "*" in stanza.patterns or len(stanza.holders) != 1:
        return None
    return stanza.holders[0]
