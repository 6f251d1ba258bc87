"""The stored map of the catalogue (issue 13 §3): each analysed catalogue song's place on a plane, and its colour.

The worker computes it (``recommender.core.catalogue_map.project``, PCA of the active model's embeddings) and
stores it here; no request ever computes it. The worker's maintenance (``recommender/worker.py``, every minute)
compares the catalogue's embeddings with those the stored map was made from, and when they differ queues one
``refresh_catalogue_map`` job, at most once per ``MAP_REFRESH_EVERY`` (a large import being analysed changes the
catalogue every minute for hours). Only catalogue songs are placed: a private upload is on nobody's map, its owner's
included (placing it for its owner alone would mean a per-person map, kept out for now).

``recommender/models.py`` imports this module, so that Django sees its models.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta

import numpy as np
from django.core.cache import cache
from django.db import connection, models, transaction

from catalog.models import Genre, Song
from recommender.core.catalogue_map import project
from recommender.scheduling import enqueue_once

logger = logging.getLogger(__name__)

# The map is made again at most this often while the catalogue keeps changing (a first map is made at once).
MAP_REFRESH_EVERY = timedelta(minutes=5)
MAP_QUEUED_KEY = "catalogue-map:queued"
# The PostgreSQL advisory lock held while the map's rows are replaced (any number no other code uses).
MAP_LOCK = 0x6D6170
# Genres with colours of their own, the commonest first; the others share one more colour ("Other genres").
MAP_COLOURS = 9
NO_GENRE = -1


class CatalogueMap(models.Model):
    """One model's map: what it was made from, and the names of its colours."""

    model = models.CharField(max_length=64, unique=True)
    signature = models.CharField(max_length=100, help_text="the catalogue's embeddings the map was made from")
    legend = models.JSONField(default=list, help_text="the genre named by each colour index")
    song_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Map of {self.song_count} songs ({self.model})"


class MapPointQuerySet(models.QuerySet["MapPoint"]):
    def shown(self, model: str) -> MapPointQuerySet:
        """The points of ``model``'s map of songs in the catalogue now: a song made private since the map was made
        is left out at once, not at the next refresh."""
        return self.filter(model=model, song__in_catalogue=True)


class MapPoint(models.Model):
    """A song's place on one model's map, each coordinate in [0, 1], and its colour (an index into the legend)."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="map_points")
    model = models.CharField(max_length=64)
    x = models.FloatField()
    y = models.FloatField()
    colour = models.SmallIntegerField(default=NO_GENRE)

    objects = MapPointQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "song"], name="map_point_model_song_unique")]

    def __str__(self) -> str:
        return f"{self.song_id} at ({self.x:.3f}, {self.y:.3f})"


def catalogue_signature(model: str) -> str:
    """What the map of ``model`` would be made from now: the number, largest id and sum of ids of the embeddings
    of catalogue songs, one cheap query; any song analysed, deleted, shared or unshared changes it."""
    from recommender.models import Embedding

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COUNT(*), COALESCE(MAX(e.id), 0), COALESCE(SUM(e.id), 0)
                FROM {Embedding._meta.db_table} e JOIN {Song._meta.db_table} s ON s.id = e.song_id
                WHERE e.model = %s AND s.in_catalogue""",
            [model],
        )
        count, largest, total = cursor.fetchone()
    return f"{count}:{largest}:{total}"


def map_is_stale(model: str) -> bool:
    stored = CatalogueMap.objects.filter(model=model).values_list("signature", flat=True).first()
    return stored != catalogue_signature(model)


def schedule_catalogue_map() -> bool:
    """Queue ``refresh_catalogue_map`` when the active model's map is missing or out of date, at most once per
    ``MAP_REFRESH_EVERY``; whether it was queued. The worker's maintenance calls this every minute."""
    from recommender.models import active_model_key

    if not map_is_stale(active_model_key()):
        return False
    return enqueue_once(
        "recommender.catalogue_map.refresh_catalogue_map",
        queued_key=MAP_QUEUED_KEY,
        hold=MAP_REFRESH_EVERY,
        what="the catalogue map",
    )


def refresh_catalogue_map() -> int:
    """The RQ job: make the active model's map again from the catalogue's embeddings, unless it is up to date;
    how many songs were placed (0 when nothing changed). Safe to run twice."""
    from recommender.models import Embedding, active_model_key

    started = time.monotonic()
    model = active_model_key()
    signature = catalogue_signature(model)
    if not map_is_stale(model):
        return 0
    rows = (
        Embedding.objects.filter(model=model, song__in=Song.objects.catalogue())
        .order_by("song_id")
        .values_list("song_id", "vector")
    )
    ids, vectors = [], []
    width = None
    for song_id, vector in rows.iterator(chunk_size=2000):
        # One model has one width; should a mixture turn up (a test's vectors), the first song's width is kept.
        vector = np.asarray(vector, np.float32)
        width = width or len(vector)
        if len(vector) == width:
            ids.append(song_id)
            vectors.append(vector)
    points = project(np.stack(vectors)).points if vectors else np.zeros((0, 2))
    colours, legend = genre_colours(ids)
    with transaction.atomic():
        # Two workers may make the map at once: the second waits for the first, then finds it done (or replaces it
        # whole), instead of inserting beside rows it cannot see yet.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MAP_LOCK])
        if CatalogueMap.objects.filter(model=model, signature=signature).exists():
            return 0
        MapPoint.objects.filter(model=model).delete()
        MapPoint.objects.bulk_create(
            (
                MapPoint(song_id=song_id, model=model, x=float(x), y=float(y), colour=colours[song_id])
                for song_id, (x, y) in zip(ids, points, strict=True)
            ),
            batch_size=5000,
        )
        CatalogueMap.objects.update_or_create(
            model=model, defaults={"signature": signature, "legend": legend, "song_count": len(ids)}
        )
    # A large catalogue takes a while (19-38 s for 100,000 songs, docs/benchmarks.md): while it keeps changing, the map
    # waits 20 times that long before the next, so it never takes more than 5 % of the worker's time.
    elapsed = time.monotonic() - started
    cache.set(MAP_QUEUED_KEY, True, timeout=max(MAP_REFRESH_EVERY.total_seconds(), 20 * elapsed))
    logger.info("Catalogue map made of %s songs (%s) in %.1f s", len(ids), model, elapsed)
    return len(ids)


def genre_colours(song_ids: list[int]) -> tuple[dict[int, int], list[str]]:
    """Each song's colour, the index of its broadest genre in the legend (``NO_GENRE`` without one), and the
    legend: the ``MAP_COLOURS`` commonest broadest genres, then "Other genres" when there are more.

    A song's genre is that of its genre tags, else the one predicted from its audio, as song lists show it.
    """
    parents = dict(Genre.objects.values_list("pk", "parent_id"))
    names = dict(Genre.objects.values_list("pk", "name"))

    def broadest(pk: int) -> int:
        seen = {pk}
        while (parent := parents.get(pk)) is not None and parent not in seen:
            seen.add(parent)
            pk = parent
        return pk

    wanted = set(song_ids)
    genre_of: dict[int, int] = {}
    for through in (Song.genres.through, Song.predicted_genres.through):
        pairs = through.objects.filter(song__in_catalogue=True).order_by("pk").values_list("song_id", "genre_id")
        for song_id, genre_id in pairs.iterator(chunk_size=5000):
            if song_id in wanted and song_id not in genre_of:
                genre_of[song_id] = broadest(genre_id)
    counts = Counter(genre_of.values())
    ranked = sorted(counts, key=lambda pk: (-counts[pk], names[pk].lower()))
    legend = [names[pk] for pk in ranked[:MAP_COLOURS]]
    index = {pk: position for position, pk in enumerate(ranked[:MAP_COLOURS])}
    if len(ranked) > MAP_COLOURS:
        legend.append("Other genres")
    colours = {
        song_id: index.get(genre_of[song_id], MAP_COLOURS) if song_id in genre_of else NO_GENRE for song_id in song_ids
    }
    return colours, legend
