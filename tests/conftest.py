from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is slow (Chromium, a live server), so `-m "not slow"` leaves them all out."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def test_settings(settings):
    """Plain static storage (the manifest exists only after collectstatic) and a fast password hash."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """No rate-limit counts left over from an earlier test: the cache's keys are deleted before each test.

    Only the cache's (they all start with its KEY_PREFIX): the analysis queue lives in the same Redis database,
    which a flush would empty too.
    """
    from django.core.cache import cache

    redis = cache._cache.get_client(write=True)
    if keys := list(redis.scan_iter(match=f"{cache.key_prefix}:*", count=1000)):
        redis.delete(*keys)


@pytest.fixture
def one_rate_window(monkeypatch):
    """django-ratelimit counts in fixed windows (of a minute, an hour) that each end at a moment of their own: the
    whole test gets one window, so that a window ending halfway cannot start a count the test is filling again."""
    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "_get_window", lambda value, period: 0)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Every test stores audio in its own folder, never in the site's var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    return settings.MEDIA_ROOT


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def emptied_queue(name: str):
    """The RQ queue ``name``, empty at the start; whatever the test left in it is deleted afterwards."""
    import django_rq

    queue = django_rq.get_queue(name)
    queue.empty()
    yield queue
    queue.empty()
    for registry in (queue.finished_job_registry, queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)


@pytest.fixture
def analysis_queue():
    """The analysis queue, emptied before and after the test."""
    yield from emptied_queue("analysis")


@pytest.fixture
def default_queue():
    """The default queue (genre-model jobs), emptied before and after the test."""
    yield from emptied_queue("default")


def run_analysis_worker() -> bool:
    """Run the real analysis worker in burst mode until the queue is empty.

    It works in this process (as in production, where it keeps the model loaded), so it shares
    the test's database; tests that use it need ``transactional_db`` for the jobs to see rows.
    """
    import django_rq

    from recommender.worker import AnalysisWorker

    return django_rq.get_worker("analysis", worker_class=AnalysisWorker).work(burst=True)
