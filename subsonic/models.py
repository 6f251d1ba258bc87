"""Each person's API secret: what a Subsonic player signs in with instead of the account password.

Why the secret is stored as it is: Subsonic's token scheme sends ``t = md5(secret + salt)`` with a fresh salt each
time, so the server must know the secret itself to check it; a hash of it would not do, and encrypting it would
need a key kept beside it, which protects nothing. So the secret is a random string made for this one purpose,
never the account password: whoever reads the database learns a key to the person's music through the API, not a
password they may use elsewhere, and the person revokes it on the Apps page. It is shown once, when made.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models

# 24 random bytes, 32 URL-safe characters: typed on a phone once, pasted more often.
SECRET_BYTES = 24


class ApiSecretQuerySet(models.QuerySet["ApiSecret"]):
    def issue(self, user: AbstractBaseUser) -> ApiSecret:
        """A new secret for ``user``, replacing any earlier one (players using the old one stop working)."""
        secret, _ = self.update_or_create(user=user, defaults={"secret": secrets.token_urlsafe(SECRET_BYTES)})
        return secret

    def revoke(self, user: AbstractBaseUser) -> bool:
        """Delete ``user``'s secret; whether there was one."""
        deleted, _ = self.filter(user=user).delete()
        return bool(deleted)

    def active(self) -> ApiSecretQuerySet:
        return self.filter(user__is_active=True)


class ApiSecret(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_secret")
    # Unique, so that an API key (the apiKeyAuthentication extension sends the secret alone) names one person.
    secret = models.CharField(max_length=64, unique=True)
    # When the secret in use was made (a new one replaces it in place).
    issued_at = models.DateTimeField(auto_now=True)

    objects = ApiSecretQuerySet.as_manager()

    def __str__(self) -> str:
        return f"API secret of {self.user}"
