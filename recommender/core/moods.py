"""The four moods songs can be filtered by (happy, sad, calm, energetic), read from their stored tag scores.

The rule, in one place: a song is in a mood when the mean of its scores for the mood's tags is higher than the mean
of its scores for the opposite mood's tags ("happy" against "sad", "calm" against "energetic"). A song is thus in
one mood of each pair at most, and no threshold has to be tuned per tag network. The tags are those of the
vocabulary's concepts of the same name (``vocabulary.json``, read by ``recommender.core.describe``), so the filter
and "Sounds like…" agree on what "calm" means. A tag the embedder lacks is left out of its mean; a mood none of
whose tags the embedder has matches no song.
"""

from __future__ import annotations

from collections.abc import Mapping

from recommender.core.describe import Vocabulary, load_vocabulary

MOODS = ("happy", "sad", "calm", "energetic")


def mood_tags(mood: str, *, vocabulary: Vocabulary | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tags that speak for ``mood`` and those that speak against it (its opposite's), as the vocabulary names
    them (``"msd:sad"``, ``"mtt:soft"``). Raises ``ValueError`` for a mood not in ``MOODS``."""
    if mood not in MOODS:
        raise ValueError(f"{mood!r} is not a mood: choose one of {', '.join(MOODS)}")
    vocabulary = vocabulary or load_vocabulary()
    concept = vocabulary.concepts[mood]
    opposite = vocabulary.concepts[concept.opposite] if concept.opposite else None
    return concept.tags, opposite.tags if opposite else ()


def stored_mood_keys(mood: str, keys: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """``mood_tags`` as the keys a song's tag scores are stored under (``keys``: ``describe.stored_tag_keys``), each
    side without the tags the embedder lacks."""
    wanted, against = mood_tags(mood)
    return [keys[tag] for tag in wanted if tag in keys], [keys[tag] for tag in against if tag in keys]


def in_mood(mood: str, tag_scores: Mapping[str, float], keys: Mapping[str, str]) -> bool:
    """Whether a song with these stored ``tag_scores`` is in ``mood`` (the rule: this module's docstring); the SQL
    twin is ``Embedding.objects.in_mood``, which the tests hold to this."""
    wanted, against = stored_mood_keys(mood, keys)
    if not wanted:
        return False

    def mean(stored: list[str]) -> float:
        return sum(float(tag_scores.get(key, 0.0)) for key in stored) / len(stored) if stored else 0.0

    return mean(wanted) > mean(against)
