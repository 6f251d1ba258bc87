"""An upload handler that stops reading a file as soon as it passes the size limit, for every form of the site.

Django's own handlers spool any file to a temporary file before a view can look at it, and
the CSRF middleware parses the body before the view runs, so a limit checked in the view
comes after a 10 GB upload has filled the disk. This handler sits first in
``FILE_UPLOAD_HANDLERS`` and gives up on the file at the first byte over the limit: the song upload's
limit (``MUSREC_UPLOAD_MAX_MB``) on the upload page, the photo page's (``MAX_PHOTO_BYTES``), a small one on
every other form that takes a file.
A view sees ``request.upload_too_large`` and says why. It belongs to the site, not to one app, because it
reads every request.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.urls import reverse

from recommender.core.photo_mood import MAX_PHOTO_BYTES

# Files other forms take (an M3U8 playlist: at most 1 MB) are small; only the song upload takes megabytes.
OTHER_FILES_MAX_BYTES = 2 * 1024 * 1024


def upload_limit_bytes() -> int:
    return settings.MUSREC_UPLOAD_MAX_MB * 1024 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    declared_too_large = False
    limit = OTHER_FILES_MAX_BYTES

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        path = self.request.path_info if self.request is not None else None
        if path == reverse("recommender:upload"):
            self.limit = upload_limit_bytes()
        elif path == reverse("recommender:photo"):
            self.limit = MAX_PHOTO_BYTES
        else:
            self.limit = OTHER_FILES_MAX_BYTES
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
