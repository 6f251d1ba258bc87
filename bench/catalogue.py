"""A synthetic catalogue of analysed songs in the benchmark database, for the kNN and upload benchmarks.

``ensure_catalogue(100_000)`` fills ``bench_musrec`` once with songs, artists, genres and embeddings
under the active model's key (so the site's own queries find them), and reuses them afterwards.
Songs get clustered unit vectors (``synth.clustered_unit_vectors``); each artist's songs come from
one cluster, as an artist's songs sound alike; genres are drawn independently of the sound, so a
genre filter meets matching songs at the same rate everywhere in the space (the harder case for an
index that filters after it scans): "Bench common" on 10 % of songs, "Bench rare" on 1 %, the rest
spread over 18 other genres.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bench.synth import clustered_unit_vectors

SOURCE = "bench: synthetic"
SONGS_PER_ARTIST = 20
CLUSTERS = 200
COMMON_SHARE, RARE_SHARE = 0.10, 0.01
OTHER_GENRES = 18
BATCH = 5000


@dataclass
class Catalogue:
    song_ids: np.ndarray  # [shape=(n,)]
    vectors: np.ndarray  # [shape=(n, width of the active embedder)], L2-normalised, row i belongs to song_ids[i]
    genre_of: np.ndarray  # [shape=(n,)], the genre id of each song
    common_genre_id: int
    rare_genre_id: int
    model_key: str
    created: dict | None  # how long the rows and the index took, when this run created them


def ensure_catalogue(n: int, *, seed: int = 0, rebuild: bool = False) -> Catalogue:
    """The synthetic catalogue of ``n`` songs, created (a few minutes) unless it is already there."""
    from catalog.models import Song
    from recommender.models import Embedding, active_dimensions, active_model_key

    widths = set(Embedding.objects.filter(song__source=SOURCE).values_list("dimensions", flat=True).distinct()[:2])
    if widths and widths != {active_dimensions()}:
        print(
            f"The synthetic vectors are {sorted(widths)} wide, the active embedder's {active_dimensions()}: rebuilding"
        )
        rebuild = True
    if not rebuild and Song.objects.filter(source=SOURCE).count() == n:
        # The vectors are synthetic: when the active model key changes (WINDOWS_PER_SONG, say), relabel them.
        stale = Embedding.objects.filter(song__source=SOURCE).exclude(model=active_model_key())
        if relabelled := stale.update(model=active_model_key()):
            print(f"Relabelled {relabelled:,} synthetic embeddings to {active_model_key()}")
            # Every row got a new version: vacuum the old ones and build the index afresh, or queries
            # wade through twice the rows.
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX IF EXISTS {index_name()}")
                cursor.execute("VACUUM ANALYZE recommender_embedding")
            build_hnsw_index(maintenance_work_mem="512MB")
    if rebuild or Song.objects.filter(source=SOURCE).count() != n:
        started = time.perf_counter()
        _create(n, seed=seed)
        inserted = time.perf_counter() - started
        index = build_hnsw_index()
        return _load(created={"insert_seconds": inserted, "index": index})
    return _load(created=None)


def index_name() -> str:
    """The HNSW index on vectors of the active embedder's width (one partial index a width)."""
    from recommender.models import active_dimensions

    return f"embedding_hnsw_{active_dimensions()}"


def build_hnsw_index(*, maintenance_work_mem: str | None = None) -> dict:
    """Drop and build the embeddings' HNSW index as the model declares it; how long it took, and its size.

    PostgreSQL's notices come back too: pgvector says when the graph outgrew ``maintenance_work_mem``
    and the build went on, much slower, on disk.
    """
    from django.db import connection

    from recommender.models import Embedding

    index = next(i for i in Embedding._meta.indexes if i.name == index_name())
    notices: list[str] = []
    connection.ensure_connection()
    handler = lambda diagnostic: notices.append(diagnostic.message_primary)  # noqa: E731
    connection.connection.add_notice_handler(handler)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET client_min_messages = notice")
            if maintenance_work_mem:
                cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem])
            cursor.execute("SHOW maintenance_work_mem")
            memory = cursor.fetchone()[0]
            cursor.execute("SHOW max_parallel_maintenance_workers")
            workers = cursor.fetchone()[0]
            cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
            print(f"Building the HNSW index (maintenance_work_mem {memory}) …", flush=True)
            started = time.perf_counter()
            with connection.schema_editor() as editor:
                editor.add_index(Embedding, index)
            seconds = time.perf_counter() - started
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [index.name])
            size = cursor.fetchone()[0]
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute("ANALYZE recommender_embedding")
    finally:
        connection.connection.remove_notice_handler(handler)
    return {
        "seconds": seconds,
        "maintenance_work_mem": memory,
        "max_parallel_maintenance_workers": workers,
        "size_mb": size / 1024**2,
        "notices": notices,
    }


def _create(n: int, *, seed: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from catalog.models import Artist, Genre, Song
    from catalog.text import fold
    from recommender.core.tagger import load_spec
    from recommender.models import Embedding, active_dimensions, active_model_key

    print(f"Creating the synthetic catalogue of {n:,} songs …", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_song, catalog_artist, catalog_album, catalog_genre RESTART IDENTITY CASCADE")
    rng = np.random.default_rng(seed + 1)
    vectors, clusters = clustered_unit_vectors(n, dim=active_dimensions(), clusters=CLUSTERS, seed=seed)
    artists_per_cluster = max(1, n // SONGS_PER_ARTIST // CLUSTERS)
    artist_index = clusters * artists_per_cluster + rng.integers(0, artists_per_cluster, size=n)
    genre_draw = rng.random(n)
    genre_index = np.where(
        genre_draw < COMMON_SHARE,
        0,
        np.where(genre_draw < COMMON_SHARE + RARE_SHARE, 1, 2 + rng.integers(0, OTHER_GENRES, size=n)),
    )
    tags = load_spec().tags
    key = active_model_key()
    now = timezone.now()
    with transaction.atomic():
        genre_names = ["Bench common", "Bench rare", *[f"Bench genre {i}" for i in range(OTHER_GENRES)]]
        genres = Genre.objects.bulk_create(Genre(name=name, slug=f"bench-{i}") for i, name in enumerate(genre_names))
        artists = Artist.objects.bulk_create(
            (Artist(name=f"Bench artist {i:05d}") for i in range(int(artist_index.max()) + 1)), batch_size=BATCH
        )
        # Filling the HNSW index row by row is much slower than building it once: it is built afterwards.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {index_name()}")
        links = Song.genres.through
        for start in range(0, n, BATCH):
            rows = range(start, min(start + BATCH, n))
            songs = Song.objects.bulk_create(
                Song(
                    title=f"Synthetic song {i:06d}",
                    artist=artists[artist_index[i]],
                    duration=240.0,
                    audio=f"bench/{i:06d}.mp3",
                    content_hash=f"{i:064x}",
                    source=SOURCE,
                    analysis_status=Song.Analysis.DONE,
                    analysis_progress=100,
                    analysed_at=now,
                    search_document=fold(f"Synthetic song {i:06d} Bench artist {artist_index[i]:05d}"),
                )
                for i in rows
            )
            links.objects.bulk_create(
                links(song_id=song.pk, genre_id=genres[genre_index[i]].pk) for i, song in zip(rows, songs, strict=True)
            )
            scores = rng.random((len(songs), len(tags))).round(4)
            Embedding.objects.bulk_create(
                Embedding(
                    song_id=song.pk,
                    model=key,
                    vector=vectors[i],
                    tag_scores=dict(zip(tags, scores[j].tolist(), strict=True)),
                )
                for j, (i, song) in enumerate(zip(rows, songs, strict=True))
            )
            print(f"  {min(start + BATCH, n):,} songs", end="\r", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(flush=True)


def _load(*, created: dict | None) -> Catalogue:
    from catalog.models import Genre, Song
    from recommender.models import Embedding, active_model_key

    key = active_model_key()
    embeddings = Embedding.objects.filter(model=key, song__source=SOURCE).order_by("song_id")
    rows = list(embeddings.values_list("song_id", "vector"))
    song_ids = np.array([song_id for song_id, _ in rows])
    vectors = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in rows])
    genre_by_song = dict(Song.genres.through.objects.filter(song__source=SOURCE).values_list("song_id", "genre_id"))
    return Catalogue(
        song_ids=song_ids,
        vectors=vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
        genre_of=np.array([genre_by_song[s] for s in song_ids.tolist()]),
        common_genre_id=Genre.objects.get(name="Bench common").pk,
        rare_genre_id=Genre.objects.get(name="Bench rare").pk,
        model_key=key,
        created=created,
    )
