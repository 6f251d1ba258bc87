"""Reading Debian copyright files: who holds the copyright on a packaged file, and under which licence.

Machine-readable (DEP-5) files name a licence per ``Files:`` paragraph; older free-form ones are read for the
first well-known licence wording and the "Copyright (C) YEARS NAME" notices outside Debian's packaging notes.
The demo catalogue keeps both with every song, since the licences of these soundtracks ask for attribution.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

UNKNOWN_LICENCE = "unknown"
_MAX_HOLDERS = 5


@dataclass(frozen=True)
class CopyrightStanza:
    """Who holds the copyright on the files matching ``patterns``, and under which licence.

    A DEP-5 copyright file gives one stanza per ``Files:`` paragraph; a free-form one gives a single stanza
    that covers everything (``patterns == ("*",)``).
    """

    patterns: tuple[str, ...]
    licence: str
    holders: tuple[str, ...]

    @property
    def attribution(self) -> str:
        if len(self.holders) > _MAX_HOLDERS:
            return ", ".join(self.holders[:_MAX_HOLDERS]) + " and others"
        return ", ".join(self.holders)


def parse_copyright(text: str) -> list[CopyrightStanza]:
    """Read a Debian copyright file, machine-readable (DEP-5) or free-form.

    For DEP-5, each ``Files:`` paragraph becomes a stanza with the short name of its ``License:`` field.
    A free-form file becomes one stanza: the licence is recognised from its first well-known wording
    (a Creative Commons name or address, the GNU GPL's "version N ... or any later version", the Expat
    permission notice) and the holders from "Copyright (C) YEARS NAME" lines outside Debian's packaging notes.
    """
    if re.match(r"\s*Format:", text):
        return _parse_dep5(text)
    return [CopyrightStanza(patterns=("*",), licence=_free_form_licence(text), holders=_free_form_holders(text))]


def licence_for(stanzas: Sequence[CopyrightStanza], relative_path: str) -> CopyrightStanza | None:
    """The stanza covering ``relative_path`` (a path inside the unpacked package): the last match, as in DEP-5.

    Copyright files name files by their place in the *source* tree (``base/music/David01.ogg``) while we see
    them where the package installs them (``usr/share/games/ufoai/base/0music.pk3.extracted/music/David01.ogg``),
    so a pattern also matches the end of the path, and may lose its leading folders down to the last two parts.
    """
    found = None
    for stanza in stanzas:
        if any(_pattern_matches(pattern, relative_path) for pattern in stanza.patterns):
            found = stanza
    return found


def _pattern_matches(pattern: str, relative_path: str) -> bool:
    parts = pattern.strip("/").split("/")
    while True:
        tail = "/".join(parts)
        # In DEP-5 "*" matches "/" too, as fnmatch's does.
        if fnmatch.fnmatchcase(relative_path, tail) or fnmatch.fnmatchcase(relative_path, "*/" + tail):
            return True
        if len(parts) <= 2:
            return False
        parts = parts[1:]


def _parse_dep5(text: str) -> list[CopyrightStanza]:
    stanzas = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields = _dep5_fields(paragraph)
        if "files" not in fields:
            continue
        licence_lines = fields.get("license", [""])
        stanzas.append(
            CopyrightStanza(
                patterns=tuple(" ".join(fields["files"]).split()),
                licence=licence_lines[0].strip() or UNKNOWN_LICENCE,
                holders=_unique(_clean_holder(line) for line in fields.get("copyright", [])),
            )
        )
    return stanzas


def _dep5_fields(paragraph: str) -> dict[str, list[str]]:
    """Field name (lower case) to its lines: the text after the colon, then each continuation line."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in paragraph.splitlines():
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t"):
            if current is not None and line.strip() != ".":
                current.append(line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            current = fields.setdefault(name.strip().lower(), [])
            current.append(value.strip())
    return {name: [line for line in lines if line] or [""] for name, lines in fields.items()}


_YEARS = r"\d{4}(?:\s*(?:[-–,/]|and)\s*\d{2,4})*"


def _clean_holder(line: str) -> str:
    holder = re.sub(r"^(?:copyright\s*)?(?:\(c\)|©)?\s*", "", line.strip(), flags=re.I)
    holder = re.sub(rf"^{_YEARS}\s*,?\s*(?:by\s+)?", "", holder)
    holder = re.sub(r"<[^>]*>|\S+@\S+", "", holder)  # e-mail addresses
    holder = re.sub(r"\((?:https?://|www\.)[^)]*\)", "", holder)  # home pages
    holder = re.sub(r"\s+", " ", holder).strip(" ,;")
    return "" if holder.lower() in {"no-copyright", "none", "unknown"} else holder


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


# Wordings that name a licence in free-form copyright files, with the DEP-5 short name they stand for.
_LICENCE_WORDINGS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"creativecommons\.org/licenses/(by(?:-nc)?(?:-sa|-nd)?)/(\d\.\d)", re.I),
        lambda m: f"CC-{m[1].upper()}-{m[2]}",
    ),
    (
        re.compile(r"Attribution[- ]?Share[- ]?Alike\D{0,20}?(\d\.\d)", re.I),
        lambda m: f"CC-BY-SA-{m[1]}",
    ),
    (
        re.compile(
            r"GNU (Lesser |Library )?General Public Licen[cs]e\W{0,3}(?:as published by the Free Software "
            r"Foundation\W{0,3})?(?:either )?version (\d(?:\.\d)?)(?P<later>[^.]{0,80}?later version)?",
            re.I,
        ),
        lambda m: f"{'L' if m[1] else ''}GPL-{m[2]}{'+' if m['later'] else ''}",
    ),
    (
        re.compile(r"Permission is hereby granted, free of charge, to any person obtaining a copy", re.I),
        lambda m: "Expat",
    ),
    (
        re.compile(r"\bGPL\s*v?(\d)(\+| or later)?", re.I),
        lambda m: f"GPL-{m[1]}{'+' if m[2] else ''}",
    ),
)


def _free_form_licence(text: str) -> str:
    flat = re.sub(r"\s+", " ", text)
    found: list[tuple[int, int, str]] = []
    for rank, (wording, short_name) in enumerate(_LICENCE_WORDINGS):
        if match := wording.search(flat):
            found.append((match.start(), rank, short_name(match)))
    # The licence of the work comes first in these files; later ones cover fonts, scripts or the packaging.
    return min(found)[2] if found else UNKNOWN_LICENCE


_NOTICE = re.compile(
    rf"(?:copyright\s*(?:\(c\)|©)?|©)\s*(?P<years>{_YEARS})\s*,?\s*(?:by\s+)?"
    r"(?P<holder>[^<>]+?)\s*(?=<|\(|\bcopyright\b|©|\ball rights\b|\band (?:are|is) licen|\.\s|\.?$)",
    re.I,
)


def _free_form_holders(text: str) -> tuple[str, ...]:
    holders = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        flat = re.sub(r"\s+", " ", paragraph).strip()
        if re.search(r"debian", flat, re.I) and re.search(r"packag", flat, re.I):
            continue  # the packaging's authors are not the music's
        holders.extend(_clean_holder(match["holder"]) for match in _NOTICE.finditer(flat))
    if not holders:
        # Some files only say "Upstream Author: Name <mail>".
        match = re.search(r"^Upstream Authors?:?\s*(.+?)\s*(?:<|$)", text, re.I | re.M)
        if match is None:
            match = re.search(r"^Upstream Authors?:?\s*\n\s+(.+?)\s*(?:<|$)", text, re.I | re.M)
        if match:
            holders.append(_clean_holder(match[1]))
    return _unique(holders)
