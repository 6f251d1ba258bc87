"""Playlist files: reading M3U8, writing M3U8 and XSPF (Django-free, so they can be tested and reused alone).

An M3U8 file is UTF-8 text, one location (a path or a URL) per line, each optionally preceded by
``#EXTINF:<seconds>,<Artist> - <Title>``. Files in the wild are messy: Windows paths, URL-encoded
names, track numbers in file names, stray binary. The reader never raises on a bad line; it reports
the line and goes on. Only a file that is not UTF-8 text at all is refused (:class:`PlaylistFileError`).
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_IMPORT_BYTES = 1024 * 1024
# A line longer than any real path or title is more likely binary or an attack than a song.
MAX_LINE_LENGTH = 4096
MAX_ENTRIES = 5000
# "A - B - C" has a reading per dash; a line of hundreds of dashes must not become hundreds of readings
# (a 164 KB file once became 40,789 titles). The first few dashes are where artist and title part.
MAX_SPLITS = 3
# No song has a longer title (catalog's Song.title): a longer reading can match nothing.
MAX_TITLE_LENGTH = 255
XSPF_NAMESPACE = "http://xspf.org/ns/0/"

# "Artist - Title", also with the en and em dashes some taggers write.
_DASH = re.compile(r"\s+[-–—]\s+")
_EXTINF = re.compile(
    r"^#EXTINF:\s*(?P<seconds>-?\d+(?:\.\d+)?)(?P<attributes>(?:\s+[\w-]+=\"[^\"]*\")*)\s*,(?P<name>.*)$", re.IGNORECASE
)
_TRACK_NUMBER = re.compile(r"^\d{1,3}(?:\s*[-–—._]\s*|\s+)(?=\S)")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# UTF-16 and UTF-32 byte order marks: text, but not UTF-8, so worth a more helpful message than "binary".
_OTHER_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class PlaylistFileError(ValueError):
    """The file cannot be read as a playlist at all (too large, binary, not UTF-8); the message says why."""


@dataclass(frozen=True, slots=True)
class M3uEntry:
    """One song of an M3U8 file: where it was and the names it may go by.

    ``names`` holds the names to try: the ``#EXTINF`` name, or without one the file name (no
    extension), then that without a leading track number ("01 - ").
    """

    line: int
    location: str
    names: tuple[str, ...]
    duration: int | None = None

    @property
    def label(self) -> str:
        return self.names[0] if self.names else self.location

    def readings(self) -> list[tuple[str, str]]:
        """Ways to read the entry as ``(artist, title)``, most likely first; ``""`` as artist means any artist.

        "A - B - C" may be artist "A" with title "B - C" or artist "A - B" with title "C", so every
        split at the first ``MAX_SPLITS`` dashes is offered. The whole name as a bare title comes last (a title
        such as "Song 2 - Live"). Titles longer than any song's are left out.
        """
        found: list[tuple[str, str]] = []
        for name in self.names:
            dashes = [d for _, d in zip(range(MAX_SPLITS), _DASH.finditer(name), strict=False)]
            candidates = [(name[: d.start()].strip(), name[d.end() :].strip()) for d in dashes]
            candidates.append(("", name))
            for candidate in candidates:
                if 0 < len(candidate[1]) <= MAX_TITLE_LENGTH and candidate not in found:
                    found.append(candidate)
        return found


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line the reader could not use: its number, its text made safe to show, and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class M3uFile:
    entries: list[M3uEntry] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Track:
    """What the writers need of one song."""

    location: str
    title: str
    artist: str
    album: str = ""
    duration: float | None = None


def decode_playlist_bytes(data: bytes, *, max_bytes: int = MAX_IMPORT_BYTES) -> str:
    """The text of an uploaded playlist file, or :class:`PlaylistFileError` saying why it is not one.

    UTF-8 only (a byte order mark is allowed): M3U8 is defined as UTF-8, and guessing a legacy
    encoding would turn "Motörhead" into "MotÃ¶rhead" without anyone noticing.
    """
    if len(data) > max_bytes:
        raise PlaylistFileError(f"The file is larger than {_size_label(max_bytes)}; a playlist file is much smaller.")
    if not data.strip():
        raise PlaylistFileError("The file is empty.")
    for bom, encoding in _OTHER_BOMS.items():
        if data.startswith(bom):
            raise PlaylistFileError(f"The file is {encoding} text; save it as UTF-8 (an .m3u8 file) and try again.")
    if b"\x00" in data:
        raise PlaylistFileError("This is a binary file, not a playlist.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PlaylistFileError(
            f"The file is not UTF-8 text (byte {error.start + 1} cannot be read); "
            "save it as UTF-8 (an .m3u8 file) and try again."
        ) from None


def parse_m3u8(text: str, *, max_entries: int = MAX_ENTRIES) -> M3uFile:
    """The entries of an M3U or M3U8 playlist, and the lines that could not be used.

    Comments and directives other than ``#EXTINF`` are skipped. A bad line is reported in
    ``bad_lines`` with its number and the reason; reading goes on with the next line.
    """
    result = M3uFile()
    pending: tuple[int, str, int | None] | None = None  # the last #EXTINF: its line, name and length

    def report(number: int, line: str, reason: str) -> None:
        result.bad_lines.append(BadLine(number, _shown(line), reason))

    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if len(line) > MAX_LINE_LENGTH:
            report(number, line, f"the line is longer than {MAX_LINE_LENGTH} characters")
            continue
        if _has_control_characters(line):
            report(number, line, "the line holds control characters, not text")
            continue
        if line.upper().startswith("#EXTINF"):
            if pending is not None:
                report(pending[0], f"#EXTINF:…,{pending[1]}", "no file follows this #EXTINF line")
            match = _EXTINF.match(line)
            if match is None:
                pending = None
                report(number, line, "an #EXTINF line reads #EXTINF:<seconds>,<Artist> - <Title>")
                continue
            seconds = round(float(match["seconds"]))
            pending = (number, _clean_name(match["name"]), seconds if seconds >= 0 else None)
            continue
        if line.startswith("#"):
            continue
        if len(result.entries) >= max_entries:
            report(number, line, f"only the first {max_entries} songs of a file are read")
            break
        # The file name is read only without an #EXTINF name: "03 Intro.flac" could be anyone's "Intro".
        names = [pending[1]] if pending is not None and pending[1] else _names_from_location(line)
        if not names:
            report(number, line, "no song name can be read from this line")
        else:
            result.entries.append(M3uEntry(number, line, tuple(names), pending[2] if pending is not None else None))
        pending = None
    if pending is not None:
        report(pending[0], f"#EXTINF:…,{pending[1]}", "no file follows this #EXTINF line")
    return result


def write_m3u8(tracks: Iterable[Track], *, title: str = "") -> str:
    """An extended M3U playlist (``#EXTINF:<seconds>,<Artist> - <Title>`` then the location), as text.

    Names go on one line each whatever they hold: a line break in a title would otherwise start
    a line of its own, which a player reads as another file.
    """
    lines = ["#EXTM3U"]
    if _one_line(title):
        lines.append(f"#PLAYLIST:{_one_line(title)}")
    for track in tracks:
        seconds = round(track.duration) if track.duration is not None else -1
        name = " - ".join(part for part in (_one_line(track.artist), _one_line(track.title)) if part)
        lines.append(f"#EXTINF:{seconds},{name}")
        lines.append(_one_line(track.location))
    return "\n".join(lines) + "\n"


def write_xspf(tracks: Iterable[Track], *, title: str, annotation: str = "", location: str = "") -> bytes:
    """An XSPF playlist (https://xspf.org/spec) as UTF-8 XML bytes.

    ElementTree does the escaping; characters that XML 1.0 cannot hold at all (most control
    characters) are dropped first, because an escaped one still makes the document invalid.
    """

    def add(parent: ET.Element, tag: str, text: str) -> None:
        if text:
            ET.SubElement(parent, tag).text = text

    # Plain tag names under an xmlns attribute: ElementTree's default_namespace refuses the unqualified
    # "version" attribute that XSPF requires.
    root = ET.Element("playlist", version="1", xmlns=XSPF_NAMESPACE)
    add(root, "title", _one_line(title))
    add(root, "annotation", xml_text(annotation).strip())
    add(root, "location", _one_line(location))
    track_list = ET.SubElement(root, "trackList")
    for track in tracks:
        element = ET.SubElement(track_list, "track")
        add(element, "location", _one_line(track.location))
        add(element, "title", _one_line(track.title))
        add(element, "creator", _one_line(track.artist))
        add(element, "album", _one_line(track.album))
        if track.duration is not None:
            add(element, "duration", str(round(track.duration * 1000)))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _names_from_location(location: str) -> list[str]:
    """ "Artist - Title" readings of a path or URL: the file name, without extension or track number."""
    is_url = bool(_URL_SCHEME.match(location))
    if is_url:
        location = location.split("?", 1)[0].split("#", 1)[0]
    stem = re.split(r"[\\/]", location.rstrip("\\/"))[-1]
    if is_url or "%" in stem:
        stem = unquote(stem, errors="replace")
    if is_url and "." not in stem:
        # A URL such as https://example.org/songs/5/audio names no song.
        return []
    stem = _clean_name(_EXTENSION.sub("", stem).replace("_", " "))
    without_number = _TRACK_NUMBER.sub("", stem)
    return [name for name in dict.fromkeys((stem, without_number)) if name]


def _clean_name(text: str) -> str:
    return " ".join(text.split())


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in text)


def _one_line(text: str) -> str:
    """``text`` without line breaks or control characters, whitespace collapsed."""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return " ".join(xml_text(kept).split())


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (C0 controls but tab and line breaks, U+FFFE, U+FFFF,
    lone surrogates)."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or "\x20" <= ch <= "\ud7ff"
        or "\ue000" <= ch <= "\ufffd"
        or "\U00010000" <= ch <= "\U0010ffff"
    )


def _shown(line: str, limit: int = 120) -> str:
    """A line safe to show back: control characters as "�", at most ``limit`` characters."""
    visible = "".join("\ufffd" if unicodedata.category(ch) == "Cc" and ch != "\t" else ch for ch in line)
    return visible if len(visible) <= limit else visible[: limit - 1] + "…"


def _size_label(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size % (1024 * 1024) == 0 else f"{size // 1024} KB"
