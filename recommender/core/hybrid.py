"""The blend of how songs sound with what people play together (Django-free).

Every list that recommends ranks a pool of candidates by audio first (nearest to a song, a taste centre, a radio's
target). Where the collaborative model knows both sides, each candidate's score becomes a weighted mix of its audio
score and its collaborative score (Burke's *weighted hybrid*, 2002), each standardised within the pool:

    score = (1 - w) * z(audio) + w * z(collaborative),    w = max_weight * min(1, listeners / song_evidence)
                                                                        * min(1, history / person_evidence)

Standard scores (z), not raw values, are mixed: cosine similarities of 0.7-0.9 and collaborative predictions of
0-1.2 are on scales that differ by list and by model. Standard scores rather than ranks keep each side's confidence:
the model's few clear favourites stand far above the rest, and there it speaks; where its predictions are flat, the
sound decides (docs/quality.md, "Hybrid": ranks lost to the collaborative side alone on the simulated listeners,
standard scores beat both). The weight grows with the evidence on both sides: a song nobody has played, or a person
(or seed song) the model has not met, gets w = 0, and then the order is exactly the audio order: cold start is served
by audio alone, as before the blend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class HybridError(ValueError):
    """Arrays or settings handed to the blend that do not fit together."""


@dataclass(frozen=True)
class BlendSettings:
    """How far the collaborative side may speak (``max_weight``, 0 to 1) and the evidence at which it speaks fully:
    ``song_evidence`` listeners of the candidate and ``person_evidence`` songs in the person's history (or
    listeners of the seed song, for a list made from one song)."""

    max_weight: float = 0.8
    song_evidence: float = 10.0
    person_evidence: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_weight <= 1.0:
            raise HybridError(f"max_weight must be between 0 and 1, not {self.max_weight}")
        if self.song_evidence <= 0 or self.person_evidence <= 0:
            raise HybridError("song_evidence and person_evidence must be positive")


AUDIO = "audio"
TOGETHER = "together"
# The fewest of a pool's songs the model must know for its standard scores to mean anything.
MIN_KNOWN = 3


@dataclass(frozen=True)
class Blend:
    """The blended order of a pool: ``order`` (indices into the pool, best first), each candidate's ``score``,
    ``weight`` (its collaborative share) and ``side`` (``TOGETHER`` where that side placed it: rated above the pool's
    average and above its own audio score, and so placed higher than by audio alone; else ``AUDIO``)."""

    order: np.ndarray
    score: np.ndarray
    weight: np.ndarray
    side: list[str]


def standard_scores(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Each finite value's standard score ((x - mean) / standard deviation) against the finite values of
    ``reference`` (``values`` themselves by default; 0 when they are all equal); NaN stays NaN. [shape=(n,)]"""
    values = np.asarray(values, dtype=np.float64)
    reference = values if reference is None else np.asarray(reference, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    known = reference[np.isfinite(reference)]
    if not finite.any() or not len(known):
        return out
    spread = known.std()
    out[finite] = (values[finite] - known.mean()) / spread if spread > 0 else 0.0
    return out


def blend_weights(listeners: np.ndarray, person: float, settings: BlendSettings) -> np.ndarray:
    """The collaborative share of each candidate [shape=(n,)], from its number of listeners in the model and the
    person's side of the evidence (0 for someone the model does not know)."""
    listeners = np.asarray(listeners, dtype=np.float64)
    if not np.isfinite(listeners).all() or (listeners < 0).any():
        raise HybridError("listener counts must be finite and not negative")
    if not np.isfinite(person) or person < 0:
        raise HybridError(f"the person's evidence must be finite and not negative, not {person}")
    song_side = np.minimum(1.0, listeners / settings.song_evidence)
    person_side = min(1.0, person / settings.person_evidence)
    return settings.max_weight * song_side * person_side


def blend(
    audio: np.ndarray,
    collaborative: np.ndarray,
    listeners: np.ndarray,
    person: float,
    settings: BlendSettings,
    reference: np.ndarray | None = None,
) -> Blend:
    """Blend a pool of candidates.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], higher is better (a similarity, or minus a distance); finite
    collaborative : np.ndarray [shape=(n,)], the model's prediction, higher is better; NaN where the model does
        not know the candidate (it is then ranked by audio alone)
    listeners : np.ndarray [shape=(n,)], each candidate's listeners in the model (0 where unknown)
    person : the person's (or seed song's) evidence, ``blend_weights``
    reference : np.ndarray [shape=(n,)], optional: the model's predictions the collaborative scores are standardised
        against, where ``collaborative`` leaves out candidates that may not be ranked by it (not vouched for, in the
        product) but whose predictions still say what an ordinary one is; ``collaborative`` by default

    With every weight 0 the order is the audio order, ties kept in pool order.
    """
    audio = np.asarray(audio, dtype=np.float64)
    collaborative = np.asarray(collaborative, dtype=np.float64)
    listeners = np.asarray(listeners, dtype=np.float64)
    if not (audio.shape == collaborative.shape == listeners.shape) or audio.ndim != 1:
        raise HybridError(
            f"audio {audio.shape}, collaborative {collaborative.shape} and listeners {listeners.shape} must be equal"
        )
    if not np.isfinite(audio).all():
        raise HybridError("audio scores must be finite")
    if np.isinf(collaborative).any():
        raise HybridError("collaborative scores must be finite or NaN")
    weight = blend_weights(listeners, person, settings)
    weight = np.where(np.isnan(collaborative), 0.0, weight)
    audio_score = standard_scores(audio)
    if reference is not None and np.asarray(reference).shape != collaborative.shape:
        raise HybridError(f"reference {np.asarray(reference).shape} must be shaped as collaborative")
    known = collaborative if reference is None else np.asarray(reference, dtype=np.float64)
    known = known[np.isfinite(known)]
    if len(known) < MIN_KNOWN or not known.std() > 0:
        # Too few predictions to say what an ordinary one is: the model has nothing to say about this pool.
        weight = np.zeros_like(weight)
    together_score = np.nan_to_num(standard_scores(collaborative, reference), nan=0.0)
    lift = weight * (together_score - audio_score)
    score = audio_score + lift
    order = np.lexsort((np.arange(len(score)), -score))
    # Placed by what people play together: the model thinks well of it (above the pool's average), its share lifted
    # it, and it stands higher than the sound alone would have put it. (Not every song that moved up: one moves up
    # when a song above it falls, without being lifted itself.)
    place, audio_place = np.empty(len(score), np.int64), np.empty(len(score), np.int64)
    place[order] = np.arange(len(score))
    audio_place[np.lexsort((np.arange(len(score)), -audio_score))] = np.arange(len(score))
    spoke = (together_score > 0) & (lift > 0) & (place < audio_place)
    side = [TOGETHER if together else AUDIO for together in spoke]
    return Blend(order=order, score=score, weight=weight, side=side)


@dataclass(frozen=True)
class Collaborative:
    """The collaborative side of a pool whose audio scores are made elsewhere (the radio's): each candidate's
    prediction (NaN where unknown) and listeners [shape=(n,)], and the person's evidence."""

    scores: np.ndarray
    listeners: np.ndarray
    person: float
    settings: BlendSettings
    reference: np.ndarray | None = None

    def blend(self, audio: np.ndarray) -> Blend:
        return blend(audio, self.scores, self.listeners, self.person, self.settings, self.reference)
