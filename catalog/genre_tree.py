"""Where a genre sits: "Death Metal" under "Metal", "Techno" under "Electronic" (Django-free).

Tags name genres at any depth. Placing a new genre under its broader one when it is first seen
lets the genre filter roll sub-genres up without anyone editing the tree by hand; the admin can
still move a genre anywhere.
"""

from __future__ import annotations

from catalog.text import fold

# Broad genres whose name, as the last word of another genre, marks that one as a sub-genre.
BROAD_GENRES = {
    "rock": "Rock",
    "metal": "Metal",
    "pop": "Pop",
    "jazz": "Jazz",
    "blues": "Blues",
    "folk": "Folk",
    "punk": "Punk",
    "classical": "Classical",
    "electronic": "Electronic",
    "electronica": "Electronic",
    "soul": "Soul",
    "funk": "Funk",
    "country": "Country",
    "reggae": "Reggae",
    "hip hop": "Hip hop",
    "rap": "Hip hop",
    "ambient": "Ambient",
    "soundtrack": "Soundtrack",
}

# Sub-genres whose names do not end in their parent's name.
KNOWN_PARENTS = {
    "punk": "Rock",
    "grunge": "Rock",
    "shoegaze": "Rock",
    "techno": "Electronic",
    "house": "Electronic",
    "trance": "Electronic",
    "dubstep": "Electronic",
    "drum and bass": "Electronic",
    "drum & bass": "Electronic",
    "idm": "Electronic",
    "synthwave": "Electronic",
    "chiptune": "Electronic",
    "edm": "Electronic",
    "bebop": "Jazz",
    "swing": "Jazz",
    "ragtime": "Jazz",
    "baroque": "Classical",
    "opera": "Classical",
    "symphony": "Classical",
    "orchestral": "Classical",
    "trip hop": "Electronic",
    "game": "Video game music",
    "video game": "Video game music",
    "video game music": "Soundtrack",
    "score": "Soundtrack",
}

# Tag values that say "no genre" rather than name one.
NOT_A_GENRE = frozenset({"", "none", "(none)", "unknown", "<unknown>", "genre", "misc", "n/a", "-", "other", "music"})


def is_genre(name: str) -> bool:
    return fold(name) not in NOT_A_GENRE


def broader_genre(name: str) -> str | None:
    """The name of the genre directly above ``name``, or None for a top-level genre.

    >>> broader_genre("Melodic Death Metal")
    'Metal'
    >>> broader_genre("Techno")
    'Electronic'
    """
    folded = fold(name).replace("-", " ")
    if folded in KNOWN_PARENTS:
        return KNOWN_PARENTS[folded]
    for suffix, parent in BROAD_GENRES.items():
        if folded != suffix and folded.endswith(" " + suffix):
            return parent
    return None
