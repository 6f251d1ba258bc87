"""RQ jobs that analyse songs. The database row, not Redis, records where a song's analysis stands.

Every job takes primary keys, claims its rows with a conditional UPDATE and is safe to run
twice: a second run finds nothing to claim. A crashed worker or a lost Redis loses nothing,
because ``reconcile()`` puts songs stuck in queued or analysing back on the queue.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import django_rq
import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import OperationalError, close_old_connections, connection, connections, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from catalog.models import Genre, Song
from recommender.core import analysis
from recommender.core.decoding import AudioError
from recommender.core.embedders import Embedder, get_embedder, load_card
from recommender.models import Embedding, active_model_key

logger = logging.getLogger(__name__)

QUEUE = "analysis"
# A worker renews its claims this often while it analyses; a claim not renewed for STALE_AFTER belonged to a
# worker that died, and the reconciler (every RECONCILE_INTERVAL, recommender/worker.py) puts the song back.
HEARTBEAT = timedelta(seconds=15)
STALE_AFTER = timedelta(seconds=60)
# Claims that may end without a result (crash, kill, timeout) before a song is marked failed.
MAX_ATTEMPTS = 3
# A started job holds no queued song (a job claims its song as it starts), so only these keep a queued song alive.
LIVE_JOB_STATES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def job_id_for(song_id: int) -> str:
    return f"analyse-song-{song_id}"


def queue_analysis(song_ids: Iterable[int], *, retry_failed: bool = False) -> int:
    """Mark songs queued and put a job for each on the analysis queue; returns how many were queued."""
    waiting = [Song.Analysis.PENDING, Song.Analysis.DONE]
    if retry_failed:
        waiting.append(Song.Analysis.FAILED)
    ids = list(Song.objects.filter(pk__in=list(song_ids), analysis_status__in=waiting).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        # The status again: a song claimed since the line above keeps its claim.
        ids = list(
            Song.objects.select_for_update()
            .filter(pk__in=ids, analysis_status__in=waiting)
            .values_list("pk", flat=True)
        )
        Song.objects.filter(pk__in=ids).update(
            analysis_status=Song.Analysis.QUEUED,
            analysis_error="",
            analysis_progress=0,
            analysis_claim=None,
            analysis_attempts=0,
        )
        for song_id in ids:
            _enqueue(song_id)
    return len(ids)


def queue_imported_songs(sender: object, *, song_ids: list[int], **kwargs: object) -> int:
    """``catalog.signals.songs_imported``'s receiver: the import commands' new songs get analysed."""
    return queue_analysis(song_ids)


def _enqueue(song_id: int) -> None:
    # After the commit, so a worker never sees a song that is not yet queued.
    transaction.on_commit(lambda: _enqueue_now(song_id))


def _enqueue_now(song_id: int) -> None:
    try:
        django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            analyse_song,
            song_id,
            job_id=job_id_for(song_id),
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            description=f"Analyse song {song_id}",
        )
    except RedisError as error:
        # Nothing is lost while Redis is down: the row says queued, and the reconciler enqueues it again
        # once Redis is back. The upload that queued it has succeeded all the same.
        logger.warning("Redis is unreachable (%s); song %s waits in the database for the reconciler", error, song_id)


GPU_BATCH_SONGS = 16


def analyse_song(song_id: int) -> str:
    """Analyse the next queued songs, in fair order between their owners: on a GPU several in one forward pass.

    ``song_id`` is the song whose queueing made this job; there is one job per queued song, but a job
    takes whichever song is next in fair order (see ``next_in_fair_order``), so one person's thousand
    uploads do not hold up everybody else's one. Safe to run twice: a job that finds nothing to claim ends.
    """
    close_old_connections()
    try:
        model = get_embedder(settings.MUSREC_MODEL)
        # A GPU is idle between small forward passes, so it takes other queued songs along; a CPU is
        # already busy with one song's windows and gains nothing from more.
        per_pass = settings.MUSREC_BATCH_SONGS or (GPU_BATCH_SONGS if model.uses_gpu else 1)
        token, songs = _claim_next(per_pass)
        if not songs:
            return "nothing to do: already analysed or claimed by another worker"
        with _heartbeat(token):
            _analyse_claimed(songs, model, token)
        return f"analysed {', '.join(str(s.pk) for s in songs)}"
    finally:
        close_old_connections()


def next_in_fair_order(limit: int) -> list[tuple[int, int]]:
    """``(song id, attempts)`` of up to ``limit`` queued songs: each owner's oldest first, owners taking turns.

    Round robin: every owner's first queued song (the catalogue's imports count as one owner) comes
    before anybody's second, and so on; within a round, the song added first (lowest id).
    """
    table = Song._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT id, analysis_attempts FROM (
                SELECT id, analysis_attempts, row_number() OVER (PARTITION BY owner_id ORDER BY id) AS turn
                FROM {table} WHERE analysis_status = %s
            ) AS queued
            ORDER BY turn, id LIMIT %s
            """,  # the table name comes from the model
            [Song.Analysis.QUEUED, limit],
        )
        return cursor.fetchall()


def _claim_next(per_pass: int) -> tuple[uuid.UUID, list[Song]]:
    """Claim the next songs (at most ``per_pass``) under a new token; the token and the songs claimed.

    A song that has already failed to finish once is claimed alone: if it crashes the decoder again, it
    takes no innocent songs of its batch down with it.
    """
    token = uuid.uuid4()
    claimed: list[int] = []
    for song_id, attempts in next_in_fair_order(4 * per_pass):
        if len(claimed) >= per_pass or (claimed and attempts > 0):
            break
        if _claim(song_id, token):
            claimed.append(song_id)
            if attempts > 0:
                break
    return token, list(Song.objects.filter(pk__in=claimed, analysis_claim=token).order_by("pk"))


def _claim(song_id: int, token: uuid.UUID) -> bool:
    # One conditional UPDATE: whoever changes the row owns it; a second claimer gets 0 rows.
    now = timezone.now()
    return bool(
        Song.objects.filter(pk=song_id, analysis_status=Song.Analysis.QUEUED).update(
            analysis_status=Song.Analysis.ANALYSING,
            analysis_claim=token,
            analysis_started_at=now,
            analysis_heartbeat_at=now,
            analysis_attempts=F("analysis_attempts") + 1,
            analysis_progress=5,
            analysis_error="",
        )
    )


def _claimed(song: Song, token: uuid.UUID) -> QuerySet[Song]:
    """``song``'s row while ``token`` still holds its claim (not re-queued, deleted or taken over meanwhile)."""
    return Song.objects.filter(pk=song.pk, analysis_status=Song.Analysis.ANALYSING, analysis_claim=token)


@contextmanager
def _heartbeat(token: uuid.UUID) -> Iterator[None]:
    """Renew the claims of ``token`` every ``HEARTBEAT`` while the body runs, so a slow song is not taken for lost."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT.total_seconds()):
                try:
                    Song.objects.filter(analysis_claim=token, analysis_status=Song.Analysis.ANALYSING).update(
                        analysis_heartbeat_at=timezone.now()
                    )
                except Exception:  # a missed beat (the database restarting) is tried again at the next one
                    logger.exception("Renewing analysis claims failed")
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name="analysis-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _set_progress(song: Song, percent: int, token: uuid.UUID) -> None:
    _claimed(song, token).update(analysis_progress=percent)


def _analyse_claimed(songs: list[Song], model: Embedder, token: uuid.UUID) -> None:
    with ExitStack() as stack:
        paths: list[Path | None] = []
        for song in songs:
            try:
                paths.append(stack.enter_context(local_audio_path(song)))
            except OSError:
                paths.append(None)
        for song in songs:
            _set_progress(song, 20, token)
        results = analysis.analyse_files(
            [p for p in paths if p is not None],
            model=model,
            max_seconds=settings.MUSREC_MAX_ANALYSIS_SECONDS,
            min_seconds=settings.MUSREC_MIN_ANALYSIS_SECONDS,
        )
        results_iter = iter(results)
        for song, path in zip(songs, paths, strict=True):
            if path is None:
                _fail(song, "the audio file is missing from storage", token)
                continue
            result = next(results_iter)
            if isinstance(result, AudioError):
                _fail(song, str(result), token)
                continue
            try:
                _store(song, result, model, token)
            except OSError as error:
                logger.warning("Storing the analysis of song %s failed: %s; it goes back on the queue", song.pk, error)
                _retry_later(song, token, f"the result could not be stored ({error.strerror or error})")
            except Exception:
                logger.exception("Storing the analysis of song %s failed", song.pk)
                _fail(song, "an internal error stopped the analysis; it can be retried", token)
                raise


@contextmanager
def local_audio_path(song: Song) -> Iterator[Path]:
    """A local file holding the song's audio: the stored file itself, or a temporary copy from remote storage."""
    try:
        path = Path(song.audio.path)
    except NotImplementedError:  # remote storage (S3 and friends) has no local path
        path = None
    if path is not None:
        # Checked here, or a file gone from storage would be reported as damaged audio.
        if not path.is_file():
            raise FileNotFoundError(path)
        yield path
        return
    suffix = Path(song.audio.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle, song.audio.open("rb") as source:
        for chunk in source.chunks():
            handle.write(chunk)
        handle.flush()
        yield Path(handle.name)


def _fail(song: Song, reason: str, token: uuid.UUID) -> None:
    _claimed(song, token).update(
        analysis_status=Song.Analysis.FAILED, analysis_error=reason[:1000], analysis_progress=0, analysis_claim=None
    )


def _store(song: Song, result: analysis.SongAnalysis, model: Embedder, token: uuid.UUID) -> None:
    """Store the result, if ``token`` still holds the song's claim. An ``OSError`` (a full disk) leaves the row
    as it was: the caller puts the song back on the queue."""
    key = analysis.model_key(model.card)
    # Named by the recording and by the analysis that drew it: copies of one recording (an upload and its
    # catalogue twin) share the picture, and a new analysis writes a new file instead of overwriting one that
    # another song still shows, so a write that fails half-way (a full disk) spoils nobody's picture.
    drawn_by = hashlib.sha256(key.encode()).hexdigest()[:10]
    image_name = f"spectrograms/{song.content_hash[:2]}/{song.content_hash}-{drawn_by}.png"
    storage = song.spectrogram.storage
    if not storage.exists(image_name):
        image_name = storage.save(image_name, ContentFile(result.spectrogram_png))
    with transaction.atomic():
        # The row lock makes a delete or a re-queue either come first (the result is dropped, and no
        # image or embedding is left behind for a song that is gone) or wait until the result is in.
        row = _claimed(song, token).select_for_update().values_list("spectrogram", flat=True).first()
        if row is None:
            _delete_picture_if_unused(storage, image_name)
            return  # the upload was deleted, re-queued or taken over meanwhile
        Embedding.objects.update_or_create(
            song=song,
            model=key,
            defaults={
                "vector": result.embedding.tolist(),
                "raw_vector": result.raw_vector.tolist(),
                "tag_scores": result.tag_scores,
                "neighbour_similarity": None,
            },
        )
        # Queries compare vectors of one model only, but every vector sits in the one HNSW index, where
        # a stale model's rows are scanned and filtered out: after a model switch they would halve its speed.
        Embedding.objects.filter(song=song).exclude(model=key).delete()
        Song.objects.filter(pk=song.pk).update(
            analysis_status=Song.Analysis.DONE,
            analysis_claim=None,
            analysis_attempts=0,
            analysis_progress=100,
            analysis_error="",
            analysed_at=timezone.now(),
            duration=result.duration,
            tempo_bpm=result.tempo_bpm,
            loudness_db=result.loudness_db,
            energy=result.energy,
            spectrogram=image_name,
        )
        song.predicted_genres.set(
            [Genre.objects.named(name) for name in result.predicted_genres] if not song.genres.exists() else []
        )
        if row and row != image_name:
            _delete_picture_if_unused(storage, row)


def _delete_picture_if_unused(storage: Storage, name: str) -> None:
    transaction.on_commit(lambda: None if Song.objects.filter(spectrogram=name).exists() else storage.delete(name))


def _retry_later(song: Song, token: uuid.UUID, reason: str) -> None:
    """A failure of the machine, not of the file (a full disk): try again in a while, as often as it takes.

    The song is left as a claim whose heartbeat has stopped, so the reconciler's next round (a minute at most)
    queues it again: queued at once, any job would take it straight back, and a full disk has no time to
    clear. The attempt is given back, because the file is not to blame.
    """
    _claimed(song, token).update(
        analysis_claim=None,
        analysis_heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1),
        analysis_attempts=Greatest(F("analysis_attempts") - 1, 0),
        analysis_progress=0,
        analysis_error=f"{reason}; it will be tried again",
    )


def reconcile() -> dict[str, int]:
    """Put back on the queue every song whose analysis was lost, and every song the active model has not seen.

    - analysing with no heartbeat for ``STALE_AFTER``: the worker died (killed, crashed, timed out); back to
      queued, or failed once ``MAX_ATTEMPTS`` claims have ended that way (a file that crashes the decoder or
      exhausts memory must not be retried for ever);
    - queued without a live job in Redis (Redis restarted, queue flushed): enqueued again;
    - pending, or done without an embedding from the active model (the model was switched): queued.
    Failed songs stay failed until someone retries them.
    """
    stale = timezone.now() - STALE_AFTER
    dead = Song.objects.filter(analysis_status=Song.Analysis.ANALYSING).filter(
        Q(analysis_heartbeat_at__lt=stale) | Q(analysis_heartbeat_at__isnull=True, analysis_started_at__lt=stale)
    )
    dead.filter(analysis_attempts__gte=MAX_ATTEMPTS).update(
        analysis_status=Song.Analysis.FAILED,
        analysis_claim=None,
        analysis_progress=0,
        analysis_error=(
            f"the analysis stopped {MAX_ATTEMPTS} times without finishing (the file may crash the decoder, "
            "need too much memory or take too long); it can be retried"
        ),
    )
    revived = 0
    for song_id in dead.values_list("pk", flat=True):
        # The same conditions again in the UPDATE: another worker's reconciler, or a fresh claim, may have come first.
        if dead.filter(pk=song_id).update(
            analysis_status=Song.Analysis.QUEUED, analysis_claim=None, analysis_progress=0
        ):
            revived += 1
            _enqueue(song_id)

    recombined = recombine_from_raw_vectors()
    model_key = active_model_key()
    has_embedding = Embedding.objects.filter(song=OuterRef("pk"), model=model_key)
    newly = queue_analysis(
        Song.objects.filter(Q(analysis_status=Song.Analysis.PENDING) | Q(analysis_status=Song.Analysis.DONE))
        .exclude(Exists(has_embedding))
        .values_list("pk", flat=True)
    )

    redis = django_rq.get_connection(QUEUE)
    requeued = 0
    for song_id in Song.objects.filter(analysis_status=Song.Analysis.QUEUED).values_list("pk", flat=True):
        try:
            status = Job.fetch(job_id_for(song_id), connection=redis).get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status not in LIVE_JOB_STATES:
            _enqueue(song_id)
            requeued += 1
    return {"revived": revived, "recombined": recombined, "queued": newly, "requeued": requeued}


RECOMBINE_BATCH = 500


def recombine_from_raw_vectors() -> int:
    """Give songs the active embedder's vectors from the raw vectors an earlier version of it stored.

    A new version of an embedder's card (statistics refitted) changes how the networks' outputs are combined,
    not the outputs: the stored raw vectors are combined again, in the database's time, without the networks.
    Only an earlier version with the same networks, layer and windows qualifies; anything else is analysed again.
    """
    card = load_card(settings.MUSREC_MODEL)
    key = analysis.model_key(card)
    name, _, rest = key.partition("@")
    suffix = rest.partition(":")[2]  # layer and windows
    earlier = (
        Embedding.objects.filter(model__startswith=f"{name}@", model__endswith=f":{suffix}", raw_vector__isnull=False)
        .exclude(model=key)
        .exclude(Exists(Embedding.objects.filter(song=OuterRef("song"), model=key)))
    )
    done = 0
    while batch := list(earlier.order_by("pk")[:RECOMBINE_BATCH]):
        vectors = card.combine(card.split_raw(np.stack([np.asarray(e.raw_vector, np.float32) for e in batch])))
        with transaction.atomic():
            Embedding.objects.bulk_create(
                [
                    Embedding(
                        song_id=e.song_id,
                        model=key,
                        vector=v.tolist(),
                        raw_vector=e.raw_vector,
                        tag_scores=e.tag_scores,
                    )
                    for e, v in zip(batch, vectors, strict=True)
                ],
                ignore_conflicts=True,  # a worker may have stored the song's new vector meanwhile
            )
            Embedding.objects.filter(pk__in=[e.pk for e in batch]).delete()
        done += len(batch)
    return done


# Up to this many catalogue songs, r(y) of every song is computed again whenever the catalogue changes: seconds
# of a worker's time (docs/benchmarks.md). Above it only new songs get theirs at once, and everybody's once a day.
FULL_REFRESH_UP_TO = 20_000
FULL_REFRESH_EVERY = timedelta(days=1)


def refresh_neighbour_similarity() -> int:
    """Keep CSLS's r(y) up to date (``Embedding.objects.refresh_neighbour_similarity``); the worker's maintenance
    runs it every ``RECONCILE_INTERVAL``, so songs analysed or imported meanwhile are handled in one batch.

    A new song gets its r at once; the others' change when the catalogue does (a new neighbour may join their
    nearest ten), so they are computed again when the catalogue's size has changed, or daily for a large one.
    """
    from catalog.models import catalogue_song_count

    new = Embedding.objects.active().filter(neighbour_similarity__isnull=True).exists()
    size = catalogue_song_count()
    if size <= FULL_REFRESH_UP_TO:
        everything = cache.get(REFRESHED_FOR_SIZE) != size
    else:
        everything = cache.add(REFRESHED_RECENTLY, True, timeout=FULL_REFRESH_EVERY.total_seconds())
    if not (new or everything):
        return 0
    try:
        updated = Embedding.objects.refresh_neighbour_similarity(everything=everything)
    except OperationalError as error:  # the rows were locked for longer than lock_timeout: next minute
        logger.warning("Neighbour similarity (CSLS) not refreshed this time: %s", error)
        if everything and size > FULL_REFRESH_UP_TO:
            cache.delete(REFRESHED_RECENTLY)  # the day's full refresh did not happen: try it again next time
        return 0
    if everything:
        cache.set(REFRESHED_FOR_SIZE, size, timeout=None)
    return updated


REFRESHED_FOR_SIZE = "csls:refreshed-for-catalogue-size"
REFRESHED_RECENTLY = "csls:refreshed-recently"
