"""Music described in words ("calm piano", "fast 8-bit", "around 90 bpm"): read, and songs ranked (Django-free).

Nothing is learnt and nothing is downloaded: a hand-curated vocabulary (``vocabulary.json`` beside this module)
names, for each *concept* ("calm", "piano", "chiptune"), the words and phrases that mean it, the stored tags it
wants (``msd:`` the Million Song Dataset network's 50 tags, ``mtt:`` MagnaTagATune's 50), the tempo or energy it
wants, and its opposite ("calm" ↔ "energetic", "slow" ↔ "fast", "sad" ↔ "happy").

``parse`` reads a description into a ``Query``: the terms it understood, each with its targets, and the words it did
not. Phrases win over words ("no vocals" is the instrumental concept, "classic rock" is not "classic" + "rock"); a
negation ("no", "not", "without") turns the next term around ("without drums": less drums); "120 bpm",
"around 90 bpm" and "100-120 bpm" are tempo targets.

``rank`` scores songs from their stored tag scores and descriptors. Every measure is first turned into a
percentile among the songs scored (0 the lowest, 1 the highest, ties averaged), because the networks' tags have very
different base rates ("rock" scores 0.3 on songs "sad" never reaches) and a target names several tags. For song i::

    score_i = (1 / T) · Σ_terms Σ_targets (w_target / W_term) · m_i(target)

- a **tags** target: m = the mean percentile of its tags (1 − that when it wants less of them: a negation, or the
  opposite concept's tags, which every term wants less of at half weight);
- a **tempo direction** ("fast"/"slow"): m = the tempo's percentile (1 − it for slow);
- a **tempo in BPM**: m = exp(−½ (d / σ)²), d the distance in octaves (log2) from the range asked, σ = 0.05 for
  "120 bpm" (±3.5 %), 0.1 for "around 120 bpm";
- an **energy** target ("loud", "calm"): m = the mean percentile of energy and loudness (1 − it for low energy).

Each term weighs the same (its targets' weights ``w`` are shared out within it, ``W_term`` their sum), so "calm
piano" wants calm as much as piano. A measure a song lacks (no tempo estimated) counts 0.5, neither for nor against
(0 for a BPM asked); a tag the embedder does not have (MTT's "piano" when only the MSD network ran) drops out of
its target, and a term with nothing left drops out of the score (``unscorable`` names them). Scores are 0 to 1.
Measured on the demo catalogue: docs/quality.md, "Sounds like…".
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from recommender.core.embedders import EmbedderCard, tag_key
from recommender.core.tagger import load_spec

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.json")
# A description is a few words; the bounds keep a request's parsing trivial whatever is pasted in.
MAX_CHARACTERS = 200
MAX_WORDS = 20
# The longest phrase in the vocabulary, in words ("rock n roll", "song with words").
MAX_PHRASE_WORDS = 4
OPPOSITE_WEIGHT = 0.5
EXACT_BPM_SIGMA, AROUND_BPM_SIGMA = 0.05, 0.1
DESCRIPTORS = ("tempo_bpm", "energy", "loudness_db")
EXAMPLE_WORDS = ("calm", "fast", "sad", "happy", "piano", "guitar", "strings", "8-bit")
EXAMPLES = ("calm piano", "fast aggressive guitar", "sad strings at night", "happy 8-bit chiptune", "around 90 bpm")

# Tempos a song can have (what the tempo filters accept too); "00 bpm" is a typo, not a target.
SLOWEST_BPM, FASTEST_BPM = 30, 300
_TEMPO = re.compile(
    r"(?:\b(around|about|roughly|approximately|approx\.?|near|circa|~)\s*)?"
    r"\b(\d{2,3})(?:\s*(?:-|–|to)\s*(\d{2,3}))?\s*(?:bpm\b|beats (?:per|a) minute\b)"
)
_WORD = re.compile(r"[a-z0-9&'][a-z0-9&'\-]*")


class DescriptionError(ValueError):
    """A description that cannot be searched for: empty, too long, or with no word understood (``unknown``)."""

    def __init__(self, message: str, *, unknown: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.unknown = tuple(unknown)


@dataclass(frozen=True)
class Target:
    """What one term wants of a song.

    ``kind`` "tags": more (``direction`` 1) or less (-1) of ``tags`` (``"msd:sad"``, ``"mtt:piano"``); "tempo": a
    faster (1) or slower (-1) tempo, or, with ``bpm`` (low, high), a tempo in that range, ``sigma`` octaves of slack;
    "energy": more (1) or less (-1) energy and loudness.
    """

    kind: Literal["tags", "tempo", "energy"]
    weight: float = 1.0
    direction: int = 1
    tags: tuple[str, ...] = ()
    bpm: tuple[float, float] | None = None
    sigma: float = EXACT_BPM_SIGMA

    def describe(self) -> str:
        if self.kind == "tags":
            names = ", ".join(dict.fromkeys(tag.partition(":")[2] for tag in self.tags))
            return names if self.direction > 0 else f"less {names}"
        if self.kind == "tempo" and self.bpm is not None:
            low, high = self.bpm
            around = "about " if self.sigma > EXACT_BPM_SIGMA else ""
            return f"tempo {around}{low:g} BPM" if low == high else f"tempo {low:g}–{high:g} BPM"
        if self.kind == "tempo":
            return "faster tempo" if self.direction > 0 else "slower tempo"
        return "more energy" if self.direction > 0 else "less energy"


@dataclass(frozen=True)
class Term:
    """One understood piece of a description: ``text`` as read ("no drums"), its ``concept`` and its targets."""

    text: str
    concept: str
    targets: tuple[Target, ...]
    negated: bool = False

    def describe(self) -> str:
        """What the term asks for, in words ("mtt:piano" → "piano"; the opposite's tags left out)."""
        wanted = [t for t in self.targets if t.weight >= 1.0]
        return "; ".join(t.describe() for t in wanted)


@dataclass(frozen=True)
class Query:
    """A description read by ``parse``: the terms understood, the words not, and whether words were left unread."""

    text: str
    terms: tuple[Term, ...]
    unknown: tuple[str, ...] = ()
    truncated: bool = False

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag a target names, each once, in order."""
        return tuple(dict.fromkeys(tag for term in self.terms for target in term.targets for tag in target.tags))


@dataclass(frozen=True)
class Concept:
    name: str
    words: tuple[str, ...]
    tags: tuple[str, ...]
    tempo: Literal["slow", "fast"] | None = None
    energy: Literal["low", "high"] | None = None
    opposite: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    concepts: dict[str, Concept]
    phrases: dict[tuple[str, ...], str]  # words of a phrase → concept name
    negations: frozenset[str]
    ignored: frozenset[tuple[str, ...]] = field(default_factory=frozenset)

    def examples(self) -> list[str]:
        return [word for word in EXAMPLE_WORDS if _split(word) in self.phrases]


def _split(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(phrase.lower()))


@functools.cache
def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    """The vocabulary file, read once per process; raises ``ValueError`` on a word in two concepts or a bad opposite."""
    data = json.loads(path.read_text(encoding="utf-8"))
    concepts: dict[str, Concept] = {}
    phrases: dict[tuple[str, ...], str] = {}
    for name, entry in data["concepts"].items():
        concept = Concept(
            name=name,
            words=tuple(entry["words"]),
            tags=tuple(entry["tags"]),
            tempo=entry.get("tempo"),
            energy=entry.get("energy"),
            opposite=entry.get("opposite"),
        )
        concepts[name] = concept
        for word in concept.words:
            key = _split(word)
            if key in phrases and phrases[key] != name:
                raise ValueError(f"{word!r} is in two concepts: {phrases[key]} and {name}")
            if not key or len(key) > MAX_PHRASE_WORDS:
                raise ValueError(f"{word!r} ({name}) must be 1 to {MAX_PHRASE_WORDS} words")
            phrases[key] = name
    for concept in concepts.values():
        if concept.opposite is not None and concept.opposite not in concepts:
            raise ValueError(f"{concept.name}'s opposite {concept.opposite!r} is no concept")
    return Vocabulary(
        concepts=concepts,
        phrases=phrases,
        negations=frozenset(data["negations"]),
        ignored=frozenset(_split(word) for word in data["ignored"]),
    )


def _concept_targets(vocabulary: Vocabulary, concept: Concept, *, negated: bool) -> tuple[Target, ...]:
    sign = -1 if negated else 1
    targets = [Target("tags", direction=sign, tags=concept.tags)]
    if concept.tempo is not None:
        targets.append(Target("tempo", direction=sign * (1 if concept.tempo == "fast" else -1)))
    if concept.energy is not None:
        targets.append(Target("energy", direction=sign * (1 if concept.energy == "high" else -1)))
    if concept.opposite is not None and not negated:
        opposite = vocabulary.concepts[concept.opposite]
        targets.append(Target("tags", weight=OPPOSITE_WEIGHT, direction=-1, tags=opposite.tags))
    return tuple(targets)


def _tempo_term(match: re.Match[str]) -> Term:
    around, low, high = match.group(1), float(match.group(2)), float(match.group(3) or match.group(2))
    low, high = min(low, high), max(low, high)
    if low < SLOWEST_BPM or high > FASTEST_BPM:
        raise DescriptionError(
            f"A tempo is {SLOWEST_BPM}-{FASTEST_BPM} bpm: “{' '.join(match.group(0).split())}” is not."
        )
    sigma = AROUND_BPM_SIGMA if around else EXACT_BPM_SIGMA
    text = " ".join(match.group(0).split())
    return Term(text, "tempo", (Target("tempo", bpm=(low, high), sigma=sigma),))


def parse(text: str, *, vocabulary: Vocabulary | None = None) -> Query:
    """Read a description into the terms understood and the words not.

    Raises ``DescriptionError`` for an empty description, one over ``MAX_CHARACTERS``, and one in which no word is
    understood (its ``unknown`` lists them). Only the first ``MAX_WORDS`` words are read (``Query.truncated``).
    """
    vocabulary = vocabulary or load_vocabulary()
    text = " ".join(text.split())
    if not text:
        raise DescriptionError(f"Describe the music in a few words, for example “{EXAMPLES[0]}” or “{EXAMPLES[3]}”.")
    if len(text) > MAX_CHARACTERS:
        raise DescriptionError(
            f"That description is {len(text):,} characters long: describe the music in at most {MAX_CHARACTERS}."
        )
    lowered = text.lower()
    # Tempos are read first, from the text as written ("~90 bpm"), and their place kept so terms stay in order.
    found: list[tuple[int, Term]] = [(m.start(), _tempo_term(m)) for m in _TEMPO.finditer(lowered)]
    rest = _TEMPO.sub(lambda m: " " * len(m.group(0)), lowered)
    words: list[tuple[int, str]] = []
    for m in _WORD.finditer(rest):
        word = m.group(0).strip("-'")
        if not word:
            continue
        # A hyphenated word the vocabulary lacks is read as its parts ("piano-driven" → piano, driven).
        if "-" in word and (word,) not in vocabulary.phrases:
            offset = m.start()
            for part in word.split("-"):
                if part:
                    words.append((offset, part))
                offset += len(part) + 1
        else:
            words.append((m.start(), word))
    truncated = len(words) + len(found) > MAX_WORDS
    words = words[: max(0, MAX_WORDS - len(found))]

    unknown: list[str] = []
    negation: tuple[int, str] | None = None
    i = 0
    while i < len(words):
        position, word = words[i]
        for length in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            key = tuple(w for _, w in words[i : i + length])
            if key in vocabulary.phrases:
                concept = vocabulary.concepts[vocabulary.phrases[key]]
                shown = " ".join(key)
                if negation is not None:
                    position, shown = negation[0], f"{negation[1]} {shown}"
                found.append(
                    (
                        position,
                        Term(
                            shown,
                            concept.name,
                            _concept_targets(vocabulary, concept, negated=bool(negation)),
                            negated=bool(negation),
                        ),
                    )
                )
                negation = None
                i += length
                break
            if key in vocabulary.ignored:
                i += length
                break
        else:
            if word in vocabulary.negations:
                negation = (position, word)
            else:
                unknown.append(word)
                negation = None
            i += 1

    terms: dict[tuple[str, bool], Term] = {}
    for _, term in sorted(found, key=lambda item: item[0]):
        terms.setdefault((term.text if term.concept == "tempo" else term.concept, term.negated), term)
    unknown = list(dict.fromkeys(unknown))
    if not terms:
        if unknown:
            listed = ", ".join(f"“{word}”" for word in unknown)
            raise DescriptionError(
                f"No word of this description is in the vocabulary ({listed}). "
                f"Try words such as {', '.join(vocabulary.examples())}, or a tempo such as “120 bpm”.",
                unknown=unknown,
            )
        raise DescriptionError(
            f"Nothing in “{text}” describes a sound. Try words such as {', '.join(vocabulary.examples())}."
        )
    return Query(text=text, terms=tuple(terms.values()), unknown=tuple(unknown), truncated=truncated)


def percentiles(values: np.ndarray) -> np.ndarray:
    """Each value's percentile among the others, 0 (lowest) to 1 (highest), ties averaged; NaN stays NaN.

    Parameters
    ----------
    values : np.ndarray [shape=(n,)]

    Returns
    -------
    np.ndarray [shape=(n,)], float64; 0.5 for a lone value
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    known = ~np.isnan(values)
    n = int(known.sum())
    if n == 1:
        out[known] = 0.5
    elif n > 1:
        ordered = np.sort(values[known])
        left = np.searchsorted(ordered, values[known], "left")
        right = np.searchsorted(ordered, values[known], "right") - 1
        out[known] = (left + right) / 2 / (n - 1)
    return out


def _mean_known(columns: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of each song's known values across ``columns``; 0.5 (neither for nor against) where none is."""
    stacked = np.stack(columns)
    known = ~np.isnan(stacked)
    counts = known.sum(axis=0)
    return np.where(counts > 0, np.where(known, stacked, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.5)


def _fill(values: np.ndarray, neutral: float) -> np.ndarray:
    return np.where(np.isnan(values), neutral, values)


def _target_match(
    target: Target, *, tag_percentiles: Mapping[str, np.ndarray], descriptors: Mapping[str, np.ndarray], n: int
) -> np.ndarray | None:
    """m(target) per song, 0 to 1 [shape=(n,)]; None when the songs have nothing to measure it by."""
    if target.kind == "tags":
        columns = [tag_percentiles[tag] for tag in target.tags if tag in tag_percentiles]
        if not columns:
            return None
        match = _mean_known(columns)
        return match if target.direction > 0 else 1.0 - match
    if target.kind == "energy":
        parts = [percentiles(descriptors[name]) for name in ("energy", "loudness_db") if name in descriptors]
        if not parts:
            return None
        match = _mean_known(parts)
        return match if target.direction > 0 else 1.0 - match
    if "tempo_bpm" not in descriptors:
        return None
    tempo = np.asarray(descriptors["tempo_bpm"], dtype=np.float64)
    if target.bpm is None:
        match = _fill(percentiles(tempo), 0.5)
        return match if target.direction > 0 else 1.0 - match
    low, high = target.bpm
    with np.errstate(divide="ignore", invalid="ignore"):
        octaves = np.maximum.reduce([np.zeros(n), np.log2(low / tempo), np.log2(tempo / high)])
    return _fill(np.exp(-0.5 * (octaves / target.sigma) ** 2), 0.0)


def unscorable(query: Query, tag_columns: Sequence[str], descriptors: Sequence[str] = DESCRIPTORS) -> list[Term]:
    """The terms ``rank`` must leave out: none of their targets is measured (a tag the embedder lacks)."""
    available = set(tag_columns)
    out = []
    for term in query.terms:
        if not any(
            (t.kind == "tags" and t.weight >= 1.0 and available.intersection(t.tags))
            or (t.kind == "tempo" and "tempo_bpm" in descriptors)
            or (t.kind == "energy" and {"energy", "loudness_db"}.intersection(descriptors))
            for t in term.targets
        ):
            out.append(term)
    return out


def rank(
    query: Query, *, tag_matrix: np.ndarray, tag_columns: Sequence[str], descriptors: Mapping[str, np.ndarray]
) -> np.ndarray:
    """How well each song matches ``query``, 0 to 1 (the formula: this module's docstring).

    Parameters
    ----------
    query : Query
        From ``parse``.
    tag_matrix : np.ndarray [shape=(n, t)]
        The songs' stored tag scores, NaN where a song has none for a tag.
    tag_columns : sequence of t str
        The tag of each column, as the vocabulary names them (``"msd:sad"``, ``"mtt:piano"``).
    descriptors : mapping of str to np.ndarray [shape=(n,)]
        ``"tempo_bpm"``, ``"energy"``, ``"loudness_db"`` (any may be missing), NaN where a song lacks the value.

    Returns
    -------
    scores : np.ndarray [shape=(n,)], float64; all 0 when no term can be measured
    """
    tag_matrix = np.asarray(tag_matrix, dtype=np.float64)
    n = tag_matrix.shape[0]
    if tag_matrix.ndim != 2 or tag_matrix.shape[1] != len(tag_columns):
        raise ValueError(f"tag_matrix {tag_matrix.shape} does not have one column per tag ({len(tag_columns)})")
    for name, values in descriptors.items():
        if np.shape(values) != (n,):
            raise ValueError(f"descriptor {name!r} has shape {np.shape(values)}, not ({n},)")
    wanted = set(query.tags)
    tag_percentiles = {
        tag: percentiles(tag_matrix[:, j])
        for j, tag in enumerate(tag_columns)
        if tag in wanted and not np.isnan(tag_matrix[:, j]).all()
    }
    scores = np.zeros(n)
    scored_terms = 0
    for term in query.terms:
        matches = [
            (target.weight, match)
            for target in term.targets
            if (match := _target_match(target, tag_percentiles=tag_percentiles, descriptors=descriptors, n=n))
            is not None
        ]
        total = sum(weight for weight, _ in matches)
        if not matches or not any(weight >= 1.0 for weight, _ in matches):
            continue
        scores += sum(weight * match for weight, match in matches) / total
        scored_terms += 1
    return scores / scored_terms if scored_terms else scores


def stored_tag_keys(card: EmbedderCard) -> dict[str, str]:
    """Each tag of ``card``'s networks as the vocabulary names it (``"mtt:piano"``), mapped to the key it is stored
    under among a song's tag scores (``tag_key``: the primary network's plainly, ``"mtt:piano"`` otherwise)."""
    return {
        f"{network.split('_')[0]}:{tag}": tag_key(card, network, tag)
        for network in card.networks
        for tag in load_spec(network).tags
    }
