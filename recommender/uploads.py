"""Each person's upload space and analysis queue (``UploadUsage``). The size of one request's file is bounded
earlier, while it is read: ``musrec_site.upload_handler``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from catalog.models import Song

MIB = 1024 * 1024


def megabytes(size: int) -> str:
    """``size`` bytes as whole megabytes, rounded up so that a small file never reads as "0 MB"."""
    return f"{math.ceil(size / MIB):,} MB"


class UploadRefused(Exception):
    """An upload past one of its owner's limits: the reason in plain words and the HTTP status to answer."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class UploadUsage:
    """How much of their upload limits a person uses: the upload page shows it, the upload checks it.

    A limit of 0 is no limit (``MUSREC_UPLOAD_QUOTA_MB``, ``MUSREC_MAX_QUEUED_PER_USER``).
    """

    used_bytes: int
    quota_bytes: int
    awaiting_analysis: int
    max_awaiting: int

    @classmethod
    def of(cls, user: AbstractBaseUser) -> UploadUsage:
        uploads = Song.objects.uploads_of(user)
        return cls(
            used_bytes=uploads.total_file_size(),
            quota_bytes=settings.MUSREC_UPLOAD_QUOTA_MB * MIB,
            awaiting_analysis=uploads.awaiting_analysis().count(),
            max_awaiting=settings.MUSREC_MAX_QUEUED_PER_USER,
        )

    @property
    def used(self) -> str:
        return megabytes(self.used_bytes)

    @property
    def quota(self) -> str:
        return megabytes(self.quota_bytes)

    def check(self, adding_bytes: int) -> None:
        """Raise ``UploadRefused`` if one more upload of ``adding_bytes`` would pass a limit."""
        if self.max_awaiting and self.awaiting_analysis >= self.max_awaiting:
            raise UploadRefused(
                f"{self.awaiting_analysis} of your uploads are waiting for analysis, the most at once. "
                "Please upload more when some of them are done.",
                status=429,
            )
        if self.quota_bytes and self.used_bytes + adding_bytes > self.quota_bytes:
            raise UploadRefused(
                f"This file ({megabytes(adding_bytes)}) does not fit in your upload space: {self.used} of "
                f"{self.quota} used. Delete some of your uploads to make room.",
                status=413,
            )
