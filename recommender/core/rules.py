"""Playlist rules over nearest-neighbour candidates (Django-free).

The database returns the nearest songs; these rules turn them into a playlist people
accept: never the seed, never the same recording twice, not one artist all over it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Cosine distance below which two embeddings are taken to be the same recording
# (re-encodes, copies with other tags); distinct songs sit well above it.
DUPLICATE_DISTANCE = 0.002


@dataclass(frozen=True)
class Candidate:
    """One song the nearest-neighbour search found, with what the playlist rules need to know about it.

    Near-duplicates are found either from ``vector`` or, when the database has already compared the
    candidates with each other (so no vector has to travel), from ``near``: the ids of the other
    candidates within the duplicate distance.
    """

    song_id: int
    # Who counts as one artist for "at most n per artist": the artist's id, or another key for songs of an
    # unknown artist (catalog's artist_group_key groups those by album).
    artist_group: int
    content_hash: str
    distance: float
    vector: np.ndarray | None = None  # [shape=(d,)], L2-normalised
    near: frozenset[int] = frozenset()

    @property
    def similarity(self) -> float:
        return 1.0 - self.distance


def build_playlist(
    candidates: Sequence[Candidate],
    *,
    k: int,
    seed_id: int | None = None,
    seed_hash: str | None = None,
    max_per_artist: int | None = 2,
    duplicate_distance: float = DUPLICATE_DISTANCE,
) -> list[Candidate]:
    """Up to ``k`` candidates, best first, obeying the playlist rules.

    ``candidates`` must be in ranking order (by distance to the seed, or by CSLS). A candidate is left out when it is
    the seed (same id or same file), is within ``duplicate_distance`` of the seed or of a song
    already chosen (the same recording: by ``vector``, or by ``near`` when candidates carry no
    vectors), or its artist already has ``max_per_artist`` songs.
    """
    chosen: list[Candidate] = []
    chosen_ids: set[int] = set()
    per_artist: Counter[int] = Counter()
    hashes = {seed_hash} if seed_hash else set()
    for candidate in candidates:
        if len(chosen) >= k:
            break
        if candidate.song_id == seed_id or candidate.content_hash in hashes:
            continue
        if seed_id is not None and candidate.distance < duplicate_distance:
            continue
        if max_per_artist is not None and per_artist[candidate.artist_group] >= max_per_artist:
            continue
        if not candidate.near.isdisjoint(chosen_ids):
            continue
        if candidate.vector is not None and chosen and _nearest_distance(candidate.vector, chosen) < duplicate_distance:
            continue
        chosen.append(candidate)
        chosen_ids.add(candidate.song_id)
        per_artist[candidate.artist_group] += 1
        hashes.add(candidate.content_hash)
    return chosen


def _nearest_distance(vector: np.ndarray, chosen: Sequence[Candidate]) -> float:
    vectors = [c.vector for c in chosen if c.vector is not None]
    if not vectors:
        return 2.0  # the largest cosine distance: nothing to be a duplicate of
    return float(1.0 - np.max(np.stack(vectors) @ vector))
