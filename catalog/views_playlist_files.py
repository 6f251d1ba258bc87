"""Playlist files: export a playlist (own or shared) as M3U8 or XSPF, and import one from an M3U8 file."""

from __future__ import annotations

import io
import re
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from catalog.forms import ImportForm
from catalog.models import Playlist, PlaylistItem
from catalog.playlist_files import MAX_IMPORT_BYTES, Track, write_m3u8, write_xspf
from catalog.stream_links import shared_stream_url, signed_stream_url
from catalog.views_playlists import get_playlist_for_user, get_shared_playlist, render_playlist_list

EXPORT_TYPES = {"m3u8": "audio/x-mpegurl", "xspf": "application/xspf+xml"}


@require_GET
@login_required
def playlist_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    return _export(request, get_playlist_for_user(request, pk), fmt, shared=False)


@require_GET
def playlist_shared_export(request: HttpRequest, token: UUID, fmt: str) -> HttpResponse:
    return _export(request, get_shared_playlist(token), fmt, shared=True)


def _export(request: HttpRequest, playlist: Playlist, fmt: str, *, shared: bool) -> HttpResponse:
    """The playlist as an M3U8 or XSPF download, listing only the songs the downloader may see.

    Its links play without a session, in VLC or mpv (``catalog.stream_links``): a shared playlist's for as long as it
    is shared, the owner's own signed for them and valid for ``MUSREC_STREAM_LINK_DAYS`` days.
    """
    if fmt not in EXPORT_TYPES:
        raise Http404("Playlists export as .m3u8 or .xspf.")

    def location(item: PlaylistItem) -> str:
        if shared and item.song.in_catalogue:
            return shared_stream_url(request, playlist.share_token, item.song_id)
        # The owner's, or in a shared playlist the downloader's own upload, which the share does not open to others.
        return signed_stream_url(request, item.song_id, request.user)

    tracks = [
        Track(
            location=location(item),
            title=item.song.title,
            artist=item.song.artist.name,
            album=item.song.album.title if item.song.album else "",
            duration=item.song.duration,
        )
        for item in playlist.visible_items(request.user).prefetch_related(None)
    ]
    if fmt == "m3u8":
        data = write_m3u8(tracks, title=playlist.name).encode()
    else:
        share_url = request.build_absolute_uri(playlist.get_share_url()) if playlist.is_public else ""
        data = write_xspf(tracks, title=playlist.name, annotation=playlist.description, location=share_url)
    response = FileResponse(
        io.BytesIO(data),
        as_attachment=True,
        filename=f"{_download_name(playlist.name)}.{fmt}",
        content_type=f"{EXPORT_TYPES[fmt]}; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _download_name(name: str) -> str:
    """A file name any system accepts: letters, digits, spaces and a little punctuation; the rest becomes "_"."""
    stem = re.sub(r"[^\w ().,'&+-]+", "_", name).strip(" ._")[:100]
    return stem or "playlist"


@require_POST
@login_required
def playlist_import(request: HttpRequest) -> HttpResponse:
    """A new playlist from an M3U8 file, matched by title and artist; the page lists what did not match."""
    try:
        form = ImportForm(request.POST, request.FILES)
        valid = form.is_valid()
    except RequestDataTooBig:
        return _refuse_import(request, "The request is too large.")
    # The upload handler stopped reading at the site's upload limit; nothing of the file was kept.
    if getattr(request, "upload_too_large", False):
        return _refuse_import(request, f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
    if not valid:
        return render_playlist_list(request, import_form=form, status=400)
    parsed = form.parsed
    result = Playlist.objects.import_m3u(owner=request.user, name=form.playlist_name(), entries=parsed.entries)
    context = {"result": result, "bad_lines": parsed.bad_lines, "name": form.playlist_name()}
    return render(request, "catalog/playlist_import.html", context)


def _refuse_import(request: HttpRequest, reason: str) -> HttpResponse:
    messages.error(request, reason)
    return render_playlist_list(request, status=413)
