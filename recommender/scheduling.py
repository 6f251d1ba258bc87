"""Queueing a background job at most once at a time: what the worker's maintenance does for the jobs it schedules
(the catalogue map's refresh, the collaborative model's training)."""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The analysis workers run these jobs, between songs.
QUEUE = "analysis"


def enqueue_once(job: str, *, queued_key: str, hold: timedelta, what: str) -> bool:
    """Queue the RQ job ``job`` (a dotted path) unless ``queued_key`` says one was queued within ``hold``; whether it
    was queued. The key is taken first, so that two web processes or workers never both queue it; it is given back
    when Redis cannot be reached, so the next try is not held off."""
    if not cache.add(queued_key, True, timeout=hold.total_seconds()):
        return False
    try:
        django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(job, job_timeout=1800, result_ttl=600, failure_ttl=86400)
    except RedisError as error:
        cache.delete(queued_key)
        logger.warning("Redis is unreachable (%s); %s was not queued", error, what)
        return False
    return True
