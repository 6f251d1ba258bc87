"""The site's cache: Django's Redis cache, except that a Redis that is down reads as an empty cache.

The cache holds rate-limit counters, copies of sessions (which are also in the database) and catalogue figures:
nothing a request cannot do without. With Redis down (restarting, say) an upload or a play must still be
accepted: django-ratelimit lets a request through when the count cannot be read (RATELIMIT_FAIL_OPEN), and the
song waits in the database until Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class ForgivingRedisCache(RedisCache):
    def _unavailable(self, error: RedisError, fallback: Any) -> Any:
        logger.warning("The cache (Redis) is unavailable: %s", error)
        return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as error:
            return self._unavailable(error, default)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except RedisError as error:
            return self._unavailable(error, False)

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as error:
            self._unavailable(error, None)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int | None:
        try:
            return super().incr(key, delta, version)
        except RedisError as error:
            return self._unavailable(error, None)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except RedisError as error:
            return self._unavailable(error, False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except RedisError as error:
            return self._unavailable(error, False)
