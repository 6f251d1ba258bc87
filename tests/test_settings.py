from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
