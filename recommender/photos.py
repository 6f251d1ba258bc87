"""Photos a person asked music for: their colour reading and a small thumbnail, private to their owner.

What is kept of an upload is the statistics ``recommender.core.photo_mood`` read and a re-encoded thumbnail of at
most ``THUMBNAIL_SIDE`` pixels, in the row itself, never the file: no EXIF (place, time, camera), nothing hidden
after the image, no full-size picture of anyone's home. Being in the row, it goes with the row: the account's
deletion cascades to it, and no file is left behind on disk for a cleanup to miss.

``recommender/models.py`` imports this module, so that Django sees its model.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from recommender.core.photo_mood import ColourStatistics, PhotoMood


class PhotoQuerySet(models.QuerySet["Photo"]):
    def owned_by(self, user: AbstractBaseUser | AnonymousUser) -> PhotoQuerySet:
        """``user``'s photos, newest first; none for someone signed out."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user).order_by("-created_at", "-pk")


class Photo(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos")
    created_at = models.DateTimeField(auto_now_add=True)
    thumbnail = models.BinaryField(help_text="Re-encoded JPEG without metadata, at most 480 px a side")
    width = models.PositiveIntegerField(help_text="Of the thumbnail")
    height = models.PositiveIntegerField(help_text="Of the thumbnail")
    statistics = models.JSONField(help_text="Brightness, saturation, warmth, contrast, colourfulness, palette")
    valence = models.FloatField()
    arousal = models.FloatField()

    objects = PhotoQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="photo_owner_created")]

    def __str__(self) -> str:
        return f"Photo {self.pk} of {self.owner_id}"

    @property
    def mood(self) -> PhotoMood:
        return PhotoMood(
            valence=self.valence, arousal=self.arousal, statistics=ColourStatistics.from_dict(self.statistics)
        )
