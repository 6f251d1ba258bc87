"""The collaborative model (issue 14, first part): what people play together, as factors stored beside the embeddings.

The worker trains it (``train_collaborative_model``, an RQ job on the analysis queue) from everyone's plays,
likes, dislikes and playlists, with ``recommender.core.collaborative`` and the ``implicit`` library's ALS, and
stores one factor per song and per person in PostgreSQL (pgvector) under the model's version. Its maintenance
(``recommender/worker.py``, every minute) queues the job when there is no model yet, after
``MUSREC_CF_RETRAIN_EVENTS`` new events, or after ``MUSREC_CF_RETRAIN_HOURS`` when anything at all is new, never
sooner than ``TRAINING_GAP`` after the last try.

Only catalogue songs enter the model, for everyone, their owners included: a private upload is nobody's evidence
and nobody's recommendation, and a song taken out of the catalogue since the training is left out of every score at
once (the scores join the song's ``in_catalogue`` now). A person's own factor is read only for that person.

The factors are small (``MUSREC_CF_FACTORS``, 48) and mostly read by primary key, for candidates a list already has,
so there is no HNSW index on them. The searches by nearness scan them: ``listeners_also_played`` (a song page's
"Listeners also played"), 73 ms for 100,000 songs, and the blend's one scan a list for the model's favourites among
its pool, 18-46 ms for 100,000 songs (docs/benchmarks.md, "Hybrid blend").

``recommender/models.py`` imports this module, so that Django sees its models. The lists that recommend read the
factors through ``recommender/hybrid.py`` (issue 14, second part: the blend of sound and co-listening in More like
this, For you, extend a playlist, radio and Subsonic's instant mix), which asks with a person's factor or the seed
songs' and weighs the answer by the evidence on both sides. ``collaborative_scores`` and ``evidence`` give the same
model's view of one person, song by song.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone
from pgvector.django import VectorField
from redis.exceptions import RedisError

from catalog.models import Artist, Play, Playlist, PlaylistItem, Rating, Song
from catalog.models.music import artist_group_key
from recommender.core.collaborative import (
    CollaborativeError,
    Event,
    FeedbackWeights,
    event_weights,
    preference_matrix,
    train,
)
from recommender.core.rules import Candidate, build_playlist
from recommender.scheduling import enqueue_once

logger = logging.getLogger(__name__)

TRAINING_QUEUED_KEY = "collaborative:queued"
# Set when someone clears their history: the songs' factors still hold what they played until the next training.
FORGOTTEN_KEY = "collaborative:forgotten"
# How long a queued training keeps the maintenance from queueing another (the job's own timeout, 30 minutes).
QUEUED_FOR = timedelta(minutes=30)
# After a training, or a try with nothing to learn from (plays of private uploads only), the next waits at least this
# long, or 20 times as long as this one took, so that training never takes more than 5 % of the worker's time.
TRAINING_GAP = timedelta(minutes=5)
# The PostgreSQL advisory lock held while a model's rows are written (any number no other code uses).
TRAINING_LOCK = 0x636F6C6C


class CollaborativeModel(models.Model):
    """One training: its version (the primary key), what it was made from, and its size."""

    factors = models.PositiveSmallIntegerField()
    signature = models.CharField(max_length=200, help_text="the events the model was trained on")
    last_play_id = models.BigIntegerField(default=0, help_text="the newest play the training saw")
    user_count = models.PositiveIntegerField(default=0)
    song_count = models.PositiveIntegerField(default=0)
    event_count = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0, help_text="how long the training took")
    trained_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Collaborative model v{self.pk} ({self.user_count} people, {self.song_count} songs)"

    @property
    def version(self) -> int:
        return self.pk


class SongFactor(models.Model):
    """A catalogue song's factor in one collaborative model, and how many people's preferences it was learnt from."""

    model = models.ForeignKey(CollaborativeModel, on_delete=models.CASCADE, related_name="song_factors")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="collaborative_factors")
    vector = VectorField()
    listeners = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "song"], name="song_factor_model_song_unique")]

    def __str__(self) -> str:
        return f"{self.song_id} in v{self.model_id}"


class ListenerFactor(models.Model):
    """A person's factor in one collaborative model, and how many songs of theirs it was learnt from."""

    model = models.ForeignKey(CollaborativeModel, on_delete=models.CASCADE, related_name="listener_factors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    vector = VectorField()
    history = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "user"], name="listener_factor_model_user_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} in v{self.model_id}"


def forget_listener(user: AbstractBaseUser, **kwargs: object) -> None:
    """A person cleared their history: their factor, learnt from it, goes now, not at the next training
    (``catalog.signals.history_cleared``). The next training learns them again from what they still have.

    Their plays also shaped the songs' factors, which everyone's lists read: the next training is made due now
    (at the worker's next maintenance), not after ``MUSREC_CF_RETRAIN_EVENTS`` new events or a day."""
    ListenerFactor.objects.filter(user=user).delete()
    try:
        cache.set(FORGOTTEN_KEY, True, timeout=None)
    except RedisError as error:  # the factor is gone already; the daily training will forget the rest
        logger.warning("Redis is unreachable (%s); the next collaborative training was not brought forward", error)


def current_model() -> CollaborativeModel | None:
    return CollaborativeModel.objects.order_by("-pk").first()


def feedback_weights() -> FeedbackWeights:
    return FeedbackWeights(
        completed=settings.MUSREC_CF_COMPLETED,
        partial=settings.MUSREC_CF_PARTIAL,
        skipped=settings.MUSREC_CF_SKIPPED,
        like=settings.MUSREC_CF_LIKE,
        dislike=settings.MUSREC_CF_DISLIKE,
        playlist=settings.MUSREC_CF_PLAYLIST,
        half_life_days=settings.MUSREC_CF_HALF_LIFE_DAYS,
    )


def events_signature() -> tuple[str, int]:
    """What a training would be made from now, in one cheap query per table, and the newest play's id: any play,
    rating or playlist change changes it."""
    plays, ratings, items, lists = (m._meta.db_table for m in (Play, Rating, PlaylistItem, Playlist))
    parts = [
        f"SELECT COUNT(*) FROM {plays}",
        f"SELECT COALESCE(MAX(id), 0) FROM {plays}",
        f"SELECT COUNT(*) FROM {ratings}",
        f"SELECT MAX(rated_at) FROM {ratings}",
        f"SELECT COUNT(*) FROM {items}",
        f"SELECT MAX(updated_at) FROM {lists}",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"({part})" for part in parts))
        values = cursor.fetchone()
    signature = ":".join(value.isoformat() if hasattr(value, "isoformat") else str(value) for value in values)
    return signature, values[1]


def new_event_count(model: CollaborativeModel) -> int:
    """Plays and ratings since ``model`` was trained (a rating changed counts as new)."""
    plays = Play.objects.filter(pk__gt=model.last_play_id).count()
    return plays + Rating.objects.filter(rated_at__gt=model.trained_at).count()


def training_due() -> bool:
    model = current_model()
    if model is None:
        return Play.objects.exists() or Rating.objects.exists() or PlaylistItem.objects.exists()
    if events_signature()[0] == model.signature:
        return False
    if cache.get(FORGOTTEN_KEY) or new_event_count(model) >= settings.MUSREC_CF_RETRAIN_EVENTS:
        return True
    return timezone.now() - model.trained_at >= timedelta(hours=settings.MUSREC_CF_RETRAIN_HOURS)


def schedule_collaborative_training() -> bool:
    """Queue ``train_collaborative_model`` when it is due and not already queued; whether it was queued. The
    worker's maintenance calls this every minute."""
    if not training_due():
        return False
    return enqueue_once(
        "recommender.collaborative.train_collaborative_model",
        queued_key=TRAINING_QUEUED_KEY,
        hold=QUEUED_FOR,
        what="the collaborative model",
    )


def _read_events(sql: str, params: list[object]) -> tuple[np.ndarray, ...]:
    """(user ids, song ids, kinds, ages in days) of the rows ``sql`` selects, read in chunks into arrays."""
    users, songs, kinds, ages = [], [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20_000):
            chunk = np.array(rows, dtype=np.float64)
            users.append(chunk[:, 0].astype(np.int64))
            songs.append(chunk[:, 1].astype(np.int64))
            kinds.append(chunk[:, 2].astype(np.int64))
            ages.append(chunk[:, 3])
    if not users:
        return tuple(np.zeros(0, dtype) for dtype in (np.int64, np.int64, np.int64, np.float64))
    return tuple(np.concatenate(parts) for parts in (users, songs, kinds, ages))


def catalogue_events(limit: int) -> tuple[np.ndarray, ...]:
    """The newest ``limit`` plays, ``limit`` ratings and ``limit`` playlist entries of catalogue songs, as
    (user ids, song ids, ``Event`` kinds, ages in days). A private upload's events are never read."""
    song = Song._meta.db_table
    age = "EXTRACT(EPOCH FROM (now() - {}))::float8 / 86400"
    plays = f"""SELECT p.user_id, p.song_id,
                       CASE WHEN p.completed THEN {Event.COMPLETED} WHEN p.skipped THEN {Event.SKIPPED}
                            ELSE {Event.PARTIAL} END,
                       {age.format("p.played_at")}
                FROM {Play._meta.db_table} p JOIN {song} s ON s.id = p.song_id
                WHERE s.in_catalogue ORDER BY p.played_at DESC, p.id DESC LIMIT %s"""
    ratings = f"""SELECT r.user_id, r.song_id,
                         CASE WHEN r.value = {Rating.LIKE} THEN {Event.LIKE} ELSE {Event.DISLIKE} END,
                         {age.format("r.rated_at")}
                  FROM {Rating._meta.db_table} r JOIN {song} s ON s.id = r.song_id
                  WHERE s.in_catalogue ORDER BY r.rated_at DESC, r.id DESC LIMIT %s"""
    # A playlist entry has no date of its own; the playlist's last change stands for it.
    entries = f"""SELECT DISTINCT ON (l.owner_id, i.song_id) l.owner_id, i.song_id, {Event.PLAYLIST},
                         {age.format("l.updated_at")}
                  FROM {PlaylistItem._meta.db_table} i JOIN {Playlist._meta.db_table} l ON l.id = i.playlist_id
                       JOIN {song} s ON s.id = i.song_id
                  WHERE s.in_catalogue ORDER BY l.owner_id, i.song_id, l.updated_at DESC"""
    entries = f"SELECT * FROM ({entries}) AS e ORDER BY 4 LIMIT %s"
    parts = [_read_events(sql, [limit]) for sql in (plays, ratings, entries)]
    return tuple(np.concatenate([part[column] for part in parts]) for column in range(4))


def train_collaborative_model() -> int:
    """The RQ job: train the model on the catalogue's events and store its factors as a new version; how many
    songs it holds (0 when nothing changed since the last training, or there is nothing to learn from).

    Safe to run twice: the second finds the events unchanged. Bounded by ``MUSREC_CF_MAX_EVENTS`` per kind of
    event and ``MUSREC_CF_MAX_SONGS`` / ``MUSREC_CF_MAX_USERS`` (the busiest are kept).
    """
    started = time.monotonic()
    # Taken before reading the events: a history cleared during the training makes the next one due again; put
    # back if the training fails, so that the forgetting is not lost with it.
    forgotten = cache.get(FORGOTTEN_KEY)
    cache.delete(FORGOTTEN_KEY)
    try:
        signature, last_play = events_signature()
        current = current_model()
        if current is not None and current.signature == signature:
            return 0
        users, songs, kinds, ages = catalogue_events(settings.MUSREC_CF_MAX_EVENTS)
        preferences = preference_matrix(
            users,
            songs,
            event_weights(kinds, ages, feedback_weights()),
            max_songs=settings.MUSREC_CF_MAX_SONGS,
            max_users=settings.MUSREC_CF_MAX_USERS,
        )
        try:
            factors = train(preferences, factors=settings.MUSREC_CF_FACTORS)
        except CollaborativeError:
            logger.info("No events of catalogue songs yet: no collaborative model")
            return 0
        with transaction.atomic():
            # Two workers may train at once: the second waits, then finds the first's model made of the same events.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRAINING_LOCK])
            if CollaborativeModel.objects.filter(signature=signature).exists():
                return 0
            model = CollaborativeModel.objects.create(
                factors=settings.MUSREC_CF_FACTORS,
                signature=signature,
                last_play_id=last_play,
                user_count=len(preferences.users),
                song_count=len(preferences.songs),
                event_count=len(users),
                seconds=time.monotonic() - started,
            )
            listeners = preferences.listener_counts()
            User = get_user_model()
            # A song or person deleted during the training has no row to point at any more.
            existing = set(Song.objects.filter(pk__in=preferences.songs.tolist()).values_list("pk", flat=True))
            SongFactor.objects.bulk_create(
                (
                    SongFactor(model=model, song_id=int(song_id), vector=vector, listeners=int(count))
                    for song_id, vector, count in zip(preferences.songs, factors.song_factors, listeners, strict=True)
                    if song_id in existing
                ),
                batch_size=5000,
            )
            people = set(User.objects.filter(pk__in=preferences.users.tolist()).values_list("pk", flat=True))
            ListenerFactor.objects.bulk_create(
                (
                    ListenerFactor(model=model, user_id=int(user_id), vector=vector, history=int(count))
                    for user_id, vector, count in zip(
                        preferences.users, factors.user_factors, preferences.history_sizes(), strict=True
                    )
                    if user_id in people
                ),
                batch_size=5000,
            )
            # One version at a time: readers take the newest, and the older ones' rows go with them.
            CollaborativeModel.objects.filter(pk__lt=model.pk).delete()
        logger.info("Collaborative model v%s trained in %.1f s: %s", model.pk, time.monotonic() - started, model)
        return model.song_count
    except BaseException:
        if forgotten:
            cache.set(FORGOTTEN_KEY, True, timeout=None)
        raise
    finally:
        elapsed = time.monotonic() - started
        cache.set(TRAINING_QUEUED_KEY, True, timeout=max(TRAINING_GAP.total_seconds(), 20 * elapsed))


def collaborative_scores(user: AbstractBaseUser | AnonymousUser, song_ids: list[int]) -> dict[int, float]:
    """``user``'s predicted preference for each of ``song_ids`` that the current model knows and that is in the
    catalogue now (near 1: like what they play; near 0: unrelated; below 0: like what they skip). Songs it does not
    know, and everyone it does not know, get no entry: the blend serves them by audio alone."""
    if not user.is_authenticated or not song_ids:
        return {}
    model = current_model()
    if model is None:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT f.song_id, -(f.vector <#> u.vector)
                FROM {SongFactor._meta.db_table} f
                JOIN {ListenerFactor._meta.db_table} u ON u.model_id = f.model_id
                JOIN {Song._meta.db_table} s ON s.id = f.song_id
                WHERE f.model_id = %s AND u.user_id = %s AND f.song_id = ANY(%s) AND s.in_catalogue""",
            [model.pk, user.pk, [int(song_id) for song_id in song_ids]],
        )
        return {song_id: float(score) for song_id, score in cursor.fetchall()}


@dataclass(frozen=True)
class Evidence:
    """How much the collaborative score of one person and song rests on: the song's number of listeners (people
    who prefer it, in the current model) and the person's history (songs of theirs in it)."""

    listeners: int
    history: int


def evidence(user: AbstractBaseUser | AnonymousUser, song: Song) -> Evidence:
    """The evidence behind ``collaborative_scores`` for ``user`` and ``song``; zeros for what the model does not
    know, a song out of the catalogue now included."""
    model = current_model()
    if model is None:
        return Evidence(listeners=0, history=0)
    listeners = (
        SongFactor.objects.filter(model=model, song=song, song__in_catalogue=True)
        .values_list("listeners", flat=True)
        .first()
    )
    history = None
    if user.is_authenticated:
        history = ListenerFactor.objects.filter(model=model, user=user).values_list("history", flat=True).first()
    return Evidence(listeners=listeners or 0, history=history or 0)


def preferring_sql(which: str) -> str:
    """SQL for (user_id, song_id) of each person who plays (not skips), likes or keeps in a playlist one of the songs
    ``which`` selects (an SQL expression of song ids), each pair once."""
    plays, ratings = Play._meta.db_table, Rating._meta.db_table
    items, playlists = PlaylistItem._meta.db_table, Playlist._meta.db_table
    return f"""SELECT user_id, song_id FROM {plays} WHERE NOT skipped AND song_id IN ({which})
               UNION SELECT user_id, song_id FROM {ratings} WHERE value = {Rating.LIKE} AND song_id IN ({which})
               UNION SELECT l.owner_id, i.song_id FROM {items} i JOIN {playlists} l ON l.id = i.playlist_id
                     WHERE i.song_id IN ({which})"""


def listeners_also_played(song: Song, user: AbstractBaseUser | AnonymousUser, *, k: int = 8) -> list[Song]:
    """The songs that "Listeners also played" shows on ``song``'s page: up to ``k`` catalogue songs whose factors are
    nearest to ``song``'s in the current model (cosine), under the playlist rules (never the song or a copy of it, at
    most ``MUSREC_MAX_PER_ARTIST`` per artist). Empty unless ``song`` is in the catalogue and has at least
    ``MUSREC_CF_MIN_LISTENERS`` listeners in the model.

    No list points at one person's listening. A song is listed only when it too has that many listeners, and when
    that many people other than ``user`` play (or like, or keep in a playlist) both it and ``song``. Listener counts
    alone would not do: with a threshold of 2, a song that Bob and one other person play has its two listeners, and
    Bob's plays alone may put it nearest to a song he plays too; and had Alice played both herself, Bob alone would
    make up the two. ``user``'s own plays never count: they tell ``user`` nothing about anyone else.

    A fixed number of queries whatever ``k``: one ranks (the model's version, the factors, both rules), then the
    songs are read with their relations. The ranking reads the plays, likes and playlist entries of the ``10 * k``
    nearest songs by ``song``'s listeners (114 ms for the most played of 100,000 songs, docs/benchmarks.md).
    """
    if not song.in_catalogue or k < 1:
        return []
    minimum = settings.MUSREC_CF_MIN_LISTENERS
    songs, artists = Song._meta.db_table, Artist._meta.db_table
    factors, models_table = SongFactor._meta.db_table, CollaborativeModel._meta.db_table
    preferring = preferring_sql

    # The factors have no index (the module's docstring): the seed is compared with every song of the model, 48
    # numbers each, in one scan.
    sql = f"""
        WITH seed AS (
            SELECT f.model_id, f.vector FROM {factors} f JOIN {songs} s ON s.id = f.song_id
            WHERE f.model_id = (SELECT MAX(id) FROM {models_table}) AND f.song_id = %(seed)s AND s.in_catalogue
                  AND f.listeners >= %(minimum)s
        ),
        nearest AS MATERIALIZED (
            SELECT f.song_id, f.vector <=> seed.vector AS distance
            FROM {factors} f JOIN seed ON seed.model_id = f.model_id JOIN {songs} s ON s.id = f.song_id
            WHERE f.listeners >= %(minimum)s AND s.in_catalogue AND f.song_id <> %(seed)s
                  AND s.content_hash <> %(hash)s
            ORDER BY distance, f.song_id LIMIT %(fetch)s
        ),
        fans AS MATERIALIZED (
            SELECT DISTINCT user_id FROM ({preferring("%(seed)s")}) AS p WHERE user_id <> %(viewer)s
        ),
        together AS (
            SELECT p.song_id, COUNT(*) AS people
            FROM ({preferring("SELECT song_id FROM nearest")}) AS p JOIN fans ON fans.user_id = p.user_id
            GROUP BY p.song_id
        )
        SELECT n.song_id, s.artist_id, a.name, s.album_id, s.content_hash, n.distance
        FROM nearest n JOIN together t ON t.song_id = n.song_id
             JOIN {songs} s ON s.id = n.song_id JOIN {artists} a ON a.id = s.artist_id
        WHERE t.people >= %(minimum)s
        ORDER BY n.distance, n.song_id
    """
    params = {
        "seed": song.pk,
        "hash": song.content_hash,
        "minimum": minimum,
        "fetch": 10 * k,
        "viewer": user.pk if user.is_authenticated else 0,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    candidates = [
        Candidate(song_id, artist_group_key(artist_id, artist_name, album_id, song_id), content_hash, float(distance))
        for song_id, artist_id, artist_name, album_id, content_hash, distance in rows
    ]
    chosen = build_playlist(
        candidates,
        k=k,
        seed_id=song.pk,
        seed_hash=song.content_hash,
        max_per_artist=settings.MUSREC_MAX_PER_ARTIST,
        # Two songs whose factors coincide are not the same recording: copies are told by their files alone.
        duplicate_distance=0.0,
    )
    if not chosen:
        return []
    by_id = Song.objects.visible_to(user).with_relations().in_bulk([candidate.song_id for candidate in chosen])
    return [by_id[candidate.song_id] for candidate in chosen if candidate.song_id in by_id]
