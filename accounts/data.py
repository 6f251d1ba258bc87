"""A person's own data: everything Musrec holds about them as one JSON document, and erasing it all.

The export is built from a fixed handful of ``values()`` queries however long the history is, so a
person with years of plays costs six queries, not one per play or per playlist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.urls import reverse
from django.utils import timezone

from catalog.models import Play, Playlist, PlaylistItem, Rating, Song
from recommender.photos import Photo

EXPORT_FORMAT = "musrec-account-export"
EXPORT_VERSION = 1


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _song(song_id: int, title: str, artist: str, visible: bool) -> dict[str, Any] | None:
    # A song the person can no longer see (someone's upload taken back out of the catalogue) is someone
    # else's private data now: the play or rating stays in the file, the song's name does not.
    return {"id": song_id, "title": title, "artist": artist} if visible else None


def _visible_song(user: User) -> ExpressionWrapper:
    """True where the row's song is one ``user`` may see, as Song.objects.visible_to decides."""
    return ExpressionWrapper(Q(song__in_catalogue=True) | Q(song__owner=user), output_field=BooleanField())


def export_filename(user: AbstractBaseUser) -> str:
    return f"musrec-{user.get_username()}-{timezone.localdate().isoformat()}.json"


def account_export(user: User, *, absolute_url: Callable[[str], str] = str) -> dict[str, Any]:
    """Everything Musrec keeps about ``user``: profile, history, likes, dislikes, playlists, uploads and photos.

    Plain JSON-serialisable data, times in ISO 8601 (UTC). ``absolute_url`` turns a site path into
    a full URL (the view passes ``request.build_absolute_uri``), so the file names where audio lives.
    """
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "profile": _profile(user),
        "history": _history(user),
        **_ratings(user),
        "playlists": _playlists(user),
        "uploads": _uploads(user, absolute_url),
        "photos": _photos(user, absolute_url),
    }


def _profile(user: User) -> dict[str, Any]:
    return {
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        "favourite_genres": list(user.favourite_genres.order_by("name").values_list("name", flat=True)),
    }


def _history(user: User) -> list[dict[str, Any]]:
    # Every play, also of songs the person can no longer see (Play.objects.for_user leaves those out): the
    # listening is still theirs. Oldest first, so the file reads as a diary.
    rows = (
        Play.objects.filter(user=user)
        .annotate(visible=_visible_song(user))
        .order_by("played_at", "pk")
        .values_list(
            "song_id",
            "song__title",
            "song__artist__name",
            "visible",
            "played_at",
            "seconds_listened",
            "completed",
            "skipped",
        )
    )
    return [
        {
            "song": _song(song_id, title, artist, visible),
            "played_at": _iso(played_at),
            "seconds_listened": seconds,
            "completed": completed,
            "skipped": skipped,
        }
        for song_id, title, artist, visible, played_at, seconds, completed, skipped in rows.iterator(chunk_size=2000)
    ]


def _ratings(user: User) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"likes": [], "dislikes": []}
    rows = (
        Rating.objects.filter(user=user)
        .annotate(visible=_visible_song(user))
        .order_by("rated_at", "pk")
        .values_list("value", "song_id", "song__title", "song__artist__name", "visible", "rated_at")
    )
    for value, song_id, title, artist, visible, rated_at in rows:
        section = "likes" if value == Rating.LIKE else "dislikes"
        found[section].append({"song": _song(song_id, title, artist, visible), "rated_at": _iso(rated_at)})
    return found


def _playlists(user: User) -> list[dict[str, Any]]:
    songs_by_playlist: dict[int, list[dict[str, Any]]] = {}
    items = (
        PlaylistItem.objects.filter(playlist__owner=user)
        .annotate(visible=_visible_song(user))
        .order_by("playlist_id", "position", "pk")
        .values_list(
            "playlist_id", "position", "song_id", "song__title", "song__artist__name", "song__album__title", "visible"
        )
    )
    for playlist_id, position, song_id, title, artist, album, visible in items:
        song = _song(song_id, title, artist, visible) or dict.fromkeys(("id", "title", "artist"))
        songs_by_playlist.setdefault(playlist_id, []).append(
            {"position": position, **song, "album": album if visible else None}
        )
    return [
        {
            "name": playlist.name,
            "description": playlist.description,
            "is_public": playlist.is_public,
            # A private playlist's link leads nowhere, so it has none.
            "share_link": playlist.get_share_url() if playlist.is_public else None,
            "created_at": _iso(playlist.created_at),
            "updated_at": _iso(playlist.updated_at),
            "songs": songs_by_playlist.get(playlist.pk, []),
        }
        for playlist in Playlist.objects.owned_by(user).order_by("created_at", "pk")
    ]


def _uploads(user: User, absolute_url: Callable[[str], str]) -> list[dict[str, Any]]:
    rows = (
        Song.objects.uploads_of(user)
        .order_by("added_at", "pk")
        .values_list(
            "pk",
            "title",
            "artist__name",
            "album__title",
            "original_filename",
            "duration",
            "analysis_status",
            "in_catalogue",
            "added_at",
        )
    )
    return [
        {
            "id": pk,
            "title": title,
            "artist": artist,
            "album": album,
            "original_filename": original_filename,
            "duration_seconds": duration,
            "analysis_status": status,
            "in_catalogue": in_catalogue,
            "added_at": _iso(added_at),
            "audio_url": absolute_url(reverse("catalog:song_audio", args=[pk])),
        }
        for pk, title, artist, album, original_filename, duration, status, in_catalogue, added_at in rows
    ]


def _photos(user: User, absolute_url: Callable[[str], str]) -> list[dict[str, Any]]:
    # What is kept of a photo is its reading and a small copy (recommender/photos.py); the copy is a link.
    return [
        {
            "created_at": _iso(photo.created_at),
            "reading": photo.mood.reading(),
            "valence": photo.valence,
            "arousal": photo.arousal,
            "statistics": photo.statistics,
            "thumbnail_url": absolute_url(reverse("recommender:photo_thumbnail", args=[photo.pk])),
        }
        for photo in Photo.objects.owned_by(user).defer("thumbnail").order_by("created_at", "pk")
    ]


def account_summary(user: User) -> dict[str, int]:
    """How much there is of each kind, for the page that offers the download and the deletion."""
    return {
        "plays": Play.objects.filter(user=user).count(),
        "likes": Rating.objects.filter(user=user, value=Rating.LIKE).count(),
        "dislikes": Rating.objects.filter(user=user, value=Rating.DISLIKE).count(),
        "playlists": Playlist.objects.owned_by(user).count(),
        "uploads": Song.objects.uploads_of(user).count(),
        "shared_uploads": Song.objects.uploads_of(user).filter(in_catalogue=True).count(),
        "photos": Photo.objects.owned_by(user).count(),
    }


LAST_SUPERUSER_REFUSAL = (
    "You are the only active administrator of this Musrec. Make another account a superuser first "
    "(in the admin, or with “./musrec manage createsuperuser”), then delete this one."
)


def _is_last_active_superuser(user: User) -> bool:
    if not user.is_superuser:
        return False
    return not get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists()


def deletion_refusal(user: User) -> str | None:
    """Why ``user`` may not delete their account, or None when they may.

    The last active superuser may not: the site would be left with nobody who can reach the admin
    or the worker queues, and the only way back would be a shell on the server.
    """
    return LAST_SUPERUSER_REFUSAL if _is_last_active_superuser(user) else None


def delete_account(user: User) -> str | None:
    """Delete ``user`` and everything that is theirs; returns a refusal instead when they may not.

    The database cascades to plays, ratings, playlists (with their items), favourite-genre links, photos
    (their reading and thumbnail are in the row: no file is left) and uploads; deleting an upload's row removes
    its audio file and spectrogram after the commit (``delete_song_file``), unless a catalogue twin still uses
    them. Uploads shared into the catalogue are uploads all the same: they leave the catalogue, and other
    people's playlists.
    """
    with transaction.atomic():
        # Locks the superusers, so two administrators deleting themselves at once cannot both be "not the last".
        if user.is_superuser:
            list(get_user_model().objects.select_for_update().filter(is_superuser=True, is_active=True))
        refusal = deletion_refusal(user)
        if refusal is None:
            user.delete()
    return refusal
