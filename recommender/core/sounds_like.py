"""Which of a song's predicted tags are worth showing a person as "Sounds like" (Django-free).

The networks score every tag for every song, so a song's eighth-best tag is often one it barely has, and a
tag about singing ("female vocalists") next to an instrumental reads as a mistake however low its score. So a
tag is shown only when it is confident, and a tag about the voice only when the song is heard to have one:
MagnaTagATune's network has tags for a voice ("vocal", "singing", "choir", ...) and for none ("no vocals"), and
decides it. Measured on the demo catalogue: docs/quality.md, "Tags shown".
"""

from __future__ import annotations

from collections.abc import Mapping

# Below this mean score over the song's windows, a tag says more about the network than the song: the best tag of a
# demo-catalogue song scores 0.34 (median), its eighth 0.06.
MIN_TAG_SCORE = 0.1
# A voice is heard when a voice tag scores at least this, and more than every "no voice" tag: instrumental game music
# scores 0.08 at most on MTT's voice tags, 0.19 where a choir sound is used.
MIN_VOICE_SCORE = 0.25

MTT = "mtt:"
# MTT's tags that say a voice is there (each is also a tag about the voice: shown only with one heard).
MTT_VOICE = frozenset(
    {
        "vocal",
        "vocals",
        "voice",
        "singing",
        "male vocal",
        "female vocal",
        "male voice",
        "female voice",
        "choir",
        "choral",
        "opera",
        "male",
        "female",
        "man",
        "woman",
    }
)
MTT_NO_VOICE = frozenset({"no vocal", "no vocals", "no voice"})
# MSD's: about the voice, and its one tag for none.
MSD_VOICE = frozenset({"female vocalists", "male vocalists", "female vocalist"})
MSD_NO_VOICE = frozenset({"instrumental"})


def hears_voice(tag_scores: Mapping[str, float]) -> bool:
    """Whether the song has a voice, by its voice and no-voice tags (MTT's when it has them, else MSD's)."""
    if any(key.startswith(MTT) for key in tag_scores):
        voice = [tag_scores.get(MTT + tag, 0.0) for tag in MTT_VOICE]
        none = [tag_scores.get(MTT + tag, 0.0) for tag in MTT_NO_VOICE]
    else:
        voice = [tag_scores.get(tag, 0.0) for tag in MSD_VOICE]
        none = [tag_scores.get(tag, 0.0) for tag in MSD_NO_VOICE]
    return max(voice) >= MIN_VOICE_SCORE and max(voice) > max(none, default=0.0)


def is_about_the_voice(key: str) -> bool:
    """Whether a stored tag key (``"female vocalists"``, ``"mtt:male vocal"``) describes a voice."""
    return key[len(MTT) :] in MTT_VOICE if key.startswith(MTT) else key in MSD_VOICE


def sounds_like(tag_scores: Mapping[str, float], n: int = 8) -> list[tuple[str, float]]:
    """The ``n`` best tags to show, each named once (a tag both networks have keeps its higher score), best first.

    Only tags scoring at least ``MIN_TAG_SCORE``, and none about the voice unless ``hears_voice``; fewer than ``n``,
    or none, when the networks are not sure of more.

    Parameters
    ----------
    tag_scores : mapping of stored tag key (``"rock"``, ``"mtt:guitar"``) to mean score, 0 to 1
    n : at most this many tags
    """
    voiced = hears_voice(tag_scores)
    best: dict[str, float] = {}
    for key, score in tag_scores.items():
        if score < MIN_TAG_SCORE or (not voiced and is_about_the_voice(key)):
            continue
        name = key.rpartition(":")[2]
        best[name] = max(score, best.get(name, 0.0))
    return sorted(best.items(), key=lambda item: item[1], reverse=True)[:n]
