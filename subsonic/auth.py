"""Who is calling: the person's API secret, sent as a token, an API key or (legacy) in the clear.

- ``u`` with ``t`` and ``s``: ``t = md5(secret + s)``, the token scheme of Subsonic 1.13;
- ``apiKey``: the secret alone (OpenSubsonic's ``apiKeyAuthentication``), which names the person, so ``u`` is refused
  beside it (error 43);
- ``u`` with ``p``: the secret itself, or ``p=enc:`` and its UTF-8 bytes in hex, for old clients.

Only the API secret is ever compared, never the account password: a player stores what it signs in with, often in
plain text, and that must not be a password the person uses for the site or elsewhere (``subsonic.models``).
Failures are counted per username and address (per address for API keys), as many as a log-in gets before its
lock-out (``MUSREC_LOGIN_FAILURE_LIMIT`` per ``MUSREC_LOGIN_LOCKOUT_MINUTES``), in the shared cache through
django-ratelimit, like the site's other limits; once there, even the right secret is refused until the time is up.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from subsonic.api import ApiError, ErrorCode, Params
from subsonic.models import ApiSecret

CREDENTIAL_PARAMETERS = ("u", "p", "t", "s", "apiKey")
THROTTLE_GROUP = "subsonic-sign-in"
WRONG_CREDENTIALS = (
    "Wrong username or API secret. Musrec's API takes the API secret from the Apps page, not the account password."
)


def has_credentials(params: Params) -> bool:
    return any(name in params for name in CREDENTIAL_PARAMETERS)


def authenticate(request: HttpRequest, params: Params) -> AbstractBaseUser:
    """The person whose API secret the call carries; raises ``ApiError`` (10, 40, 43, 44) otherwise."""
    api_key, username = params.get("apiKey"), params.get("u")
    token, salt, password = params.get("t"), params.get("s"), params.get("p")
    if api_key is not None:
        if username is not None or token is not None or salt is not None or password is not None:
            raise ApiError(ErrorCode.CONFLICTING_AUTH, "Send either apiKey alone, or u with t and s (or p).")
        attempts = FailedAttempts(request, who="api-key")
        attempts.refuse_if_locked_out()
        found = ApiSecret.objects.active().filter(secret=api_key).select_related("user").first()
        if found is None:
            attempts.record()
            raise ApiError(ErrorCode.INVALID_API_KEY, "This API key is not valid (it may have been revoked).")
        return found.user
    if username is None:
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Required parameter 'u' is missing (or send apiKey).")
    if password is not None and (token is not None or salt is not None):
        raise ApiError(ErrorCode.CONFLICTING_AUTH, "Send either t and s, or p, not both.")
    if password is None and (token is None or salt is None):
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Required parameters 't' and 's' (or 'p') are missing.")
    attempts = FailedAttempts(request, who=f"user:{username}")
    attempts.refuse_if_locked_out()
    found = ApiSecret.objects.active().filter(user__username=username).select_related("user").first()
    secret = found.secret if found is not None else ""
    if password is not None:
        matches = secret_matches(secret, password)
    else:
        matches = token_matches(secret, token or "", salt or "")
    if found is None or not matches:
        attempts.record()
        raise ApiError(ErrorCode.WRONG_CREDENTIALS, WRONG_CREDENTIALS)
    return found.user


def token_matches(secret: str, token: str, salt: str) -> bool:
    expected = hashlib.md5(f"{secret}{salt}".encode(), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected, token.strip().lower())


def secret_matches(secret: str, password: str) -> bool:
    """``p``: the secret as it is, or ``enc:`` and the hex of its UTF-8 bytes."""
    if password.startswith("enc:"):
        try:
            password = bytes.fromhex(password.removeprefix("enc:")).decode()
        except ValueError:  # not hex, or not UTF-8 (UnicodeDecodeError is a ValueError)
            return False
    return hmac.compare_digest(secret.encode(), password.encode())


def _failures_rate(group: str, request: HttpRequest) -> str | None:
    limit = settings.MUSREC_LOGIN_FAILURE_LIMIT
    return f"{limit}/{settings.MUSREC_LOGIN_LOCKOUT_MINUTES * 60}s" if limit else None


class FailedAttempts:
    """Failed sign-ins of one name (a username, or "api-key") from one address, counted in the shared cache."""

    def __init__(self, request: HttpRequest, *, who: str) -> None:
        self.request = request
        self.key = f"{who}:address:{request.META.get('REMOTE_ADDR', '')}"

    def _usage(self, *, increment: bool) -> dict | None:
        return get_usage(
            self.request,
            group=THROTTLE_GROUP,
            key=lambda group, request: self.key,
            rate=_failures_rate,
            increment=increment,
        )

    def refuse_if_locked_out(self) -> None:
        usage = self._usage(increment=False)
        if usage is not None and usage["count"] >= usage["limit"]:
            minutes = settings.MUSREC_LOGIN_LOCKOUT_MINUTES
            raise ApiError(
                ErrorCode.WRONG_CREDENTIALS,
                f"Too many failed sign-ins from this address: wait up to {minutes} minutes and try again.",
            )

    def record(self) -> None:
        self._usage(increment=True)
