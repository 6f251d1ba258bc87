"""RQ jobs that analyse songs. The database row, not Redis, records where a song's analysis stands.

Every job takes primary keys, claims its rows with a conditional UPDATE and is safe to run
twice: a second run finds nothing to claim. A crashed worker or a lost Redis loses nothing,
because ``reconcile()`` puts songs stuck in queued or analysing back on the queue.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import django_rq
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from catalog.models import Genre, Song
from recommender.core import analysis
from recommender.core.decoding import AudioError
from recommender.core.tagger import get_tagger
from recommender.models import Embedding, active_model_key

logger = logging.getLogger(__name__)

QUEUE = "analysis"
# A song analysing for longer than this was dropped by a worker that died.
STALE_AFTER = timedelta(minutes=15)
LIVE_JOB_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


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
        Song.objects.filter(pk__in=ids).update(
            analysis_status=Song.Analysis.QUEUED, analysis_error="", analysis_progress=0
        )
        # django-rq enqueues after the commit, so a worker never sees a song that is not yet queued.
        for song_id in ids:
            _enqueue(song_id)
    return len(ids)


def queue_imported_songs(sender: object, *, song_ids: list[int], **kwargs: object) -> int:
    """``catalog.signals.songs_imported``'s receiver: the import commands' new songs get analysed."""
    return queue_analysis(song_ids)


def _enqueue(song_id: int) -> None:
    django_rq.get_queue(QUEUE).enqueue(
        analyse_song,
        song_id,
        job_id=job_id_for(song_id),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"Analyse song {song_id}",
    )


GPU_BATCH_SONGS = 16


def analyse_song(song_id: int) -> str:
    """Analyse ``song_id`` and, on a GPU, other queued songs in the same forward pass."""
    close_old_connections()
    try:
        model = get_tagger(settings.MUSREC_MODEL)
        # A GPU is idle between small forward passes, so it takes other queued songs along; a CPU is
        # already busy with one song's windows and gains nothing from more.
        per_pass = settings.MUSREC_BATCH_SONGS or (GPU_BATCH_SONGS if model.uses_gpu else 1)
        batch = [song_id, *_next_queued(exclude=song_id, limit=per_pass - 1)]
        songs = _claim(batch)
        if not songs:
            return "nothing to do: already analysed or claimed by another worker"
        _analyse_claimed(songs, model)
        return f"analysed {', '.join(str(s.pk) for s in songs)}"
    finally:
        close_old_connections()


def _next_queued(*, exclude: int, limit: int) -> list[int]:
    if limit <= 0:
        return []
    return list(
        Song.objects.filter(analysis_status=Song.Analysis.QUEUED)
        .exclude(pk=exclude)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def _claimable() -> Q:
    stale = timezone.now() - STALE_AFTER
    return Q(analysis_status=Song.Analysis.QUEUED) | Q(
        analysis_status=Song.Analysis.ANALYSING, analysis_started_at__lt=stale
    )


def _claim(song_ids: list[int]) -> list[Song]:
    claimed = []
    for song_id in song_ids:
        # One conditional UPDATE per row: whoever changes the row owns it; a second run gets 0 rows.
        updated = Song.objects.filter(_claimable(), pk=song_id).update(
            analysis_status=Song.Analysis.ANALYSING,
            analysis_started_at=timezone.now(),
            analysis_progress=5,
            analysis_error="",
        )
        if updated:
            claimed.append(Song.objects.get(pk=song_id))
    return claimed


def _set_progress(song: Song, percent: int) -> None:
    Song.objects.filter(pk=song.pk, analysis_status=Song.Analysis.ANALYSING).update(analysis_progress=percent)


def _analyse_claimed(songs: list[Song], model: analysis.Tagger) -> None:
    with ExitStack() as stack:
        paths: list[Path | None] = []
        for song in songs:
            try:
                paths.append(stack.enter_context(local_audio_path(song)))
            except OSError:
                paths.append(None)
        for song in songs:
            _set_progress(song, 20)
        results = analysis.analyse_files(
            [p for p in paths if p is not None],
            model=model,
            max_seconds=settings.MUSREC_MAX_ANALYSIS_SECONDS,
        )
        results_iter = iter(results)
        for song, path in zip(songs, paths, strict=True):
            if path is None:
                _fail(song, "the audio file is missing from storage")
                continue
            result = next(results_iter)
            if isinstance(result, AudioError):
                _fail(song, str(result))
                continue
            try:
                _store(song, result, model)
            except Exception:
                logger.exception("Storing the analysis of song %s failed", song.pk)
                _fail(song, "an internal error stopped the analysis; it can be retried")
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


def _fail(song: Song, reason: str) -> None:
    Song.objects.filter(pk=song.pk).update(
        analysis_status=Song.Analysis.FAILED, analysis_error=reason[:1000], analysis_progress=0
    )


def _store(song: Song, result: analysis.SongAnalysis, model: analysis.Tagger) -> None:
    key = analysis.model_key(model.spec)
    image_name = f"spectrograms/{song.content_hash[:2]}/{song.content_hash}.png"
    storage = song.spectrogram.storage
    with transaction.atomic():
        # The row lock makes a delete or a re-queue either come first (the result is dropped, and no
        # image or embedding is left behind for a song that is gone) or wait until the result is in.
        status = Song.objects.select_for_update().filter(pk=song.pk).values_list("analysis_status", flat=True).first()
        if status != Song.Analysis.ANALYSING:
            return  # the upload was deleted or re-queued meanwhile
        storage.delete(image_name)
        image_name = storage.save(image_name, ContentFile(result.spectrogram_png))
        Embedding.objects.update_or_create(
            song=song,
            model=key,
            defaults={"vector": result.embedding.tolist(), "tag_scores": result.tag_scores},
        )
        # Queries compare vectors of one model only, but every vector sits in the one HNSW index, where
        # a stale model's rows are scanned and filtered out: after a model switch they would halve its speed.
        Embedding.objects.filter(song=song).exclude(model=key).delete()
        Song.objects.filter(pk=song.pk).update(
            analysis_status=Song.Analysis.DONE,
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


def reconcile() -> dict[str, int]:
    """Put back on the queue every song whose analysis was lost, and every song the active model has not seen.

    - analysing for longer than ``STALE_AFTER``: the worker died; back to queued;
    - queued without a live job in Redis (Redis restarted, queue flushed): enqueued again;
    - pending, or done without an embedding from the active model (the model was switched): queued.
    Failed songs stay failed until someone retries them.
    """
    stale = timezone.now() - STALE_AFTER
    revived = Song.objects.filter(analysis_status=Song.Analysis.ANALYSING, analysis_started_at__lt=stale).update(
        analysis_status=Song.Analysis.QUEUED, analysis_progress=0
    )

    model_key = active_model_key()
    has_embedding = Embedding.objects.filter(song=OuterRef("pk"), model=model_key)
    newly = queue_analysis(
        Song.objects.filter(Q(analysis_status=Song.Analysis.PENDING) | Q(analysis_status=Song.Analysis.DONE))
        .exclude(Exists(has_embedding))
        .values_list("pk", flat=True)
    )

    connection = django_rq.get_connection(QUEUE)
    requeued = 0
    for song_id in Song.objects.filter(analysis_status=Song.Analysis.QUEUED).values_list("pk", flat=True):
        try:
            status = Job.fetch(job_id_for(song_id), connection=connection).get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status not in LIVE_JOB_STATES:
            _enqueue(song_id)
            requeued += 1
    return {"revived": revived, "queued": newly, "requeued": requeued}
