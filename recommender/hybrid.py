"""The blend in the database (issue 14): the collaborative side of one recommending list.

A list made for a person (For you, radio) asks the collaborative model with that person's factor; a list made from
songs (More like this, extend a playlist, Subsonic's instant mix) asks with the songs' own factors, the model's
"people who play these also play". ``Embedding.objects.nearest_songs`` takes the resulting ``Together``: it adds the
songs nearest in the model to its audio candidates (within the same pool: filters, genre and privacy hold), reads the
predictions of every candidate in one query, keeps the added songs only where they are vouched for (below) and
orders the candidates by ``recommender.core.hybrid.blend``. The radio only re-ranks its sonic candidates, at half
weight (``recommender.radio``). Vouching runs under ``VOUCHING_TIMEOUT_MS``; past it, the list is by sound.

The evidence on the asking side is the person's history in the model (songs of theirs it learnt from), or for songs
the listeners they have. Someone the model has not met, or songs nobody plays, give no ``Together`` at all: those
lists are the audio lists they always were, query for query.

Privacy. The model holds catalogue songs only (``recommender.collaborative``), so no private upload is ever a
candidate or a seed from this side. And the side speaks for a candidate only when it is *vouched for*: at least
``MUSREC_CF_MIN_LISTENERS`` people other than the viewer prefer both it and one of the list's seeds (for a person:
one of their 50 newest songs), counted live from the plays, likes and playlists, as "Listeners also played" counts
them.
A song's listener count alone would not do: one person who plays both a seed and a song that others play for other
reasons would tie the two together by himself. The explanation names that seed or own song, never a person.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import OperationalError, connection, transaction
from django.db.models import Max
from psycopg.errors import QueryCanceled

from catalog.models import Play, Rating, Song
from recommender.collaborative import ListenerFactor, SongFactor, current_model, preferring_sql
from recommender.core.hybrid import Blend, BlendSettings, Collaborative

logger = logging.getLogger(__name__)

# A list made from many songs (an artist's, a playlist's) vouches with this many of them; a person, with this many of
# their own songs, the newest they played or liked. The vouching query joins every other person's songs of both sides:
# its cost grows with the seeds (a person with 200 popular songs on a site of 12,000 listeners: 2-3 s).
MAX_SEEDS = 200
MAX_OWN_SEEDS = 50
# ... and it may take this long; past it nothing is vouched for (the list is the audio list), never a slow page.
VOUCHING_TIMEOUT_MS = 200
# The most songs the collaborative side adds to a list's audio candidates.
MAX_EXTRAS = 100


def blend_settings(*, weight_share: float = 1.0) -> BlendSettings:
    """The settings' blend; ``weight_share`` scales the collaborative side's largest share (the radio's is half)."""
    return BlendSettings(
        max_weight=settings.MUSREC_CF_BLEND_MAX * weight_share,
        song_evidence=settings.MUSREC_CF_SONG_EVIDENCE,
        person_evidence=settings.MUSREC_CF_PERSON_EVIDENCE,
    )


@dataclass(frozen=True)
class Together:
    """The collaborative side of one list (one request: its answers are remembered for the list's other searches).

    ``vector`` is the person's factor (``by_person``: candidates scored by the dot product, ALS's prediction) or the
    mean of the seed songs' factors (scored by cosine). ``evidence`` is the person's history, or the seeds' mean
    listeners. ``seed_ids`` are the songs a candidate must be co-listened with to be vouched for, and one of which
    an explanation names: the seeds, or the person's own recent songs. ``viewer_id`` is never counted as evidence.
    """

    model_id: int
    vector: np.ndarray
    evidence: float
    by_person: bool
    seed_ids: tuple[int, ...]
    viewer_id: int | None
    _extras: dict[tuple[object, ...], tuple[int, list[int]]] = field(default_factory=dict, compare=False, repr=False)
    _known: dict[int, tuple[float, int, int | None] | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def literal(self) -> str:
        return "[" + ",".join(map(repr, self.vector.astype(np.float32).tolist())) + "]"

    def extras(self, song_sql: str, song_params: Sequence[object], limit: int) -> list[int]:
        """The ids of the (at most ``MAX_EXTRAS``) songs of ``song_sql`` the model ranks highest, not the seeds. The
        model's factors have no index: one scan of them per pool, remembered for the list's other searches."""
        limit = min(limit, MAX_EXTRAS)
        key = (song_sql, tuple(map(str, song_params)))
        if key in self._extras and self._extras[key][0] >= limit:
            return self._extras[key][1][:limit]
        distance = "<#>" if self.by_person else "<=>"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT f.song_id FROM {SongFactor._meta.db_table} f
                    WHERE f.model_id = %s AND f.listeners >= %s AND f.song_id <> ALL(%s::bigint[])
                          AND f.song_id IN ({song_sql})
                    ORDER BY f.vector {distance} %s::vector, f.song_id LIMIT {int(limit)}""",
                [self.model_id, settings.MUSREC_CF_MIN_LISTENERS, list(self.seed_ids), *song_params, self.literal],
            )
            ids = [song_id for (song_id,) in cursor.fetchall()]
        self._extras[key] = (limit, ids)
        return ids

    def known(self, song_ids: Sequence[int]) -> dict[int, tuple[float, int, int | None]]:
        """Each of ``song_ids`` the model knows → (its prediction, its listeners, the seed it is vouched for with: the
        one sharing the most other listeners with it, None when it is not vouched for). One query for the ids not
        asked before."""
        missing = [int(i) for i in dict.fromkeys(song_ids) if int(i) not in self._known]
        if missing:
            self._known.update(dict.fromkeys(missing))
            self._known.update(self._vouched_scores(missing))
        return {i: self._known[i] for i in song_ids if self._known.get(i) is not None}

    def _vouched_scores(self, song_ids: list[int]) -> dict[int, tuple[float, int, int | None]]:
        score = "-(f.vector <#> %(vector)s::vector)" if self.by_person else "1 - (f.vector <=> %(vector)s::vector)"
        sql = f"""
            WITH candidates AS MATERIALIZED (
                SELECT f.song_id, {score} AS score, f.listeners
                FROM {SongFactor._meta.db_table} f JOIN {Song._meta.db_table} s ON s.id = f.song_id
                WHERE f.model_id = %(model)s AND f.song_id = ANY(%(ids)s) AND s.in_catalogue
                      AND f.listeners >= %(minimum)s AND f.song_id <> ALL(%(seeds)s::bigint[])
            ),
            seed_fans AS MATERIALIZED (
                SELECT user_id, song_id FROM ({preferring_sql("SELECT unnest(%(seeds)s::bigint[])")}) AS p
                WHERE user_id <> %(viewer)s
            ),
            candidate_fans AS MATERIALIZED (
                SELECT user_id, song_id FROM ({preferring_sql("SELECT song_id FROM candidates")}) AS p
                WHERE user_id <> %(viewer)s
            ),
            pairs AS (
                SELECT c.song_id AS candidate, s.song_id AS seed, COUNT(*) AS people
                FROM candidate_fans c JOIN seed_fans s ON s.user_id = c.user_id
                GROUP BY 1, 2 HAVING COUNT(*) >= %(minimum)s
            ),
            best AS (
                SELECT DISTINCT ON (candidate) candidate, seed FROM pairs ORDER BY candidate, people DESC, seed
            )
            SELECT c.song_id, c.score, c.listeners, best.seed
            FROM candidates c LEFT JOIN best ON best.candidate = c.song_id
        """
        params = {
            "vector": self.literal,
            "model": self.model_id,
            "ids": song_ids,
            "minimum": settings.MUSREC_CF_MIN_LISTENERS,
            "seeds": list(self.seed_ids),
            "viewer": self.viewer_id or 0,
        }
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                    [str(VOUCHING_TIMEOUT_MS)],
                )
                previous = cursor.fetchone()[0]
                cursor.execute(sql, params)
                found = {song_id: (float(value), int(listeners), seed) for song_id, value, listeners, seed in cursor}
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        except OperationalError as error:
            if not isinstance(error.__cause__, QueryCanceled):
                raise
            # The savepoint's rollback restored the timeout. Nothing vouched for: the sound alone decides.
            logger.warning(
                "Vouching for %s songs took over %s ms: they are ranked by sound", len(song_ids), VOUCHING_TIMEOUT_MS
            )
            return {}
        return found

    def side_of(self, song_ids: Sequence[int], *, weight_share: float = 1.0) -> Collaborative:
        """This side's view of the candidates ``song_ids``, for a blend: only songs vouched for are ranked by it; the
        predictions of every song the model knows say what an ordinary candidate scores (the ``reference``)."""
        known = self.known(song_ids)
        vouched = {i: value for i, value in known.items() if value[2] is not None}
        return Collaborative(
            scores=np.array([vouched[i][0] if i in vouched else np.nan for i in song_ids], dtype=np.float64),
            listeners=np.array([vouched[i][1] if i in vouched else 0 for i in song_ids], dtype=np.float64),
            person=self.evidence,
            settings=blend_settings(weight_share=weight_share),
            reference=np.array([known[i][0] if i in known else np.nan for i in song_ids], dtype=np.float64),
        )

    def blend(self, song_ids: Sequence[int], audio: np.ndarray) -> Blend:
        """The blended order of candidates ``song_ids`` with audio scores ``audio`` (higher is better)."""
        return self.side_of(song_ids).blend(audio)

    def named(self, song_ids: Sequence[int]) -> dict[int, Song]:
        """For each of ``song_ids`` vouched for, the seed or own song an explanation names ("people who play X also
        play this"): the one of ``seed_ids`` that shares the most other listeners with it."""
        seeds = {i: seed for i, (_, _, seed) in self.known(song_ids).items() if seed is not None}
        songs = Song.objects.in_bulk(set(seeds.values()))
        return {i: songs[seed] for i, seed in seeds.items() if seed in songs}


def by_person(user: AbstractBaseUser | AnonymousUser) -> Together | None:
    """``user``'s side of their lists, or None while the model does not know them (or the blend is switched off)."""
    if not user.is_authenticated or settings.MUSREC_CF_BLEND_MAX <= 0:
        return None
    model = current_model()
    if model is None:
        return None
    row = ListenerFactor.objects.filter(model=model, user=user).values_list("vector", "history").first()
    if row is None or not row[1]:
        return None
    # Their own songs, the newest played or liked first: what a candidate must be co-listened with, and what its
    # reason names.
    played = (
        Play.objects.for_user(user)
        .filter(skipped=False, song__in_catalogue=True)
        .values("song_id")
        .annotate(last=Max("played_at"))
        .order_by("-last")
        .values_list("song_id", "last")[:MAX_OWN_SEEDS]
    )
    liked = (
        Rating.objects.for_user(user)
        .filter(value=Rating.LIKE, song__in_catalogue=True)
        .order_by("-rated_at")
        .values_list("song_id", "rated_at")[:MAX_OWN_SEEDS]
    )
    own = dict.fromkeys(song_id for song_id, _ in sorted([*played, *liked], key=lambda pair: pair[1], reverse=True))
    return Together(
        model.pk,
        np.asarray(row[0], np.float32),
        float(row[1]),
        by_person=True,
        seed_ids=tuple(list(own)[:MAX_OWN_SEEDS]),
        viewer_id=user.pk,
    )


def by_songs(songs: Sequence[Song], *, viewer: AbstractBaseUser | AnonymousUser) -> Together | None:
    """The side of a list made from ``songs`` (one seed, or a playlist's, an album's, an artist's songs) for
    ``viewer``: the mean of their factors, their mean listeners as the evidence; None when the model knows none of
    them (or the blend is switched off)."""
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
        ).values_list("song_id", "vector", "listeners")
    )
    if not rows:
        return None
    factors = np.stack([np.asarray(row[1], np.float32) for row in rows])
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    mean = (factors / np.where(norms > 0, norms, 1)).mean(axis=0)
    if not np.linalg.norm(mean) > 0:
        return None
    # The seeds' evidence is their listeners: a song three people play says less about its neighbours than one
    # three hundred play.
    return Together(
        model.pk,
        mean,
        float(sum(row[2] for row in rows)) / len(rows),
        by_person=False,
        seed_ids=tuple(row[0] for row in rows),
        viewer_id=viewer.pk if viewer.is_authenticated else None,
    )


def by_group(group: str, pk: int, *, viewer: AbstractBaseUser | AnonymousUser) -> Together | None:
    """The side of a list made from an artist's or album's songs (``group`` "artist" or "album"): its catalogue
    songs, as ``by_songs``; private uploads are not in the model."""
    if group not in ("artist", "album"):
        raise ValueError(f"no group {group!r}")
    return by_songs(list(Song.objects.catalogue().filter(**{f"{group}_id": pk})[:MAX_SEEDS]), viewer=viewer)
