from __future__ import annotations

import os
import runpy
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from redis.connection import UnixDomainSocketConnection

from musrec_site.settings import env_bool, env_int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        ("YES", True),
        ("on", True),
        (" yes ", True),
        ("0", False),
        ("false", False),
        ("FALSE", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_env_bool_understands_yes_and_no_words_in_any_case(monkeypatch, value, expected):
    monkeypatch.setenv("MUSREC_SOMETHING", value)

    assert env_bool("MUSREC_SOMETHING") is expected
    assert env_bool("MUSREC_SOMETHING", default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_gives_the_default_when_unset_or_empty(monkeypatch, default):
    monkeypatch.delenv("MUSREC_SOMETHING", raising=False)
    assert env_bool("MUSREC_SOMETHING", default) is default

    monkeypatch.setenv("MUSREC_SOMETHING", " ")
    assert env_bool("MUSREC_SOMETHING", default) is default


@pytest.mark.parametrize("value", ["ture", "enabled", "2", "y", "-1", "nope"])
def test_env_bool_refuses_a_value_it_does_not_understand(monkeypatch, value):
    monkeypatch.setenv("MUSREC_SOMETHING", value)

    with pytest.raises(ImproperlyConfigured, match=r"MUSREC_SOMETHING=.*use 1/0, true/false, yes/no or on/off"):
        env_bool("MUSREC_SOMETHING")


def test_env_int_reads_a_number_and_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("MUSREC_SOMETHING", " 42 ")
    assert env_int("MUSREC_SOMETHING", 7) == 42

    monkeypatch.setenv("MUSREC_SOMETHING", "")
    assert env_int("MUSREC_SOMETHING", 7) == 7

    monkeypatch.setenv("MUSREC_SOMETHING", "forty")
    with pytest.raises(ImproperlyConfigured, match="MUSREC_SOMETHING='forty': a whole number is expected"):
        env_int("MUSREC_SOMETHING", 7)


def test_a_typo_in_a_yes_no_setting_stops_the_site_with_the_reason():
    env = {**os.environ, "MUSREC_PRODUCTION": "ture"}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "MUSREC_PRODUCTION='ture': use 1/0, true/false, yes/no or on/off." in result.stderr


def settings_with(monkeypatch, **environ: str) -> dict[str, object]:
    """The settings module run afresh with ``environ`` added (the running site's settings stay as they are)."""
    monkeypatch.delenv("MUSREC_TEST_DATABASE", raising=False)  # no per-worker Redis database: REDIS_URL as given
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(settings.BASE_DIR / "musrec_site" / "settings.py"))


LIMITS = {
    "MUSREC_LOGIN_FAILURE_LIMIT": 5,
    "MUSREC_LOGIN_LOCKOUT_MINUTES": 15,
    "MUSREC_SIGNUPS_PER_HOUR": 10,
    "MUSREC_UPLOAD_QUOTA_MB": 1000,
    "MUSREC_UPLOADS_PER_HOUR": 30,
    "MUSREC_MAX_QUEUED_PER_USER": 20,
    "MUSREC_PLAYS_PER_MINUTE": 60,
    "MUSREC_MIN_ANALYSIS_SECONDS": 3,
    "MUSREC_STREAM_LINK_DAYS": 7,
}


def test_each_limit_has_a_default_and_follows_its_variable(monkeypatch):
    for name in LIMITS:
        monkeypatch.delenv(name, raising=False)
    defaults = settings_with(monkeypatch)
    changed = settings_with(monkeypatch, **{name: str(value + 1) for name, value in LIMITS.items()})

    assert {name: defaults[name] for name in LIMITS} == LIMITS
    assert {name: changed[name] for name in LIMITS} == {name: value + 1 for name, value in LIMITS.items()}
    assert (changed["AXES_FAILURE_LIMIT"], changed["AXES_COOLOFF_TIME"]) == (6, timedelta(minutes=16))


def test_a_login_failure_limit_of_0_turns_the_lockout_off(monkeypatch):
    assert settings_with(monkeypatch)["AXES_ENABLED"] is True
    assert settings_with(monkeypatch, MUSREC_LOGIN_FAILURE_LIMIT="0")["AXES_ENABLED"] is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MUSREC_LOGIN_LOCKOUT_MINUTES", "0"),
        ("MUSREC_UPLOAD_QUOTA_MB", "-1"),
        ("MUSREC_MIN_ANALYSIS_SECONDS", "0"),
        ("MUSREC_STREAM_LINK_DAYS", "0"),
    ],
)
def test_a_limit_below_its_minimum_stops_the_site_with_the_reason(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=f"{name}='{value}': .* or more is expected"):
        settings_with(monkeypatch, **{name: value})


def test_the_cache_is_the_redis_of_redis_url_under_a_prefix_of_its_own(monkeypatch):
    cache = settings_with(monkeypatch, REDIS_URL="redis://redis.example.com:6380/3")["CACHES"]["default"]

    assert cache["BACKEND"] == "musrec_site.cache.ForgivingRedisCache"
    assert cache["LOCATION"] == ["redis://redis.example.com:6380/3"]
    assert cache["KEY_PREFIX"] and not cache["KEY_PREFIX"].startswith("rq")


def test_the_cache_reaches_redis_on_a_unix_socket_with_a_password(monkeypatch):
    url = "unix:///run/musrec/redis.sock?db=4&password=s3cret,with;commas"
    cache_settings = settings_with(monkeypatch, REDIS_URL=url)["CACHES"]["default"]

    cache = RedisCache(cache_settings["LOCATION"], {"KEY_PREFIX": cache_settings["KEY_PREFIX"]})
    pool = cache._cache._get_connection_pool(write=True)

    assert pool.connection_class is UnixDomainSocketConnection
    assert pool.connection_kwargs["path"] == "/run/musrec/redis.sock"
    assert pool.connection_kwargs["db"] == 4
    assert pool.connection_kwargs["password"] == "s3cret,with;commas"


def test_a_cache_whose_redis_is_down_reads_as_empty_for_sessions_too(tmp_path):
    """Sessions are read from the cache first (cached_db): with Redis down, they come from the database instead."""
    from musrec_site.cache import ForgivingRedisCache

    down = ForgivingRedisCache([f"unix://{tmp_path}/no-redis.sock"], {"KEY_PREFIX": "test"})

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert down.get("session") is None
    assert "session" not in down  # has_key, which the session store asks before choosing a new session key
    assert down.add("session", 1) is False
    down.set("session", 1)
    down.delete("session")
