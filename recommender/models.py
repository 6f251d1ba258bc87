"""Song embeddings and the nearest-neighbour queries on them (pgvector); the Django side of the recommender."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Exists, F, Func, OuterRef, Q
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from pgvector.django import HnswIndex, VectorField

from catalog.models import Artist, Genre, Song, SongQuerySet, artist_group_key, genre_song_ids
from recommender.core.analysis import model_key
from recommender.core.embedders import load_card
from recommender.core.hubs import CSLS_WEIGHT, neighbour_similarity
from recommender.core.rules import DUPLICATE_DISTANCE, Candidate, build_playlist
from recommender.core.vectors import unit_length

# The widths of vector the database indexes (one HNSW index each, on the vectors of that width): an embedder of
# another width works, ranked exactly, and wants a migration that adds its index.
INDEXED_DIMENSIONS = (200, 400)
# The shortest candidate list HNSW keeps in a nearest-neighbour search (hnsw.ef_search); see nearest_songs.
EF_SEARCH = 200
# nearest_songs ranks a genre exactly, without the HNSW index, when it has fewer songs than this.
EXACT_BELOW = 2000


def active_model_key() -> str:
    """The key of the embeddings recommendations use now (``MUSREC_MODEL``); reads no weights."""
    return model_key(load_card(settings.MUSREC_MODEL))


def active_dimensions() -> int:
    """The width of the active embedder's vectors."""
    return load_card(settings.MUSREC_MODEL).dimensions


# What a person starting out on For you chooses from is the same for everyone (analysed catalogue songs and their
# genres), so ``recommender.personal`` keeps it in the shared cache for a minute; an embedding stored or deleted, or
# a change in the catalogue, forgets it.
STARTER_SECONDS = 60


def starter_cache_key(what: str, model: str) -> str:
    return f"for-you:starter-{what}:{model}"


def forget_starter_choices(**kwargs: object) -> None:
    model = active_model_key()
    cache.delete(starter_cache_key("genres", model))
    cache.delete(starter_cache_key("songs", model))


class EmbeddingQuerySet(models.QuerySet["Embedding"]):
    def active(self) -> EmbeddingQuerySet:
        return self.filter(model=active_model_key())

    def refresh_neighbour_similarity(self, *, everything: bool = False) -> int:
        """Compute r(y) for CSLS (``recommender.core.hubs``) of the active model's embeddings; how many were updated.

        Only those not computed yet, unless ``everything``. A song's neighbours are sought in the catalogue only:
        a private upload is a candidate for its owner alone, and must not shift anybody else's rankings.
        """
        model = active_model_key()
        targets = self.filter(model=model)
        if not everything:
            targets = targets.filter(neighbour_similarity__isnull=True)
        target_ids, target_vectors = _ids_and_vectors(targets)
        if not target_ids:
            return 0
        among_ids, among_vectors = _ids_and_vectors(self.filter(model=model, song__in=Song.objects.catalogue()))
        if not among_ids:
            return 0
        r = neighbour_similarity(
            target_vectors, among=among_vectors, ids=np.array(target_ids), among_ids=np.array(among_ids)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {self.model._meta.db_table} e SET neighbour_similarity = v.r
                    FROM unnest(%s::bigint[], %s::float8[]) AS v(song_id, r)
                    WHERE e.song_id = v.song_id AND e.model = %s""",
                [target_ids, r.tolist(), model],
            )
        return len(target_ids)

    def of_song(self, song: Song) -> Embedding | None:
        """``song``'s embedding in the active model; None until it is analysed."""
        return self.active().filter(song=song).first()

    def similar_songs(
        self, song: Song, *, k: int = 10, genre: Genre | None = None, max_per_artist: int | None = 2
    ) -> list[Song]:
        """A playlist of catalogue songs that sound like ``song``; empty until it is analysed."""
        embedding = self.of_song(song)
        if embedding is None:
            return []
        return self.nearest_songs(
            embedding.vector, model=embedding.model, k=k, genre=genre, seed=song, max_per_artist=max_per_artist
        )

    def nearest_songs(
        self,
        vector: Sequence[float] | np.ndarray,
        *,
        among: SongQuerySet | None = None,
        model: str | None = None,
        k: int = 10,
        genre: Genre | None = None,
        seed: Song | None = None,
        max_per_artist: int | None = 2,
        with_genres: bool = True,
    ) -> list[Song]:
        """The ``k`` songs nearest to ``vector`` in ``model``'s space (the active one by default), as a playlist.

        ``among`` is where to look (the catalogue by default). Each song comes with ``.distance`` and
        ``.similarity`` (cosine), its artist and album, and its genres unless ``with_genres`` is false (two
        queries fewer, for pages that do not show them). The nearest-neighbour search is SQL on the HNSW
        index; the playlist rules (no seed, no duplicate recordings, at most ``max_per_artist`` per artist)
        are applied to a few times ``k`` candidates.
        """
        query = unit_length(np.asarray(vector), dtype=np.float32)
        model = model or active_model_key()
        fetch = min(max(4 * k, 40), 1000)
        songs, exact = Song.objects.catalogue() if among is None else among, False
        if genre is not None:
            ids = Genre.objects.subtree_ids(genre)
            exact = genre_song_ids(ids, distinct=False)[:EXACT_BELOW].count() < EXACT_BELOW
            if exact:
                songs = songs.filter(pk__in=genre_song_ids(ids))
            else:
                # The index hands over candidates one by one; each is checked on the link tables' (song, genre)
                # indexes. Checked against the genre's id list instead, PostgreSQL rebuilt that list per candidate.
                tagged = Song.genres.through.objects.filter(song=OuterRef("pk"), genre__in=ids)
                predicted = Song.predicted_genres.through.objects.filter(song=OuterRef("pk"), genre__in=ids)
                songs = songs.filter(Exists(tagged) | Exists(predicted))
        song_sql, song_params = songs.order_by().values("pk").query.sql_with_params()
        # The index on vectors of this width is an expression index: the query must use its very expression.
        width = len(query)
        nearest = f"""
            SELECT e.song_id, e.vector, e.neighbour_similarity,
                   e.vector::vector({width}) <=> %s::vector({width}) AS distance
            FROM {self.model._meta.db_table} e
            WHERE e.model = %s AND e.dimensions = {width} AND e.song_id IN ({song_sql})
        """
        if exact:
            # A small genre is ranked exactly: the HNSW scan would walk thousands of other songs to find
            # its few (173 ms p95 at 1 % of 100,000 songs, docs/benchmarks.md). PostgreSQL may not flatten
            # a subquery with OFFSET, so the ORDER BY outside it cannot use the index.
            nearest = f"SELECT * FROM ({nearest} OFFSET 0) AS in_genre"
        # The candidates are compared with each other in the database, so their vectors never travel:
        # parsing 40 vectors from text took longer than the index search.
        # CSLS (recommender.core.hubs): the candidates are ranked by cosine distance + CSLS_WEIGHT * r, so that a
        # song near everyone (a hub) stops crowding every list. A song analysed since r was last computed counts
        # as the candidates' average until the worker computes its own (refresh_neighbour_similarity).
        sql = f"""
            WITH candidates AS MATERIALIZED ({nearest} ORDER BY distance LIMIT {fetch})
            SELECT c.song_id, s.artist_id, a.name, s.album_id, s.content_hash, c.distance,
                   c.distance + %s * COALESCE(c.neighbour_similarity, AVG(c.neighbour_similarity) OVER (), 0),
                   ARRAY(SELECT d.song_id FROM candidates d
                         WHERE d.song_id <> c.song_id AND (d.vector <=> c.vector) < %s)
            FROM candidates c
            JOIN {Song._meta.db_table} s ON s.id = c.song_id
            JOIN {Artist._meta.db_table} a ON a.id = s.artist_id
        """
        literal = "[" + ",".join(map(repr, query.tolist())) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            # ef_search bounds the candidate list HNSW keeps: it must exceed what we fetch for good recall,
            # and small, tight clusters (a niche genre) are found only with a long list: on 100,000 clustered
            # vectors recall@10 is 0.92 at 100, 0.96-0.97 at 200 and 0.99 at 400 (docs/benchmarks.md); 200 meets the
            # 0.95 target at a lower latency. pgvector allows 1000.
            # pgvector filters after the index scan, so iterative scans keep going until enough rows pass.
            ef_search = min(max(2 * fetch, EF_SEARCH), 1000)
            # Otherwise the planner ranks a 10 % genre exactly too, 3x slower than the index (docs/benchmarks.md).
            sort = "on" if exact else "off"
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_sort', %s, true)",
                [str(ef_search), sort],
            )
            cursor.execute(sql, [literal, model, *song_params, CSLS_WEIGHT, DUPLICATE_DISTANCE])
            # relaxed_order may return rows slightly out of order; among equals (copies of one recording) the
            # oldest song is the one kept, whatever order the database found them in.
            rows = sorted(cursor.fetchall(), key=lambda row: (row[6], row[0]))
        candidates = [
            Candidate(
                song_id,
                artist_group_key(artist_id, artist_name, album_id, song_id),
                content_hash,
                float(distance),
                near=frozenset(near),
            )
            for song_id, artist_id, artist_name, album_id, content_hash, distance, _rank, near in rows
        ]
        chosen = build_playlist(
            candidates,
            k=k,
            seed_id=seed.pk if seed else None,
            seed_hash=seed.content_hash if seed else None,
            max_per_artist=max_per_artist,
        )
        related = Song.objects.with_relations() if with_genres else Song.objects.select_related("artist", "album")
        by_id = related.in_bulk([c.song_id for c in chosen])
        playlist = []
        for candidate in chosen:
            song = by_id[candidate.song_id]
            song.distance = candidate.distance
            song.similarity = candidate.similarity
            playlist.append(song)
        return playlist


def _ids_and_vectors(embeddings: EmbeddingQuerySet) -> tuple[list[int], np.ndarray]:
    rows = list(embeddings.order_by("song_id").values_list("song_id", "vector"))
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [song_id for song_id, _ in rows], np.stack([np.asarray(vector, np.float32) for _, vector in rows])


class Embedding(models.Model):
    """A song's position in one embedder's space, with its networks' tag scores."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=64, help_text="name@version of the embedder that made it")
    # No fixed width: each embedder has its own (200 for one network, 400 for two). Vectors of one width are
    # indexed together, by a partial index on ``dimensions``.
    vector = VectorField()
    dimensions = models.GeneratedField(
        expression=Func(F("vector"), function="vector_dims"), output_field=models.IntegerField(), db_persist=True
    )
    raw_vector = VectorField(
        null=True, blank=True, help_text="each network's features before standardisation, to refit without them"
    )
    tag_scores = models.JSONField(default=dict, help_text="Tag → score (0 to 1)")
    # r(y): the mean cosine similarity to the song's nearest neighbours, for CSLS re-ranking; None until computed.
    neighbour_similarity = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EmbeddingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["song", "model"], name="embedding_song_model_unique")]
        indexes = [
            *(
                HnswIndex(
                    OpClass(Cast("vector", VectorField(dimensions=width)), name="vector_cosine_ops"),
                    name=f"embedding_hnsw_{width}",
                    m=16,
                    ef_construction=64,
                    condition=Q(dimensions=width),
                )
                for width in INDEXED_DIMENSIONS
            ),
            models.Index(fields=["model"], name="embedding_model"),
        ]

    def __str__(self) -> str:
        return f"{self.song} ({self.model})"

    def top_tags(self, n: int = 8) -> list[tuple[str, float]]:
        """The ``n`` best-scoring tags, each named once: a tag both networks know ("rock") keeps its higher score."""
        best: dict[str, float] = {}
        for key, score in self.tag_scores.items():
            name = key.rpartition(":")[2]
            best[name] = max(score, best.get(name, 0.0))
        return sorted(best.items(), key=lambda item: item[1], reverse=True)[:n]


@receiver([post_save, post_delete], sender=Embedding)
def embedding_changed(sender: type[Embedding], **kwargs: object) -> None:
    # Again once committed: a page drawn meanwhile from the old rows may have stored them again.
    forget_starter_choices()
    transaction.on_commit(forget_starter_choices)
