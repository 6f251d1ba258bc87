"""The registry of trained genre models and the genres they predict (the Django side of issue 10).

A ``GenreModel`` row is one run of ``train_genre_model`` (or of the admin's training job): its architecture, where
its files are (``MUSREC_MODEL_DIR``), its state while it trains, its model card, and whether it is the active one.
While a model is active, the genre shown for a song without genre tags is the model's (``GenrePrediction``, with
its confidence) instead of the mapping from MSD tags; at most one model is active.

``recommender/models.py`` imports this module, so that Django sees its models.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver

from catalog.models import Genre, Song
from recommender.core.genre_training import ARCHITECTURES


class GenreModelQuerySet(models.QuerySet["GenreModel"]):
    def active(self) -> GenreModel | None:
        """The model whose genres songs show now; None while the MSD-tag mapping is in use."""
        return self.filter(is_active=True, status=GenreModel.Status.DONE).first()


class GenreModel(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        TRAINING = "training", "Training"
        DONE = "done", "Trained"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=100)
    arch = models.CharField("architecture", max_length=20, choices=[(a, a) for a in ARCHITECTURES], default="cnn")
    source = models.CharField(
        max_length=500, default="catalogue", help_text="Where the labels came from: the catalogue's tags or a CSV"
    )
    options = models.JSONField(default=dict, help_text="epochs, patience, seed, windows, top_level")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # The folder of model.keras, labels.json, card.json and the PNGs, relative to MUSREC_MODEL_DIR.
    directory = models.CharField(max_length=255, blank=True)
    labels = models.JSONField(default=list, blank=True)
    card = models.JSONField(default=dict, blank=True)
    accuracy = models.FloatField(null=True, blank=True, help_text="On held-out albums")
    macro_f1 = models.FloatField(null=True, blank=True, help_text="On held-out albums")
    # Live progress of the training, written by the job at most every PROGRESS_SECONDS (genre_learning).
    claim = models.UUIDField(null=True, blank=True, editable=False)
    stage = models.CharField(max_length=20, blank=True)
    epoch = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField("active", default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Re-predicting the catalogue after activation: songs done of songs to do.
    predicted_songs = models.PositiveIntegerField(default=0)
    songs_to_predict = models.PositiveIntegerField(default=0)

    objects = GenreModelQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="genre_model_one_active")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path | None:
        """The model's folder, once it has one."""
        return Path(settings.MUSREC_MODEL_DIR) / self.directory if self.directory else None

    @property
    def is_busy(self) -> bool:
        """Training, or re-predicting the catalogue: its admin page keeps refreshing."""
        predicting = self.is_active and self.predicted_songs < self.songs_to_predict
        return self.status in (self.Status.QUEUED, self.Status.TRAINING) or predicting


class GenrePrediction(models.Model):
    """A trained model's genre for a song, with the model's probability for it (its confidence)."""

    genre_model = models.ForeignKey(GenreModel, on_delete=models.CASCADE, related_name="predictions")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="genre_predictions")
    genre = models.ForeignKey(Genre, on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField(help_text="The model's probability for the genre, 0 to 1")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["genre_model", "song"], name="genre_prediction_model_song_unique")
        ]

    def __str__(self) -> str:
        return f"{self.song_id}: {self.genre} ({self.confidence:.2f})"


@receiver(post_save, sender="recommender.Embedding", dispatch_uid="recommender.genre_of_analysed_song")
def genre_of_analysed_song(sender: type[models.Model], instance: models.Model, **kwargs: object) -> None:
    """A song analysed while a genre model is active gets that model's genre, once the analysis is committed.

    The analysis stores the MSD-tag mapping's genre in the same transaction; the job replaces it right after.
    """
    if not GenreModel.objects.filter(is_active=True).exists():
        return
    from recommender.genre_jobs import queue_prediction

    song_id = instance.song_id  # type: ignore[attr-defined]
    transaction.on_commit(lambda: queue_prediction(song_ids=[song_id]))
