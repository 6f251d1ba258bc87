"""Small importable jobs for the tests that run a real RQ worker."""

from __future__ import annotations


def add(a: int, b: int) -> int:
    return a + b


def count_songs() -> int:
    from catalog.models import Song

    return Song.objects.count()


def fail_on_purpose() -> None:
    raise RuntimeError("this job fails on purpose")
