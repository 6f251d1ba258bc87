"""Which files in a game package are music: by their extension, and by the folder they sit in.

Both the unpacking (which extracts a ``.pk3`` archive's music but leaves its sound effects) and the track
listing ask this, and must get the same answer.
"""

from __future__ import annotations

from pathlib import PurePosixPath

MUSIC_EXTENSIONS = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})
# Yielded too, so that the importer can say why it skips them rather than pass over them in silence.
TRACKER_EXTENSIONS = frozenset({".mod", ".xm", ".it", ".s3m", ".mtm", ".669", ".umx"})
CANDIDATE_EXTENSIONS = MUSIC_EXTENSIONS | TRACKER_EXTENSIONS

# Folder names that mark sound effects (colobot's sounds/, hyperrogue's sounds/, Quake-style sound/) and the
# ones that mark music even inside them (Nexuiz keeps its soundtrack in sound/cdtracks/).
_EFFECT_DIRS = frozenset({"sound", "sounds", "sfx", "effects"})
_MUSIC_DIRS = frozenset({"music", "musics", "cdtracks", "songs", "soundtrack"})


def is_sound_effect(relative_path: PurePosixPath | str) -> bool:
    """Whether a file's path, relative to its package or archive, says it is a sound effect, not music."""
    parts = [part.lower() for part in PurePosixPath(relative_path).parts[:-1]]
    if any(part in _MUSIC_DIRS for part in parts):
        return False
    return any(part in _EFFECT_DIRS for part in parts)


# Here because the progress lines of every step count what they found: packages, music files, stems.
def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
