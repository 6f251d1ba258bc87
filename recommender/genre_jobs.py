"""RQ jobs of the genre models: train one, and re-predict genres when one is activated or deactivated.

They run on the ``default`` queue, which ``./musrec run``'s worker serves after the analysis queue. Each takes
primary keys and is safe to run twice: training claims its row with a conditional UPDATE, and predicting stores
nothing once its model is no longer the active one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import django_rq
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from recommender.core.genre_training import GenreDataError
from recommender.genre_registry import GenreModel

logger = logging.getLogger(__name__)

QUEUE = "default"
# A demo-size run takes minutes on two cores; a large library on a CPU, hours.
TRAINING_TIMEOUT = 12 * 3600
PREDICTION_TIMEOUT = 12 * 3600
# A training row whose progress has not moved for this long belonged to a worker that died: it may be claimed again.
STALE_TRAINING = timedelta(minutes=30)


def _enqueue(function: object, *args: object, timeout: int, description: str) -> None:
    try:
        django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            function, *args, job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 24 * 3600, description=description
        )
    except RedisError as error:
        logger.warning("Redis is unreachable (%s); %s was not queued", error, description)


def queue_training(genre_model: GenreModel) -> None:
    """Train ``genre_model`` (a queued row) on the catalogue's genre tags in the background, once committed."""
    pk = genre_model.pk
    transaction.on_commit(
        lambda: _enqueue(train_genre_model, pk, timeout=TRAINING_TIMEOUT, description=f"Train genre model {pk}")
    )


def train_genre_model(genre_model_id: int) -> str:
    """Claim the queued row and train it on the catalogue's genre tags, with live progress on the row."""
    from recommender.genre_learning import RowProgress, TrainingOptions, catalogue_songs, train_and_register

    close_old_connections()
    token = uuid.uuid4()
    stale = timezone.now() - STALE_TRAINING
    claimed = GenreModel.objects.filter(
        Q(status=GenreModel.Status.QUEUED)
        | Q(status=GenreModel.Status.TRAINING, progress_at__lt=stale)
        | Q(status=GenreModel.Status.TRAINING, progress_at__isnull=True, created_at__lt=stale),
        pk=genre_model_id,
    ).update(status=GenreModel.Status.TRAINING, claim=token, stage="starting", progress_at=timezone.now(), error="")
    if not claimed:
        return "nothing to train"
    genre_model = GenreModel.objects.get(pk=genre_model_id)
    options = TrainingOptions(**genre_model.options)
    try:
        labelled = catalogue_songs(top_level=options.top_level)
        train_and_register(labelled, options, genre_model=genre_model, on_progress=RowProgress(genre_model))
    except GenreDataError as error:
        _fail(genre_model, token, f"The catalogue cannot train a genre model: {error}.")
        return "refused"
    except Exception as error:
        logger.exception("Training genre model %s failed", genre_model_id)
        _fail(genre_model, token, f"Training failed: {error}")
        raise
    return "trained"


def _fail(genre_model: GenreModel, token: uuid.UUID, reason: str) -> None:
    GenreModel.objects.filter(pk=genre_model.pk, claim=token).update(
        status=GenreModel.Status.FAILED, error=reason[:2000], stage=""
    )


def activate(genre_model: GenreModel) -> bool:
    """Make ``genre_model`` the one whose genres songs show, and re-predict them in the background.

    Returns False when it cannot be active (not trained).
    """
    with transaction.atomic():
        row = GenreModel.objects.select_for_update().filter(pk=genre_model.pk, status=GenreModel.Status.DONE).first()
        if row is None:
            return False
        GenreModel.objects.filter(is_active=True).exclude(pk=row.pk).update(is_active=False)
        GenreModel.objects.filter(pk=row.pk).update(
            is_active=True, activated_at=timezone.now(), predicted_songs=0, songs_to_predict=0
        )
        queue_prediction()
    return True


def deactivate(genre_model: GenreModel) -> bool:
    """Stop showing ``genre_model``'s genres: songs go back to the MSD-tag mapping in the background."""
    with transaction.atomic():
        if not GenreModel.objects.filter(pk=genre_model.pk, is_active=True).update(is_active=False):
            return False
        transaction.on_commit(
            lambda: _enqueue(restore_tag_genres, timeout=PREDICTION_TIMEOUT, description="Restore MSD-tag genres")
        )
    return True


def queue_prediction(*, song_ids: list[int] | None = None) -> None:
    """Once committed, predict the genres of ``song_ids`` (every analysed song without tags by default) with the
    active model."""

    def enqueue() -> None:
        active = GenreModel.objects.active()
        if active is None:
            return
        what = f"{len(song_ids)} songs" if song_ids is not None else "the catalogue"
        _enqueue(
            predict_genres,
            active.pk,
            song_ids,
            timeout=PREDICTION_TIMEOUT,
            description=f"Predict genres of {what} with genre model {active.pk}",
        )

    transaction.on_commit(enqueue)


def predict_genres(genre_model_id: int, song_ids: list[int] | None = None) -> int:
    """Predict the genres of ``song_ids`` (or of every analysed song without tags) while the model is active."""
    from recommender.genre_learning import predict_genres as predict

    close_old_connections()
    genre_model = GenreModel.objects.filter(pk=genre_model_id, is_active=True).first()
    if genre_model is None:
        return 0
    return predict(genre_model, song_ids=song_ids)


def restore_tag_genres() -> int:
    """Give songs without genre tags the MSD-tag mapping's genre again (after a deactivation)."""
    from recommender.genre_learning import restore_tag_genres as restore

    close_old_connections()
    return restore()
