"""The blend in the database (issue 14): the collaborative side of one recommending list.

A list made for a person (For you, radio) asks the collaborative model with that person's factor; a list made from
songs (More like this, extend a playlist, Subsonic's instant mix) asks with the songs' own factors, the model's
"people who play these also play". ``Embedding.objects.nearest_songs`` takes the resulting ``Together``: it adds the
songs nearest in the model to its audio candidates (within the same pool: filters, genre and privacy hold), reads the
predictions of every candidate in one query and orders them by ``recommender.core.hybrid.blend``.

The evidence on the asking side is the person's history in the model (songs of theirs it learnt from), or for songs
the listeners they have. Someone the model has not met, or songs nobody plays, give no ``Together`` at all: those
lists are the audio lists they always were, query for query.

Privacy: the model holds catalogue songs only (``recommender.collaborative``), so no private upload is ever a
candidate or a seed from this side. The side speaks only for songs at least ``MUSREC_CF_MIN_LISTENERS`` people prefer
(candidates and seeds alike), so that no song is placed, or explained, by one person's listening. The explanations
name a song, never a person, and only a song the viewer can see (one of their own, or the seed they asked from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from catalog.models import Song
from recommender.collaborative import ListenerFactor, SongFactor, current_model
from recommender.core.hybrid import Blend, BlendSettings, Collaborative


def blend_settings() -> BlendSettings:
    return BlendSettings(
        max_weight=settings.MUSREC_CF_BLEND_MAX,
        song_evidence=settings.MUSREC_CF_SONG_EVIDENCE,
        person_evidence=settings.MUSREC_CF_PERSON_EVIDENCE,
    )


@dataclass(frozen=True)
class Together:
    """The collaborative side of one list.

    ``vector`` is the person's factor (``by_person``: candidates scored by the dot product, ALS's prediction) or the
    mean of the seed songs' factors (scored by cosine). ``evidence`` is the person's history, or the seeds'
    listeners. ``named`` is the seed song an explanation names ("people who play X also play this"); None for a
    person, whose lists name one of their own songs (``co_listened``).
    """

    model_id: int
    vector: np.ndarray
    evidence: float
    by_person: bool
    named: Song | None = None

    @property
    def literal(self) -> str:
        return "[" + ",".join(map(repr, self.vector.astype(np.float32).tolist())) + "]"

    def nearest_sql(self, song_sql: str, song_params: Sequence[object], limit: int) -> tuple[str, list[object]]:
        """SQL for the ids of the ``limit`` songs of ``song_sql`` the model ranks highest."""
        distance = "<#>" if self.by_person else "<=>"
        return (
            f"""SELECT f.song_id FROM {SongFactor._meta.db_table} f
                WHERE f.model_id = %s AND f.listeners >= %s AND f.song_id IN ({song_sql})
                ORDER BY f.vector {distance} %s::vector LIMIT {int(limit)}""",
            [self.model_id, settings.MUSREC_CF_MIN_LISTENERS, *song_params, self.literal],
        )

    def scores(self, song_ids: Sequence[int]) -> dict[int, tuple[float, int]]:
        """Each of ``song_ids`` the model knows, that is in the catalogue now and that enough people prefer →
        (prediction, listeners)."""
        if not song_ids:
            return {}
        score = "-(f.vector <#> %s::vector)" if self.by_person else "1 - (f.vector <=> %s::vector)"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT f.song_id, {score}, f.listeners
                    FROM {SongFactor._meta.db_table} f JOIN {Song._meta.db_table} s ON s.id = f.song_id
                    WHERE f.model_id = %s AND f.song_id = ANY(%s) AND s.in_catalogue AND f.listeners >= %s""",
                [self.literal, self.model_id, [int(i) for i in song_ids], settings.MUSREC_CF_MIN_LISTENERS],
            )
            return {song_id: (float(value), int(listeners)) for song_id, value, listeners in cursor.fetchall()}

    def side_of(self, song_ids: Sequence[int]) -> Collaborative:
        """This side's view of the candidates ``song_ids``, for a blend (one query)."""
        known = self.scores(song_ids)
        return Collaborative(
            scores=np.array([known[i][0] if i in known else np.nan for i in song_ids], dtype=np.float64),
            listeners=np.array([known[i][1] if i in known else 0 for i in song_ids], dtype=np.float64),
            person=self.evidence,
            settings=blend_settings(),
        )

    def blend(self, song_ids: Sequence[int], audio: np.ndarray) -> Blend:
        """The blended order of candidates ``song_ids`` with audio scores ``audio`` (higher is better)."""
        return self.side_of(song_ids).blend(audio)


def by_person(user: AbstractBaseUser | AnonymousUser) -> Together | None:
    """``user``'s side of their lists, or None while the model does not know them (or is switched off)."""
    if not user.is_authenticated or settings.MUSREC_CF_BLEND_MAX <= 0:
        return None
    model = current_model()
    if model is None:
        return None
    row = ListenerFactor.objects.filter(model=model, user=user).values_list("vector", "history").first()
    if row is None or not row[1]:
        return None
    return Together(model.pk, np.asarray(row[0], np.float32), float(row[1]), by_person=True)


# A list made from many songs (an artist's, a playlist's) asks with the factors of this many of them.
MAX_SEEDS = 200


def by_songs(songs: Sequence[Song], *, named: Song | None = None) -> Together | None:
    """The side of a list made from ``songs`` (one seed, or a playlist's, an album's, an artist's songs): the mean
    of their factors, with their listeners as the evidence; None when the model knows none of them."""
    if not songs or settings.MUSREC_CF_BLEND_MAX <= 0:
        return None
    model = current_model()
    if model is None:
        return None
    rows = list(
        SongFactor.objects.filter(
            model=model,
            song__in=[s.pk for s in songs[:MAX_SEEDS]],
            song__in_catalogue=True,
            listeners__gte=settings.MUSREC_CF_MIN_LISTENERS,
        ).values_list("vector", "listeners")
    )
    listeners = sum(row[1] for row in rows)
    if not listeners:
        return None
    factors = np.stack([np.asarray(row[0], np.float32) for row in rows])
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    mean = (factors / np.where(norms > 0, norms, 1)).mean(axis=0)
    if not np.linalg.norm(mean) > 0:
        return None
    # The seeds' evidence is their listeners: a song three people play says less about its neighbours than one
    # three hundred play. A single seed is named; several name the one of them nearest each song (co_listened).
    return Together(model.pk, mean, float(listeners) / len(rows), by_person=False, named=named)


def co_listened(model_id: int, song_ids: Sequence[int], own_ids: Sequence[int]) -> dict[int, int]:
    """For each of ``song_ids``, the one of ``own_ids`` (songs the viewer may see named: their own, or the seeds)
    that the model puts nearest it: the "X" of "people who play X also play this". One query."""
    if not song_ids or not own_ids:
        return {}
    table = SongFactor._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.song_id, best.song_id
                FROM {table} c
                CROSS JOIN LATERAL (
                    SELECT o.song_id FROM {table} o
                    WHERE o.model_id = c.model_id AND o.song_id = ANY(%s) AND o.song_id <> c.song_id
                          AND o.listeners >= %s
                    ORDER BY o.vector <=> c.vector, o.song_id LIMIT 1
                ) best
                WHERE c.model_id = %s AND c.song_id = ANY(%s)""",
            [[int(i) for i in own_ids], settings.MUSREC_CF_MIN_LISTENERS, model_id, [int(i) for i in song_ids]],
        )
        return dict(cursor.fetchall())
