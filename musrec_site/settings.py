"""Musrec settings: one module, driven by environment variables.

Development and tests get their PostgreSQL and Redis from ``musrec_site.services``
(embedded servers under ``var/``), which exports ``DATABASE_URL`` and ``REDIS_URL``
before Django starts. Production points the same variables at external servers.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; anything else is refused, naming them."""
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: choose one of {', '.join(choices)}.")
    return value


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool = False) -> bool:
    """1/0, true/false, yes/no or on/off (any case); unset or empty is ``default``.

    Anything else is refused, so a typo ("ture", "enabled") never silently turns a feature off.
    """
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: a whole number is expected.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: {minimum} or more is expected.")
    return number


def env_float(name: str, default: float) -> float:
    """A finite decimal number (negative allowed); anything else is refused."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: a number is expected.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r}: a finite number is expected.")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
VAR_DIR = Path(env_str("MUSREC_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("MUSREC_PRODUCTION", False):
        raise ImproperlyConfigured("Set SECRET_KEY in production.")
    # Development only: a key kept under var/ so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        SECRET_KEY = key_file.read_text().strip()
    else:
        from django.core.management.utils import get_random_secret_key

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        SECRET_KEY = get_random_secret_key()
        try:
            # Created readable by its owner only from the first byte (O_EXCL: a second process reads the first's).
            with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(SECRET_KEY)
        except FileExistsError:
            SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_rq",
    "axes",
    "django_ratelimit",
    "catalog",
    "recommender",
    "accounts",
    "subsonic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lock-out noticed during authentication into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "musrec_site.urls"
WSGI_APPLICATION = "musrec_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Start Musrec with `./musrec run` (or `./musrec manage ...`), "
        "which starts the embedded PostgreSQL, or point DATABASE_URL at your own server."
    )
# Health checks: a connection kept across requests is tested before use, so a PostgreSQL restart costs a
# reconnect instead of one error per web thread.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60), conn_health_checks=True)
}
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
if test_database := env_str("MUSREC_TEST_DATABASE"):
    # Set by `./musrec test`: one test database per run, so runs side by side do not collide
    # (pytest-django adds pytest-xdist's worker name to it: test_musrec_1234_gw0).
    DATABASES["default"]["TEST"] = {"NAME": test_database}
    if xdist_worker := env_str("PYTEST_XDIST_WORKER"):
        # Likewise one Redis database per xdist worker ("gw0" uses 1, "gw1" 2... Redis has 16, so -n 15 at most),
        # so that one worker emptying the analysis queue or running it never touches another's jobs. Worker
        # processes a test starts inherit the variable and land on the same one.
        redis_db = 1 + int(xdist_worker.removeprefix("gw"))
        parts = urlsplit(REDIS_URL)
        if parts.scheme == "unix":
            # A socket's URL (the embedded Redis's) has the socket as its path and the database in its query.
            query = [item for item in parts.query.split("&") if item and not item.startswith("db=")]
            REDIS_URL = f"unix://{parts.netloc}{parts.path}?{'&'.join([f'db={redis_db}', *query])}"
        else:
            REDIS_URL = parts._replace(path=f"/{redis_db}").geturl()
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    # Analysis jobs (CNN embeddings) get their own queue so GPU workers can listen to it alone.
    "analysis": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 1800},
}
RQ_SHOW_ADMIN_LINK = True
# The rate limits' counters (django-ratelimit) need a cache every web process shares: the same Redis, under a
# prefix of its own so the cache's keys never mix with RQ's ("rq:..."). A list, not a string: Django splits a
# string at commas and semicolons, which a password in the URL may hold. redis-py's from_url reads the
# redis://, rediss:// and unix:///path.sock?db=N&password=... forms alike.
CACHES = {
    "default": {
        # Django's Redis cache, but Redis down reads as empty: a limit is then not enforced, and no request fails.
        "BACKEND": "musrec_site.cache.ForgivingRedisCache",
        "LOCATION": [REDIS_URL],
        "KEY_PREFIX": "musrec-cache",
    }
}
RATELIMIT_FAIL_OPEN = True
# Sessions are read from that cache and written to both it and the database: one query fewer on every request
# (docs/benchmarks.md, "Load"); with Redis down they are read from the database alone.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recommender:home"
LOGOUT_REDIRECT_URL = "recommender:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploads are private: files readable by the site's user only, and every file written whole or not at all.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "catalog.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Catalogue rules, adjustable per deployment.
MUSREC_PAGE_SIZE = env_int("MUSREC_PAGE_SIZE", 25)
MUSREC_MIN_IMPORT_SECONDS = env_int("MUSREC_MIN_IMPORT_SECONDS", 0)

# Analysis and recommendations.
# The embedder (recommender/core/embedders.py): musicnn_pair, both networks standardised side by side (the default,
# docs/quality.md), or one network alone, msd_musicnn (the embedding before issue 10) or mtt_musicnn. Changing it
# re-analyses every song in the background; recommendations use the songs analysed so far meanwhile.
MUSREC_MODEL = env_choice("MUSREC_MODEL", "musicnn_pair", ("musicnn_pair", "msd_musicnn", "mtt_musicnn"))
# The model registry: each trained genre model's folder (model, labels, model card, charts), issue 10.
MUSREC_MODEL_DIR = Path(env_str("MUSREC_MODEL_DIR", str(VAR_DIR / "models")))
# Songs analysed in one forward pass of the network; 0 means 16 when TensorFlow sees a GPU, else 1.
MUSREC_BATCH_SONGS = env_int("MUSREC_BATCH_SONGS", 0)
# Longer recordings (DJ sets, endless streams) are refused rather than analysed for minutes.
MUSREC_MAX_ANALYSIS_SECONDS = env_int("MUSREC_MAX_ANALYSIS_SECONDS", 3 * 3600)
# Shorter recordings are refused: the network listens to windows of 3 s (recommender/core/mel.py, PATCH_SECONDS),
# and a shorter file is padded with silence, so its tags and neighbours describe mostly silence (a 0.2 s click
# came out "Electronic" with ten confident recommendations). One window, in whole seconds, is the least that is
# (all but 8 ms of) sound.
MUSREC_MIN_ANALYSIS_SECONDS = env_int("MUSREC_MIN_ANALYSIS_SECONDS", 3, minimum=1)
MUSREC_UPLOAD_MAX_MB = env_int("MUSREC_UPLOAD_MAX_MB", 50)
MUSREC_UPLOAD_MAX_MINUTES = env_int("MUSREC_UPLOAD_MAX_MINUTES", 20)
MUSREC_PLAYLIST_DEFAULT = 10
MUSREC_PLAYLIST_MIN = 5
MUSREC_PLAYLIST_MAX = 50
MUSREC_MAX_PER_ARTIST = env_int("MUSREC_MAX_PER_ARTIST", 2)
# The collaborative model (issue 14, recommender/collaborative.py): what each kind of event says about a person and a
# song (positive: they like it; negative: they do not), summed per pair after recency, then turned into ALS confidence.
MUSREC_CF_COMPLETED = env_float("MUSREC_CF_COMPLETED", 1.0)
MUSREC_CF_PARTIAL = env_float("MUSREC_CF_PARTIAL", 0.3)
MUSREC_CF_SKIPPED = env_float("MUSREC_CF_SKIPPED", -0.5)
MUSREC_CF_LIKE = env_float("MUSREC_CF_LIKE", 3.0)
MUSREC_CF_DISLIKE = env_float("MUSREC_CF_DISLIKE", -3.0)
MUSREC_CF_PLAYLIST = env_float("MUSREC_CF_PLAYLIST", 2.0)
MUSREC_CF_HALF_LIFE_DAYS = env_float("MUSREC_CF_HALF_LIFE_DAYS", 90.0)
MUSREC_CF_FACTORS = env_int("MUSREC_CF_FACTORS", 48, minimum=2)
# Bounds on one training: the newest events of each kind, and the most songs and people kept (the busiest).
MUSREC_CF_MAX_EVENTS = env_int("MUSREC_CF_MAX_EVENTS", 500_000, minimum=1)
MUSREC_CF_MAX_SONGS = env_int("MUSREC_CF_MAX_SONGS", 100_000, minimum=1)
MUSREC_CF_MAX_USERS = env_int("MUSREC_CF_MAX_USERS", 50_000, minimum=1)
# Trained again after this many new events, or after this many hours when anything at all is new.
MUSREC_CF_RETRAIN_EVENTS = env_int("MUSREC_CF_RETRAIN_EVENTS", 500, minimum=1)
MUSREC_CF_RETRAIN_HOURS = env_int("MUSREC_CF_RETRAIN_HOURS", 24, minimum=1)
# "Listeners also played" on a song page: only for a song with this many listeners in the model, listing songs that
# this many people other than the reader play together with it (so no list points at one person's listening).
MUSREC_CF_MIN_LISTENERS = env_int("MUSREC_CF_MIN_LISTENERS", 5, minimum=2)
# The blend (recommender/core/hybrid.py): the collaborative side's largest share of a song's rank (0 switches it off),
# reached when the song has MUSREC_CF_SONG_EVIDENCE listeners and the person MUSREC_CF_PERSON_EVIDENCE songs in the
# model (for a list made from songs: its seeds' listeners); below that the share shrinks to nothing. Defaults from the
# simulated listeners of bench/hybrid.py (docs/quality.md, "Hybrid"). A song with fewer than MUSREC_CF_MIN_LISTENERS
# listeners gets no collaborative share at all, and neither does a list made from such songs.
MUSREC_CF_BLEND_MAX = env_float("MUSREC_CF_BLEND_MAX", 0.8)
MUSREC_CF_SONG_EVIDENCE = env_float("MUSREC_CF_SONG_EVIDENCE", 10.0)
MUSREC_CF_PERSON_EVIDENCE = env_float("MUSREC_CF_PERSON_EVIDENCE", 5.0)
if not 0 <= MUSREC_CF_BLEND_MAX <= 1:
    raise ImproperlyConfigured(f"MUSREC_CF_BLEND_MAX={MUSREC_CF_BLEND_MAX}: a share from 0 to 1 is expected.")
if MUSREC_CF_SONG_EVIDENCE <= 0 or MUSREC_CF_PERSON_EVIDENCE <= 0:
    raise ImproperlyConfigured("MUSREC_CF_SONG_EVIDENCE and MUSREC_CF_PERSON_EVIDENCE must be positive.")
# The upload form reads the file to disk, never whole into memory; the cap is checked before reading.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "musrec_site.upload_handler.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Limits against abuse (README, "Security"); 0 turns a limit off.
# Log-ins, the site's and the admin's: after this many wrong passwords for one username from one address, that
# pair is locked out for MUSREC_LOGIN_LOCKOUT_MINUTES (django-axes; failures are kept in the database).
MUSREC_LOGIN_FAILURE_LIMIT = env_int("MUSREC_LOGIN_FAILURE_LIMIT", 5, minimum=0)
MUSREC_LOGIN_LOCKOUT_MINUTES = env_int("MUSREC_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_ENABLED = MUSREC_LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = MUSREC_LOGIN_FAILURE_LIMIT
# At least a minute: axes reads no cool-off as "locked until an administrator unlocks it".
AXES_COOLOFF_TIME = timedelta(minutes=MUSREC_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The page that says so, in the site's look, for the admin's log-in too (axes' own answer is a line of plain text).
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
# Only failures are needed to lock out; a log of every successful log-in would be personal data kept for nothing.
AXES_DISABLE_ACCESS_LOG = True
# Per address (REMOTE_ADDR), counting every sign-up form sent.
MUSREC_SIGNUPS_PER_HOUR = env_int("MUSREC_SIGNUPS_PER_HOUR", 10, minimum=0)
# Per person: the disk their uploads take (Song.file_size), upload forms sent an hour, and uploads waiting for
# analysis at once, so that one person cannot fill the disk or the analysis queue.
MUSREC_UPLOAD_QUOTA_MB = env_int("MUSREC_UPLOAD_QUOTA_MB", 1000, minimum=0)
MUSREC_UPLOADS_PER_HOUR = env_int("MUSREC_UPLOADS_PER_HOUR", 30, minimum=0)
MUSREC_MAX_QUEUED_PER_USER = env_int("MUSREC_MAX_QUEUED_PER_USER", 20, minimum=0)
# Per person: plays reported by the player (one a song, so a minute's worth is far above any real listening).
MUSREC_PLAYS_PER_MINUTE = env_int("MUSREC_PLAYS_PER_MINUTE", 60, minimum=0)
# Per person: audio streams at once (a player uses one or two; each holds a web server thread while it lasts).
MUSREC_STREAMS_PER_USER = env_int("MUSREC_STREAMS_PER_USER", 4, minimum=0)
# A stream whose listener reads nothing for this many seconds is ended, giving its thread back (nginx's send_timeout).
MUSREC_STREAM_SEND_TIMEOUT = env_int("MUSREC_STREAM_SEND_TIMEOUT", 60, minimum=0)
# An exported playlist's song links play without a session (VLC, mpv keep none) for this many days, for whoever
# holds the file: long enough to listen for a week, short enough that a file passed on stops working.
MUSREC_STREAM_LINK_DAYS = env_int("MUSREC_STREAM_LINK_DAYS", 7, minimum=1)
# Behind nginx, e.g. "/protected-media/": Django checks access and nginx sends the file from that internal location.
MUSREC_ACCEL_REDIRECT_PREFIX = env_str("MUSREC_ACCEL_REDIRECT_PREFIX")
# Counted in the "default" cache (above). Django's RedisCache increments atomically (INCR), but django-ratelimit
# lists only django-redis's backend by name.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# Production hardening, each part overridable by its own variable: MUSREC_PRODUCTION=1 turns on HTTPS-only
# cookies and a year of HSTS, and the redirect to HTTPS unless DEBUG is also set; `check --deploy` is then clean.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and env_bool("MUSREC_PRODUCTION"))
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", env_bool("MUSREC_PRODUCTION"))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", env_bool("MUSREC_PRODUCTION"))
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if env_bool("MUSREC_PRODUCTION") else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", env_bool("MUSREC_PRODUCTION"))
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", env_bool("MUSREC_PRODUCTION"))
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("USE_X_FORWARDED_PROTO") else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Everything goes to stderr: `./musrec run` sends each process's stderr to a file under var/log/, a service
# manager or container runtime collects it in production.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"timed": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "timed"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    # django-axes announces itself at INFO in every process, `./musrec manage` commands included.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}
