"""Cover pictures found in songs' files (their tags, or a ``cover.jpg`` beside them), stored once each.

A picture is stored re-encoded (``recommender.core.cover_files``), shared by every song and album that
carries it, and served in a few square sizes, each made once and kept on disk beside it. Songs without
one get a cover drawn from their sound instead, by the recommender (``recommender.artwork``).
"""

from __future__ import annotations

import hashlib
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from recommender.core.cover_files import (
    COVER_SIZES,
    MAX_PICTURE_BYTES,
    PictureError,
    normalise_picture,
    square_cover,
)

logger = logging.getLogger(__name__)


def cover_token(*parts: object) -> str:
    """A short hash of what a cover's address stands for, so that the address changes whenever the picture does
    and can be cached for good (``immutable``)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12]


class CoverQuerySet(models.QuerySet["Cover"]):
    def for_picture(self, data: bytes | None) -> Cover | None:
        """The stored cover for a picture file's bytes: found again by their hash, else checked, re-encoded and
        stored now. None for no picture, or one refused (too large, too many pixels, damaged): a song without
        a cover is no reason to refuse the song."""
        if not data:
            return None
        digest = hashlib.sha256(data).hexdigest()
        if (found := self.filter(source_digest=digest).first()) is not None:
            return found
        try:
            jpeg, width, height = normalise_picture(data)
        except PictureError as error:
            logger.info("Cover picture refused: %s", error)
            return None
        name = default_storage.save(f"covers/{digest[:2]}/{digest}.jpg", ContentFile(jpeg))
        try:
            with transaction.atomic():
                return self.create(source_digest=digest, image=name, width=width, height=height)
        except IntegrityError:  # stored meanwhile by a concurrent import
            default_storage.delete(name)
            return self.get(source_digest=digest)

    def unused(self) -> CoverQuerySet:
        return self.filter(songs__isnull=True, albums__isnull=True)


class Cover(models.Model):
    # SHA-256 of the picture as found in the file: the same picture in every song of an album is stored once.
    source_digest = models.CharField(max_length=64, unique=True)
    image = models.FileField(upload_to="covers/", max_length=255, help_text="Re-encoded JPEG, at most 1024 px")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CoverQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Cover {self.source_digest[:12]} ({self.width}×{self.height})"

    @property
    def token(self) -> str:
        return cover_token("stored", self.pk)

    def sized_name(self, size: int) -> str:
        return f"covers/sized/{self.source_digest[:2]}/{self.source_digest}-{size}.jpg"

    def sized(self, size: int) -> bytes:
        """The picture as a square of ``size`` pixels (one of ``COVER_SIZES``), made on first use and kept on disk."""
        if size not in COVER_SIZES:
            raise ValueError(f"no cover size {size}")
        name = self.sized_name(size)
        try:
            with default_storage.open(name, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass
        with self.image.open("rb") as handle:
            data = square_cover(handle.read(MAX_PICTURE_BYTES + 1), size=size)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # another request made it meanwhile: keep theirs
            default_storage.delete(saved)
        return data

    def delete_files(self) -> None:
        for name in (self.image.name, *(self.sized_name(size) for size in COVER_SIZES)):
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("Could not delete the cover file %s", name)


def forget_unused_covers(cover_ids: set[int]) -> None:
    """Delete those of ``cover_ids`` that no song or album shows any more, with their files (after the commit)."""
    for cover in Cover.objects.filter(pk__in=cover_ids).unused():
        cover.delete()
        transaction.on_commit(cover.delete_files)


@receiver(post_delete, sender="catalog.Song")
@receiver(post_delete, sender="catalog.Album")
def forget_cover_of_deleted(sender: type[models.Model], instance: models.Model, **kwargs: object) -> None:
    """A deleted song's picture goes once nothing else shows it: someone's private upload leaves nothing behind."""
    if cover_id := getattr(instance, "cover_id", None):
        transaction.on_commit(lambda: forget_unused_covers({cover_id}))
