"""Serving audio files with HTTP Range support, so browsers can seek, at a bounded cost to the web server.

Each stream holds one of gunicorn's threads until its last byte is sent, so: files are read a chunk at a time
whatever range is asked for, each person has a few streams at once at most, and a listener who reads nothing for
MUSREC_STREAM_SEND_TIMEOUT seconds loses the stream. Behind nginx, X-Accel-Redirect hands the sending to nginx.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK_SIZE = 64 * 1024
# A stream renews its slot this often; a slot outlives its last renewal by this and the send timeout, so a stream
# that ended without closing (its process killed) gives its slot back within a few minutes.
SLOT_RENEW_SECONDS = 30
TOO_MANY_STREAMS = "Too many songs are playing at once for you: stop one and try again.\n"
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


@dataclasses.dataclass
class StreamSlot:
    """One of a person's MUSREC_STREAMS_PER_USER streams, held in the cache (Redis) under a key that expires.

    ``key`` is None for a stream that is not counted: no limit, or the cache cannot be reached.
    """

    key: str | None
    token: str = dataclasses.field(default_factory=lambda: secrets.token_hex(8))
    renewed: float = dataclasses.field(default_factory=time.monotonic)

    @staticmethod
    def lifetime() -> int:
        return settings.MUSREC_STREAM_SEND_TIMEOUT + 2 * SLOT_RENEW_SECONDS

    def keep(self) -> None:
        if self.key is not None and time.monotonic() - self.renewed >= SLOT_RENEW_SECONDS:
            cache.set(self.key, self.token, self.lifetime())
            self.renewed = time.monotonic()

    def release(self) -> None:
        # Only if still ours: a slot that expired (Redis was down at renewal) may belong to another stream by now.
        if self.key is not None and cache.get(self.key) == self.token:
            cache.delete(self.key)


def claim_stream_slot(user_id: int | str) -> StreamSlot | None:
    """A free slot among the person's MUSREC_STREAMS_PER_USER, or None when every one is taken.

    ``user_id`` names the person: a user's id, or for a visitor playing a shared playlist, their address.

    Redis down reads as "every slot taken and every slot empty" (ForgivingRedisCache): the stream then goes ahead
    uncounted, as the other limits fail open.
    """
    limit = settings.MUSREC_STREAMS_PER_USER
    if not limit:
        return StreamSlot(key=None)
    keys = [f"streams:{user_id}:{n}" for n in range(limit)]
    token = secrets.token_hex(8)
    for key in keys:
        if cache.add(key, token, StreamSlot.lifetime()):
            return StreamSlot(key=key, token=token)
    if cache.get(keys[0]) is None:
        return StreamSlot(key=None)
    return None


class _FileSpan:
    """``length`` bytes of ``handle`` from ``start``, in chunks; closing it closes the file and frees the slot.

    Django calls ``close()`` on streaming content when the response ends, even if the client
    went away before the first byte, so the file is never left open.
    """

    def __init__(self, handle: IO[bytes], start: int, length: int, slot: StreamSlot) -> None:
        self.handle, self.start, self.length, self.slot = handle, start, length, slot

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.start)
        remaining = self.length
        while remaining > 0:
            chunk = self.handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            self.slot.keep()
            yield chunk

    def close(self) -> None:
        try:
            self.handle.close()
        finally:
            self.slot.release()


def _limit_send_time(request: HttpRequest) -> None:
    """End the stream when the listener reads nothing for MUSREC_STREAM_SEND_TIMEOUT seconds.

    gunicorn's threads write with blocking sockets and no timeout of their own (its --timeout watches the worker
    process, not a request), so a listener who stops reading would hold a thread for ever. gunicorn hands the
    connection's socket to the application (WSGI's ``gunicorn.socket``); each request on it starts blocking again.
    """
    sock = request.META.get("gunicorn.socket")
    if sock is not None and settings.MUSREC_STREAM_SEND_TIMEOUT:
        sock.settimeout(settings.MUSREC_STREAM_SEND_TIMEOUT)


def ranged_file_response(
    request: HttpRequest, handle: IO[bytes], size: int, content_type: str, *, slot: StreamSlot | None = None
) -> HttpResponse:
    """The file (or the range of it asked for), sent a chunk at a time; ``slot`` is given back when it ends."""
    slot = slot or StreamSlot(key=None)
    try:
        byte_range = parse_range(request.headers.get("Range", ""), size)
    except ValueError:
        handle.close()
        slot.release()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range if byte_range else (0, size - 1)
    length = max(end - start + 1, 0)
    # HEAD: the same headers, and no reading of a file whose bytes gunicorn would throw away.
    span = _FileSpan(handle, start, 0 if request.method == "HEAD" else length, slot)
    _limit_send_time(request)
    response = StreamingHttpResponse(span, content_type=content_type)
    if byte_range:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    return response


def audio_file_response(
    request: HttpRequest, audio: FieldFile, content_type: str, *, listener: int | str | None = None
) -> HttpResponse:
    """The stored audio file, ranged; 429 when the person already has MUSREC_STREAMS_PER_USER streams open.

    ``listener`` is who the streams are counted for: the request's user unless given (a stream link's signer).
    """
    slot = claim_stream_slot(request.user.pk if listener is None else listener)
    if slot is None:
        response = HttpResponse(TOO_MANY_STREAMS, status=429, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"  # a cached refusal would keep the song from playing later
        return response
    try:
        handle = audio.open("rb")
        size = audio.size
    except FileNotFoundError:
        slot.release()
        raise Http404("The audio file of this song is missing.") from None
    return ranged_file_response(request, handle, size, content_type, slot=slot)


def accel_redirect_response(prefix: str, name: str, content_type: str) -> HttpResponse:
    """An empty answer telling nginx to send the stored file ``name`` from its internal location ``prefix``.

    nginx then serves the ranges and waits on slow listeners itself; the web server's thread is free at once.
    """
    response = HttpResponse(content_type=content_type)
    response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{quote(name)}"
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
