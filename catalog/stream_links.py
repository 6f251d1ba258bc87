"""Song links that play without a session, for players that keep no cookies (VLC, mpv, a phone's music app).

Two kinds, both served by the same stream views (Range requests, a person's stream limit, privacy):

- an exported playlist's links: ``/songs/<id>/audio?key=...``, the key signed (``TimestampSigner``) for the song and
  the person who exported it, valid for ``MUSREC_STREAM_LINK_DAYS`` days and until that person's password changes (the
  key carries a digest of the account's password hash, as a session does: changing a leaked password ends every link
  exported before). The song must still be one that person may hear when it is played: a link is never worth more
  than its signer's own access.
- a shared playlist's links: ``/shared/<token>/songs/<id>/audio``, valid while the share is (making the playlist
  private or giving it a new link ends them), for the catalogue songs of that playlist only.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.http import HttpRequest
from django.urls import reverse

SALT = "catalog.stream-link"


class StreamLinkRefused(PermissionDenied):
    """A stream link that does not play: the message says why, in words for the person who opened it."""


def _signer() -> TimestampSigner:
    return TimestampSigner(salt=SALT)


def signed_stream_url(request: HttpRequest, song_id: int, user: AbstractBaseUser) -> str:
    """The absolute address of ``song_id``'s audio that plays without a session, for ``user``'s export."""
    key = _signer().sign_object({"song": song_id, "user": user.pk, "v": _account_version(user)})
    return request.build_absolute_uri(reverse("catalog:song_audio", args=[song_id])) + "?" + urlencode({"key": key})


def _account_version(user: AbstractBaseUser) -> str:
    """A digest of the account's password hash (Django's session hash): it changes when the password does."""
    return user.get_session_auth_hash()[:16]


def shared_stream_url(request: HttpRequest, share_token: object, song_id: int) -> str:
    """The absolute address of ``song_id``'s audio through a shared playlist's link."""
    return request.build_absolute_uri(reverse("catalog:shared_song_audio", args=[share_token, song_id]))


def stream_link_holder(key: str, song_id: int) -> AbstractBaseUser:
    """The person whose export ``key`` came from, if it is a valid key for ``song_id``.

    Raises ``StreamLinkRefused`` (403) when the key was changed, is for another song, has expired, or its signer's
    account is gone or disabled. Whether the song may still be heard is the caller's to check, as for a session.
    """
    try:
        signed = _signer().unsign_object(key, max_age=timedelta(days=settings.MUSREC_STREAM_LINK_DAYS))
    except SignatureExpired:
        raise StreamLinkRefused("This link has expired: export the playlist again for new links.") from None
    except (BadSignature, ValueError):
        raise StreamLinkRefused("This link is not valid.") from None
    if not isinstance(signed, dict) or signed.get("song") != song_id or not isinstance(signed.get("user"), int):
        raise StreamLinkRefused("This link is not valid.")
    holder = get_user_model().objects.filter(pk=signed["user"], is_active=True).first()
    if holder is None:
        raise StreamLinkRefused("This link is not valid.")
    if not hmac.compare_digest(str(signed.get("v", "")), _account_version(holder)):
        raise StreamLinkRefused(
            "This link stopped working when the password of the account that exported it changed: "
            "export the playlist again for new links."
        )
    return holder
