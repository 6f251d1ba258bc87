"""What `./musrec test` checks before pytest, and what `./musrec run` prints while it runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from catalog.models import Song
from musrec_site import console, launcher, services
from tests.factories import make_song, write_audio

PYTHON = Path(sys.executable).name
PASSING = (PYTHON, "-c", "print('all good')")
FAILING = (PYTHON, "-c", "import sys; print('recommender.core.vectors -> django is forbidden'); sys.exit(1)")


def test_the_code_checks_pass_with_one_line_when_every_check_passes(capsys):
    assert launcher.run_code_checks({"lint": PASSING, "format": PASSING}) is True

    out, err = capsys.readouterr()
    assert out.startswith("Code checks passed (lint, format) in ")
    assert "all good" not in out + err


def test_a_failing_check_shows_its_output_and_says_the_tests_did_not_run(capsys):
    assert launcher.run_code_checks({"lint": PASSING, "import contracts": FAILING}) is False

    err = capsys.readouterr().err
    assert "django is forbidden" in err
    assert "The code checks failed (import contracts), so the tests did not run." in err


def test_a_missing_tool_is_a_failed_check(capsys):
    assert launcher.run_code_checks({"lint": ("no-such-linter", ".")}) is False

    assert "no-such-linter is not installed" in capsys.readouterr().err


def test_the_test_command_stops_before_pytest_when_a_check_fails(monkeypatch, capsys):
    def no_services(**_):
        raise AssertionError("the services were started")

    monkeypatch.setattr(launcher, "running_services", no_services)

    assert launcher.command_test(None, ["tests/test_search.py"], checks={"import contracts": FAILING}) == 1


def test_the_test_command_runs_ruff_and_the_import_contracts():
    assert [command[:2] for command in launcher.CODE_CHECKS.values()] == [
        ("ruff", "check"),
        ("ruff", "format"),
        ("lint-imports", "--no-logo"),
    ]
    for command in launcher.CODE_CHECKS.values():
        assert (launcher.BIN / command[0]).exists()


def test_the_analysis_line_counts_done_and_failed_songs():
    counts = console.AnalysisCounts(queued=3, analysing=1, done=120, failed=2)

    assert counts.describe() == "Analysis: 120/126 songs done, 2 failed"
    assert counts.busy
    assert not console.AnalysisCounts(done=5).busy
    assert console.AnalysisCounts(done=5).describe() == "Analysis: 5/5 songs done"


def test_the_analysis_counts_come_from_the_database(transactional_db):
    make_song(analysis_status=Song.Analysis.DONE)
    make_song(analysis_status=Song.Analysis.DONE)
    make_song(analysis_status=Song.Analysis.QUEUED)
    make_song(analysis_status=Song.Analysis.FAILED)
    url = urlsplit(os.environ["DATABASE_URL"])

    counts = console.analysis_counts(urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])))

    assert counts == console.AnalysisCounts(queued=1, done=2, failed=1)


def test_the_analysis_counts_are_none_while_the_database_cannot_say():
    url = urlsplit(os.environ["DATABASE_URL"])

    assert console.analysis_counts(urlunsplit(url._replace(path="/no_such_database"))) is None


def write_log(path: Path, text: str) -> int:
    """An earlier run's output, then ``text``; returns where ``text`` begins."""
    earlier = "Demo catalogue: 3 songs imported in 1 s (3 in the catalogue).\n"
    path.write_text(earlier + text)
    return len(earlier.encode())


def test_the_demo_progress_is_its_latest_step_with_its_latest_detail(tmp_path):
    log = tmp_path / "demo.log"
    offset = write_log(
        log,
        "Building the demo catalogue from Debian's game-music packages (first run only)…\n"
        "Downloading 11 Debian packages…\n"
        "  wesnoth-1.16-music (153 MB)\n"
        "  ufoai-music (210 MB)\n",
    )

    assert console.demo_progress(log, offset) == "Downloading 11 Debian packages… ufoai-music (210 MB)"

    with log.open("a") as handle:
        handle.write("Unpacking ufoai-music…\n")
    assert console.demo_progress(log, offset) == "Unpacking ufoai-music…"
    assert console.demo_progress(tmp_path / "missing.log", 0) is None
    assert console.demo_progress(log, log.stat().st_size) is None


def test_a_finished_demo_build_leaves_its_summary_on_the_console(tmp_path):
    log = tmp_path / "demo.log"
    offset = write_log(
        log,
        "Found 240 music files in 11 packages.\n"
        "240/240 files imported\n"
        "Imported 230, skipped 10, broken 0 (of 240 files).\n"
        "Skipped:\n"
        "  /var/demo/jingle.ogg: too short\n"
        "Queued 230 songs for analysis.\n"
        "Demo catalogue: 230 songs imported in 95 s (230 in the catalogue).\n",
    )

    lines = console.demo_outcome(log, offset, 0)

    assert lines[:3] == [
        "Imported 230, skipped 10, broken 0 (of 240 files).",
        "Queued 230 songs for analysis.",
        "Demo catalogue: 230 songs imported in 95 s (230 in the catalogue).",
    ]
    assert lines[3].startswith("  (the files skipped and why: ")
    assert console.demo_outcome(log, log.stat().st_size, 0) == []  # the catalogue had songs: nothing was done


def test_a_failed_demo_build_says_why(tmp_path):
    log = tmp_path / "demo.log"
    offset = write_log(log, "Downloading 11 Debian packages…\nCommandError: `apt-get download` failed: no network.\n")

    lines = console.demo_outcome(log, offset, 1)

    assert lines[0] == "The demo catalogue could not be built: `apt-get download` failed: no network."
    assert "demo.log" in lines[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_status_is_one_line_redrawn_in_place():
    screen = Terminal()
    status = console.StatusLine(screen)

    status.show("Analysis: 1/3 songs done")
    status.show("Analysis: 1/3 songs done")
    status.show("Analysis: 2/3 songs done")
    status.say("Analysis: 3/3 songs done.")

    assert screen.getvalue() == (
        "\rAnalysis: 1/3 songs done\033[K\rAnalysis: 2/3 songs done\033[K\r\033[KAnalysis: 3/3 songs done.\n"
    )


def test_in_a_file_the_status_is_printed_now_and_then():
    output = io.StringIO()
    status = console.StatusLine(output, every=3600)

    status.show("Analysis: 1/3 songs done")
    status.show("Analysis: 2/3 songs done")
    status.say("Analysis: 3/3 songs done.")

    assert output.getvalue() == "Analysis: 1/3 songs done\nAnalysis: 3/3 songs done.\n"


@pytest.mark.django_db
def test_an_import_whose_output_is_not_a_terminal_logs_plain_progress_lines(tmp_path, monkeypatch):
    for seed in range(3):
        write_audio(tmp_path / f"song{seed}.wav", seed=seed, title=f"Song {seed}", artist="Band")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)

    call_command("import_music", str(tmp_path), stdout=io.StringIO())

    assert err.getvalue() == "1/3 files imported\n2/3 files imported\n3/3 files imported\n"


@pytest.mark.slow
def test_stale_test_databases_of_xdist_workers_are_dropped_too():
    finished = subprocess.Popen(["true"])
    finished.wait()
    name = f"test_musrec_{finished.pid}_gw1"
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            services.drop_stale_test_databases(url)

            assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        finally:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
