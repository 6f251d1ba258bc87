"""Radio that learns as you listen: where to look next, and which songs to pick there (Django-free).

A radio starts from one or more *anchors* (a song's vector; an artist's, album's or playlist's centres) and
keeps choosing songs near them. What the listener does with each song moves it, live:

- a song played to the end pulls the search towards it (a like pulls harder);
- a skip pushes it away, and candidates that sound like a recently skipped song are ranked down;
- a dislike is a strong skip (the song and anything disliked is never picked; the caller leaves those out).

Recent events count more than old ones (``EVENT_DECAY`` per song since), so two skips in a row change the next
picks at once while an hour-old skip has faded. The picks obey the playlist rules of the radio: never a song of
the session again, never the same recording twice, at most ``MAX_PER_ARTIST`` songs of one artist in any
``ARTIST_WINDOW`` songs in a row (counting what was already heard). Each pick names its reason: the anchor or
the song the listener kept that it sounds most like.

Everything here is numpy in, numpy out, and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recommender.core.hybrid import AUDIO, TOGETHER, Collaborative
from recommender.core.rules import DUPLICATE_DISTANCE
from recommender.core.vectors import unit_length

Outcome = Literal["completed", "liked", "skipped", "disliked", "heard"]

# How far each outcome moves the search, against an anchor's weight of 1. A like is a deliberate yes; a song
# let play to the end a quieter one; a skip a no; a dislike a firm no. "heard" (stopped halfway, or still playing)
# says nothing. A listener who wants something else skips most songs, so the skips' sum soon outweighs the kept
# songs: a completed play at +0.35 left the radio "away from what was skipped" more than "towards what was kept";
# at +0.7 it plays 2.4 times as much of what the listener keeps as a radio that does not learn, against 1.9
# (bench/radio.py, docs/quality.md "Radio: does it learn?").
PULL: dict[str, float] = {"completed": 0.7, "liked": 1.0, "skipped": -0.6, "disliked": -1.0, "heard": 0.0}
# Each song heard since an event makes it count this much less: the last few songs steer the radio.
EVENT_DECAY = 0.8
# Candidates are ranked down by this times their similarity to the nearest recent skip (decayed), so that a
# song next to one just skipped does not come straight back even when it is near the anchor.
SKIP_AVOIDANCE = 0.5
MAX_PER_ARTIST, ARTIST_WINDOW = 2, 10


class RadioError(ValueError):
    """Vectors and events handed to the radio do not fit together."""


@dataclass(frozen=True)
class Event:
    """What happened to one song of the session; ``age`` counts the songs heard after it (0: the latest)."""

    vector: np.ndarray  # [shape=(d,)], unit length
    outcome: Outcome
    age: int
    name: str = ""  # the song's title, for reasons


# Why a song the collaborative side lifted is playing: it names no one, and no song (the side is the listener's own
# factor, learnt from all they play).
TOGETHER_REASON = "People who listen like you also play this"


@dataclass(frozen=True)
class Anchor:
    """Where the radio started: a song, or one centre of an artist's, album's or playlist's songs."""

    vector: np.ndarray  # [shape=(d,)], unit length
    reason: str  # e.g. "Radio from “Song”"


@dataclass(frozen=True)
class Pick:
    index: int  # the candidate's row
    score: float
    reason: str


def _weight(event: Event) -> float:
    return PULL[event.outcome] * EVENT_DECAY ** max(event.age, 0)


def target(anchor: Anchor, events: Sequence[Event]) -> np.ndarray:
    """Where to look next: the anchor moved towards what the listener kept and away from what they skipped.

    ``normalise(anchor + Σ weight_i · event_i)``; when the events cancel the anchor out (a listener who skipped
    the very song the radio started from, twice), the anchor alone.
    """
    moved = anchor.vector.astype(np.float64).copy()
    for event in events:
        if event.vector.shape != moved.shape:
            raise RadioError(f"an event's vector {event.vector.shape} does not match the anchor's {moved.shape}")
        moved += _weight(event) * event.vector
    if np.linalg.norm(moved) < 1e-6:
        return unit_length(anchor.vector)
    return unit_length(moved)


def scores(candidates: np.ndarray, goal: np.ndarray, events: Sequence[Event]) -> np.ndarray:
    """How good each candidate [shape=(n, d)] is as the next song: its cosine similarity to ``goal``, minus
    ``SKIP_AVOIDANCE`` times its (decayed) similarity to the nearest skipped or disliked song."""
    result = candidates @ goal
    negatives = [event for event in events if PULL[event.outcome] < 0]
    if negatives and len(candidates):
        near = candidates @ np.stack([event.vector for event in negatives]).T  # [shape=(n, m)]
        decay = np.array([EVENT_DECAY ** max(event.age, 0) for event in negatives])
        result = result - SKIP_AVOIDANCE * np.max(np.clip(near, 0.0, None) * decay, axis=1)
    return result


def reason_for(vector: np.ndarray, anchors: Sequence[Anchor], events: Sequence[Event]) -> str:
    """Why a song was picked: the anchor, or the song the listener kept, that it sounds most like.

    A kept song (liked, or let play to the end) is credited only when the pick is at least as like it as like the
    anchor: the radio's start stays the reason until listening has steered it.
    """
    best_anchor = max(anchors, key=lambda anchor: float(vector @ anchor.vector))
    kept = [event for event in events if event.outcome in ("completed", "liked") and event.name]
    if kept:
        closest = max(kept, key=lambda event: (float(vector @ event.vector), -event.age))
        if float(vector @ closest.vector) >= float(vector @ best_anchor.vector):
            if closest.outcome == "liked":
                return f"Because you liked “{closest.name}”"
            return f"Because you let “{closest.name}” play to the end"
    return best_anchor.reason


def choose(
    candidates: np.ndarray,
    artist_groups: Sequence[int],
    ranking: np.ndarray,
    *,
    k: int,
    recent_artists: Sequence[int] = (),
    avoid: np.ndarray | None = None,
    max_per_artist: int = MAX_PER_ARTIST,
    window: int = ARTIST_WINDOW,
) -> list[int]:
    """The rows of the ``k`` best candidates (by ``ranking``, highest first) that keep the radio's rules.

    Parameters
    ----------
    candidates : np.ndarray [shape=(n, d)], unit rows
    artist_groups : who counts as one artist, per candidate
    ranking : np.ndarray [shape=(n,)], higher is better
    recent_artists : the artist groups of the songs before these, oldest first (heard, or queued to come)
    avoid : np.ndarray [shape=(m, d)], the session's songs: a candidate within the duplicate distance of one of
        them, or of a song chosen here, is the same recording again
    """
    if len(artist_groups) != len(candidates) or ranking.shape != (len(candidates),):
        raise RadioError("candidates, artist groups and ranking must be equally long")
    history = list(recent_artists)
    chosen: list[int] = []
    taken = [avoid] if avoid is not None and len(avoid) else []
    for row in np.argsort(-ranking, kind="stable"):
        if len(chosen) >= k:
            break
        group = artist_groups[row]
        # "At most 2 in any 10": the last ``window`` songs, this one included, hold at most ``max_per_artist`` of one.
        if history[max(len(history) - (window - 1), 0) :].count(group) >= max_per_artist:
            continue
        vector = candidates[row]
        if taken and float(np.max(np.concatenate([block @ vector for block in taken]))) > 1.0 - DUPLICATE_DISTANCE:
            continue
        chosen.append(int(row))
        history.append(group)
        taken.append(vector[None])
    return chosen


def pick(
    candidates: np.ndarray,
    artist_groups: Sequence[int],
    anchor: Anchor,
    anchors: Sequence[Anchor],
    events: Sequence[Event],
    *,
    k: int,
    recent_artists: Sequence[int] = (),
    avoid: np.ndarray | None = None,
    collaborative: Collaborative | None = None,
) -> list[Pick]:
    """The next ``k`` songs of a radio from ``candidates`` (found near ``target(anchor, events)``), each with
    its score and reason, best first.

    With ``collaborative`` (the listener's side of the model, ``recommender.core.hybrid``) the candidates' scores are
    blended with what people who listen like them play; a song that side lifted says so."""
    if not len(candidates):
        return []
    goal = target(anchor, events)
    ranking = scores(candidates, goal, events)
    sides = [AUDIO] * len(candidates)
    if collaborative is not None:
        mixed = collaborative.blend(ranking)
        ranking, sides = mixed.score, mixed.side
    rows = choose(candidates, artist_groups, ranking, k=k, recent_artists=recent_artists, avoid=avoid)
    return [
        Pick(
            row,
            float(ranking[row]),
            TOGETHER_REASON if sides[row] == TOGETHER else reason_for(candidates[row], anchors, events),
        )
        for row in rows
    ]
