"""Serving audio files with HTTP Range support, so browsers can seek."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK_SIZE = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``(start, end)`` a single-range header asks for.

    Returns None when the header is absent or not a single byte range (then the
    whole file is sent, which RFC 9110 allows); raises ValueError when the range
    cannot be satisfied.
    """
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-500": the last 500 bytes
        length = int(last)
        if length == 0 or size == 0:  # RFC 9110 §14.1.2: nothing to send, so unsatisfiable
            raise ValueError("empty suffix range or empty file")
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError("range outside the file")
    return start, end


class _FileSpan:
    """``length`` bytes of ``handle`` from ``start``, in chunks; closing it closes the file.

    Django calls ``close()`` on streaming content when the response ends, even if the client
    went away before the first byte, so the file is never left open.
    """

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        self.handle, self.start, self.length = handle, start, length

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.start)
        remaining = self.length
        while remaining > 0:
            chunk = self.handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def ranged_file_response(request: HttpRequest, handle: IO[bytes], size: int, content_type: str) -> HttpResponse:
    try:
        byte_range = parse_range(request.headers.get("Range", ""), size)
    except ValueError:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range if byte_range else (0, size - 1)
    length = max(end - start + 1, 0)
    response = StreamingHttpResponse(_FileSpan(handle, start, length), content_type=content_type)
    if byte_range:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    return response


def read_stored_file(field: FieldFile, *, what: str) -> bytes:
    """The bytes of a small stored file (licence text, spectrogram), or 404 naming ``what`` when there is none."""
    if not field:
        raise Http404(f"No {what} is recorded for this song.")
    try:
        with field.open("rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Http404(f"The {what} is missing.") from None
