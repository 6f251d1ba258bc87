"""Limits on song uploads: an upload handler that stops reading a file as soon as it passes the size limit, and
each person's upload space and analysis queue (``UploadUsage``).

Django's own handlers spool any file to a temporary file before a view can look at it, and
the CSRF middleware parses the body before the view runs, so a limit checked in the view
comes after a 10 GB upload has filled the disk. This handler sits first in
``FILE_UPLOAD_HANDLERS`` and gives up on the file at the first byte over the limit: the song upload's
limit (``MUSREC_UPLOAD_MAX_MB``) on the upload page, a small one on every other form that takes a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.urls import reverse

from catalog.models import Song

# Files other forms take (an M3U8 playlist: at most 1 MB) are small; only the song upload takes megabytes.
OTHER_FILES_MAX_BYTES = 2 * 1024 * 1024


def upload_limit_bytes() -> int:
    return settings.MUSREC_UPLOAD_MAX_MB * 1024 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    declared_too_large = False
    limit = OTHER_FILES_MAX_BYTES

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        is_song_upload = self.request is not None and self.request.path_info == reverse("recommender:upload")
        self.limit = upload_limit_bytes() if is_song_upload else OTHER_FILES_MAX_BYTES
        # Django does not catch StopUpload here, so a body declared too large is refused at its first chunk.
        # A small margin covers the multipart framing around the file.
        self.declared_too_large = bool(content_length and content_length > self.limit + 64 * 1024)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.declared_too_large or start + len(raw_data) > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _refuse(self) -> None:
        if self.request is not None:
            self.request.upload_too_large = True
        # connection_reset=False: Django reads and discards the rest of the body (nothing is stored),
        # so the browser gets the page that says why instead of a reset connection.
        raise StopUpload(connection_reset=False)


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
