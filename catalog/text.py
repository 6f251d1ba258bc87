"""Text folding shared by the search document and search queries (Django-free)."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so "Motörhead" and "motorhead" meet.

    Done in Python rather than with PostgreSQL's ``unaccent()`` because ``unaccent`` is not
    IMMUTABLE and so cannot sit inside the expression indexes that make search fast.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def words(text: str, *, limit: int = 12) -> list[str]:
    """The first ``limit`` word tokens of folded ``text``; punctuation and quotes are dropped."""
    return _WORD.findall(fold(text))[:limit]


def prefix_tsquery(text: str) -> str:
    """A raw ``tsquery`` matching every word of ``text`` as a prefix ("wesn" finds "wesnoth").

    Only ``\\w`` characters survive ``words()``, so user input cannot inject tsquery syntax.
    """
    return " & ".join(f"{word}:*" for word in words(text))
