"""Song embeddings and the nearest-neighbour queries on them (pgvector); the Django side of the recommender."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.postgres.indexes import OpClass
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Exists, F, Func, OuterRef, Q
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from pgvector.django import HnswIndex, VectorField

from catalog.models import (
    Artist,
    Genre,
    Song,
    SongQuerySet,
    artist_group_key,
    catalogue_generation,
    genre_song_ids,
)
from catalog.song_filters import SongFilters
from recommender.core.analysis import model_key
from recommender.core.describe import stored_tag_keys
from recommender.core.embedders import load_card
from recommender.core.hubs import CSLS_WEIGHT, neighbour_similarity
from recommender.core.moods import stored_mood_keys
from recommender.core.rules import DUPLICATE_DISTANCE, Candidate, build_playlist
from recommender.core.sounds_like import sounds_like
from recommender.core.vectors import pair_similarity_quantiles, unit_length
from recommender.hybrid import Together, by_songs

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


# A similarity is shown as its place among the cosines of pairs of catalogue songs (a "match" of 0 to 100 %): a cosine
# means little to a person, and on its own it can be negative. The scale comes from a sample of the catalogue, every
# pair of it (300 songs: 44,850 pairs, a few milliseconds), kept per model and catalogue generation; the expiry
# brings in songs analysed since, whose embeddings change no generation.
SCALE_SAMPLE = 300
SCALE_SECONDS = 600


def catalogue_sample(model: str | None = None) -> np.ndarray | None:
    """Up to ``SCALE_SAMPLE`` unit vectors [shape=(n, d)] of analysed catalogue songs in ``model``'s space (the active
    one by default), the same sample until the catalogue changes; None while there are none."""
    model = model or active_model_key()
    key = f"similarity-sample:{model}:{catalogue_generation()}"
    found = cache.get(key)
    if found is not None:
        return np.asarray(found, np.float32) if len(found) else None
    embeddings = Embedding.objects.filter(model=model, song__in=Song.objects.catalogue())
    ids = list(embeddings.order_by("song_id").values_list("song_id", flat=True))
    # A fixed seed: the same catalogue gives the same sample, so a song's match does not change from page to page.
    chosen = random.Random(0).sample(ids, SCALE_SAMPLE) if len(ids) > SCALE_SAMPLE else ids
    rows = embeddings.filter(song_id__in=chosen).order_by("song_id").values_list("vector", flat=True)
    vectors = [np.asarray(vector, np.float32) for vector in rows]
    sample = unit_length(np.stack(vectors), dtype=np.float32) if vectors else None
    # float16 halves what the cache holds (240 KB for 300 vectors of 400): a match is shown in whole percents.
    cache.set(key, [] if sample is None else sample.astype(np.float16), SCALE_SECONDS)
    return sample


def similarity_scale(model: str | None = None) -> np.ndarray | None:
    """The quantiles of the cosines of pairs of catalogue songs in ``model``'s space (the active one by default).

    None while the catalogue has fewer than two analysed songs. Read a similarity on it with
    ``recommender.core.vectors.percentile_among_pairs``.
    """
    model = model or active_model_key()
    key = f"similarity-scale:{model}:{catalogue_generation()}"
    found = cache.get(key)
    if found is not None:
        return np.asarray(found) if found else None
    sample = catalogue_sample(model)
    scale = pair_similarity_quantiles(sample) if sample is not None and len(sample) >= 2 else None
    cache.set(key, [] if scale is None else scale.tolist(), SCALE_SECONDS)
    return scale


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
        # Maintenance must never wait on somebody's long transaction (the worker would stop analysing meanwhile):
        # if the rows are locked, this round is skipped and the next minute's tries again.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
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

    def centroids(
        self, group: str, *, among: SongQuerySet | None = None, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mean embedding of each artist's (``group="artist"``) or album's (``"album"``) songs.

        Songs in ``among`` (the catalogue by default) with a vector in ``model``'s space (the active one by
        default); averaged by pgvector in the database, so no vector travels but the means. Returns the group
        ids and their means scaled to unit length, ``[shape=(n,)]`` and ``[shape=(n, d)]``; only vectors of the
        model's commonest width are averaged (one model has one width; a test's may differ).
        """
        column = {"artist": "artist_id", "album": "album_id"}[group]
        songs = Song.objects.catalogue() if among is None else among
        song_sql, song_params = songs.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT s.{column}, e.dimensions, COUNT(*), AVG(e.vector)::real[]
                    FROM {self.model._meta.db_table} e JOIN {Song._meta.db_table} s ON s.id = e.song_id
                    WHERE e.model = %s AND s.{column} IS NOT NULL AND e.song_id IN ({song_sql})
                    GROUP BY 1, 2 ORDER BY 1""",
                [model or active_model_key(), *song_params],
            )
            rows = cursor.fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        widths: dict[int, int] = {}
        for _, width, count, _ in rows:
            widths[width] = widths.get(width, 0) + count
        width = max(widths, key=lambda w: (widths[w], w))
        rows = [row for row in rows if row[1] == width]
        ids = np.array([row[0] for row in rows], np.int64)
        return ids, unit_length(np.array([row[3] for row in rows], np.float32), dtype=np.float32)

    def similar_songs(
        self,
        song: Song,
        *,
        k: int = 10,
        genre: Genre | None = None,
        max_per_artist: int | None = 2,
        filters: SongFilters | None = None,
        viewer: AbstractBaseUser | AnonymousUser | None = None,
    ) -> list[Song]:
        """A playlist of catalogue songs that sound like ``song`` (within ``filters``); empty until it is analysed.

        For a ``viewer``, blended with what the people who play ``song`` also play (``recommender.hybrid``), once the
        collaborative model knows it; a song nobody plays, a private upload among them, gets the audio list. Without
        a viewer, the sound alone."""
        embedding = self.of_song(song)
        if embedding is None:
            return []
        among = Song.objects.catalogue().matching(filters) if filters else None
        return self.nearest_songs(
            embedding.vector,
            among=among,
            model=embedding.model,
            k=k,
            genre=genre,
            seed=song,
            max_per_artist=max_per_artist,
            together=by_songs([song], viewer=viewer) if viewer is not None else None,
        )

    def in_mood(self, mood: str, *, model: str | None = None) -> EmbeddingQuerySet:
        """Embeddings of ``model`` (the active one by default) whose tag scores put their song in ``mood``: the
        SQL of ``recommender.core.moods.in_mood``."""
        model = model or active_model_key()
        wanted, against = stored_mood_keys(mood, stored_tag_keys(load_card(model.partition("@")[0])))
        if not wanted:
            return self.none()

        # The tags are read from each stored profile in one pass (jsonb_to_record): a "->>" per tag unpacked the
        # compressed profile once per tag, 16 times for "calm" (docs/benchmarks.md, "Filters").
        columns = {key: '"' + key.replace('"', '""') + '"' for key in dict.fromkeys(wanted + against)}
        if any("%" in key for key in columns):  # the keys come from the networks' cards; "%" would break the query
            raise ValueError(f"a tag key with a per cent sign cannot be a column name: {list(columns)}")

        def mean(keys: list[str]) -> str:
            if not keys:
                return "0"
            return "((" + " + ".join(f"COALESCE(t.{columns[key]}, 0)" for key in keys) + f") / {len(keys)})"

        record = ", ".join(f"{column} float8" for column in columns.values())
        # A Func, not raw SQL: the compiler names the column, under whatever alias a subquery gives the table.
        in_mood = Func(
            F("tag_scores"),
            template=f"(SELECT {mean(wanted)} > {mean(against)} FROM jsonb_to_record(%(expressions)s) AS t({record}))",
            output_field=models.BooleanField(),
        )
        return self.filter(model=model).alias(in_mood=in_mood).filter(in_mood=True)

    def mood_song_ids(self, mood: str) -> EmbeddingQuerySet:
        """The ids (``song_id``) of the songs in ``mood`` by the active model: what ``Song.objects.matching`` asks."""
        return self.in_mood(mood).values("song_id")

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
        exact: bool = False,
        together: Together | None = None,
    ) -> list[Song]:
        """The ``k`` songs nearest to ``vector`` in ``model``'s space (the active one by default), as a playlist.

        ``among`` is where to look (the catalogue by default). Each song comes with ``.distance`` and
        ``.similarity`` (cosine), its artist and album, and its genres unless ``with_genres`` is false (two
        queries fewer, for pages that do not show them). The nearest-neighbour search is SQL on the HNSW
        index; the playlist rules (no seed, no duplicate recordings, at most ``max_per_artist`` per artist)
        are applied to a few times ``k`` candidates. ``exact`` ranks every song of ``among`` without the index: for a
        second look when a filtered index search came back short (the index hands over a bounded candidate list).

        ``together`` (``recommender.hybrid``) blends in what people play together: the songs of ``among`` nearest in
        the collaborative model join the candidates, and all are ordered by the blend before the playlist rules; each
        song then has ``.side``, "audio" or "together" (which side placed it). Without it, or with nothing learnt
        yet, the order is the audio order; every song has ``.side`` "audio".
        """
        query = unit_length(np.asarray(vector), dtype=np.float32)
        model = model or active_model_key()
        fetch = min(max(4 * k, 40), 1000)
        songs = Song.objects.catalogue() if among is None else among
        if genre is not None:
            ids = Genre.objects.subtree_ids(genre)
            exact = exact or genre_song_ids(ids, distinct=False)[:EXACT_BELOW].count() < EXACT_BELOW
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
        # A stored row (vector, raw vector, tags) is past PostgreSQL's 2 kB, so its vector lives out of line (TOAST):
        # the cast reads it once into the candidates, where the duplicate check below compares every pair of them
        # (240 candidates for the radio: 0.47 s against 0.05 s on 100,000 songs, docs/benchmarks.md).
        nearest = f"""
            SELECT e.song_id, e.vector::vector({width}) AS vector, e.neighbour_similarity,
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
        # The songs the collaborative model ranks highest join the audio candidates, scored by sound all the same.
        extra = f"""
            UNION ALL
            SELECT e.song_id, e.vector::vector({width}), e.neighbour_similarity,
                   e.vector::vector({width}) <=> %s::vector({width}), false
            FROM {self.model._meta.db_table} e
            WHERE e.model = %s AND e.dimensions = {width} AND e.song_id = ANY(%s)
                  AND e.song_id NOT IN (SELECT song_id FROM audio)"""
        sql = f"""
            WITH audio AS MATERIALIZED ({nearest} ORDER BY distance LIMIT {fetch}),
            candidates AS MATERIALIZED (SELECT audio.*, true AS by_audio FROM audio {extra if together else ""})
            SELECT c.song_id, s.artist_id, a.name, s.album_id, s.content_hash, c.distance,
                   c.distance + %s * COALESCE(
                       c.neighbour_similarity, AVG(c.neighbour_similarity) FILTER (WHERE c.by_audio) OVER (), 0
                   ),
                   ARRAY(SELECT d.song_id FROM candidates d
                         WHERE d.song_id <> c.song_id AND (d.vector <=> c.vector) < %s),
                   c.by_audio
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
            params = [literal, model, *song_params]
            if together:
                params += [literal, model, together.extras(song_sql, song_params, fetch)]
            cursor.execute(sql, [*params, CSLS_WEIGHT, DUPLICATE_DISTANCE])
            # relaxed_order may return rows slightly out of order; among equals (copies of one recording) the
            # oldest song is the one kept, whatever order the database found them in.
            rows = sorted(cursor.fetchall(), key=lambda row: (row[6], row[0]))
        by_audio = {row[0] for row in rows if row[8]}
        sides: dict[int, str] = {}
        if together and rows:
            # The seed and its copies leave before the blend: the seed is its own best company on both sides, and
            # would only stretch the scores every other candidate is measured against.
            if seed is not None:
                rows = [row for row in rows if row[0] != seed.pk and row[4] != seed.content_hash]
            # A favourite of the model that nobody vouches for leaves too: it came for the model's sake alone, and
            # ranked by its sound it could still take the place of a nearer song (a song near few others ranks well
            # by CSLS): one person's plays would have put it there.
            known = together.known([row[0] for row in rows])
            rows = [row for row in rows if row[8] or known.get(row[0], (0.0, 0, None))[2] is not None]
            mixed = together.blend([row[0] for row in rows], -np.array([row[6] for row in rows], dtype=np.float64))
            sides = {rows[i][0]: mixed.side[i] for i in range(len(rows))}
            rows = [rows[i] for i in mixed.order]
        candidates = [
            Candidate(
                song_id,
                artist_group_key(artist_id, artist_name, album_id, song_id),
                content_hash,
                float(distance),
                near=frozenset(near),
            )
            for song_id, artist_id, artist_name, album_id, content_hash, distance, _rank, near, _by_audio in rows
        ]
        chosen = build_playlist(
            candidates,
            k=k,
            seed_id=seed.pk if seed else None,
            seed_hash=seed.content_hash if seed else None,
            max_per_artist=max_per_artist,
        )
        # Decided on the songs found by sound: the model's favourites must not hide a search the index cut short.
        if sum(1 for c in chosen if c.song_id in by_audio) < k and len(by_audio) < fetch and not exact:
            # The index scan can stop before the pool's filter (the catalogue's, a genre's, a mood's) lets ``fetch``
            # rows through (hnsw.max_scan_tuples, or a small graph holding dead rows from deletes), so a search came
            # back short with more songs to be found: they get a second, exact look. A catalogue with fewer songs
            # pays one more query, over those few. (A playlist cut short by its rules alone, with every candidate
            # fetched, is not asked again.)
            return self.nearest_songs(
                vector,
                among=among,
                model=model,
                k=k,
                genre=genre,
                seed=seed,
                max_per_artist=max_per_artist,
                with_genres=with_genres,
                exact=True,
                together=together,
            )
        related = (
            Song.objects.with_relations()
            if with_genres
            else Song.objects.select_related("artist", "album").with_title_notes()
        )
        by_id = related.in_bulk([c.song_id for c in chosen])
        placed_together = [c.song_id for c in chosen if sides.get(c.song_id) == "together"]
        named = together.named(placed_together) if together and placed_together else {}
        playlist = []
        for candidate in chosen:
            song = by_id[candidate.song_id]
            song.distance = candidate.distance
            song.similarity = candidate.similarity
            # "together" only with a seed or own song to name (a model replaced mid-request knows none).
            song.together_with = named.get(candidate.song_id)
            song.side = "together" if song.together_with else "audio"
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
        """Up to ``n`` confident tags to show, each named once, none about a voice the song does not have
        (``recommender.core.sounds_like``)."""
        return sounds_like(self.tag_scores, n)


@receiver([post_save, post_delete], sender=Embedding)
def embedding_changed(sender: type[Embedding], **kwargs: object) -> None:
    # Again once committed: a page drawn meanwhile from the old rows may have stored them again.
    forget_starter_choices()
    transaction.on_commit(forget_starter_choices)


from recommender.catalogue_map import CatalogueMap, MapPoint  # noqa: E402,F401
from recommender.collaborative import CollaborativeModel, ListenerFactor, SongFactor  # noqa: E402,F401
from recommender.genre_registry import GenreModel  # noqa: E402,F401
from recommender.photos import Photo  # noqa: E402,F401
