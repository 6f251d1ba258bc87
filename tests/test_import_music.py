from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Album, Artist, Genre, Song
from tests.factories import ANALYSABLE_SECONDS, write_audio

pytestmark = pytest.mark.django_db


def run_import(*paths: Path, **options: object) -> str:
    out = io.StringIO()
    call_command("import_music", *[str(p) for p in paths], "--no-progress", stdout=out, **options)
    return out.getvalue()


def test_it_imports_tagged_files_of_every_format(tmp_path, media_root):
    write_audio(
        tmp_path / "a.wav", seed=1, title="Wave Song", artist="Ada", album="Signals", genre="Ambient", track="2/9"
    )
    write_audio(tmp_path / "b.flac", seed=2, title="Flac Song", artist="Ada", album="Signals", genre="Rock; Punk")
    write_audio(tmp_path / "c.ogg", seed=3, title="Vorbis Song", artist="Bo", genre="Jazz")
    write_audio(tmp_path / "d.mp3", seed=4, title="Mpeg Song", artist="Cy", album="Third")

    summary = run_import(tmp_path)

    assert "Imported 4, skipped 0, broken 0" in summary
    wave = Song.objects.get(title="Wave Song")
    assert wave.artist.name == "Ada"
    assert wave.album.title == "Signals"
    assert wave.track_number == 2
    assert list(wave.genres.values_list("name", flat=True)) == ["Ambient"]
    assert wave.duration == pytest.approx(ANALYSABLE_SECONDS, abs=0.05)
    # Imported songs go straight to the analysis queue.
    assert wave.analysis_status == Song.Analysis.QUEUED
    assert "Queued 4 songs for analysis." in summary
    assert (media_root / wave.audio.name).read_bytes() == (tmp_path / "a.wav").read_bytes()
    assert set(Genre.objects.values_list("name", flat=True)) == {"Ambient", "Rock", "Punk", "Jazz"}
    assert Artist.objects.count() == 3
    assert Album.objects.get(title="Signals").songs.count() == 2


def test_it_takes_title_and_track_from_the_file_name_when_tags_are_missing(tmp_path):
    write_audio(tmp_path / "07 - heroes_rite.wav")

    run_import(tmp_path)

    song = Song.objects.get()
    assert (song.title, song.track_number, song.artist.name) == ("Heroes Rite", 7, "Unknown artist")


def test_running_it_twice_imports_nothing_twice(tmp_path):
    write_audio(tmp_path / "one.ogg", seed=1)
    write_audio(tmp_path / "two.ogg", seed=2)
    run_import(tmp_path)

    summary = run_import(tmp_path)

    assert "Imported 0, skipped 2, broken 0" in summary
    assert "already in the catalogue" in summary
    assert Song.objects.count() == 2


def test_a_copy_under_another_name_is_skipped_as_a_duplicate(tmp_path):
    original = write_audio(tmp_path / "song.wav", seed=5)
    (tmp_path / "copy of song.wav").write_bytes(original.read_bytes())

    summary = run_import(tmp_path)

    assert "Imported 1, skipped 1" in summary
    assert Song.objects.count() == 1


def test_files_shorter_than_the_minimum_are_skipped(tmp_path):
    write_audio(tmp_path / "short.wav", seconds=1.0)
    write_audio(tmp_path / "long.wav", seconds=3.0, seed=9)

    summary = run_import(tmp_path, min_seconds=2)

    assert "short.wav: shorter than 2 s (1.0 s)" in summary
    assert list(Song.objects.values_list("original_filename", flat=True)) == ["long.wav"]


BAD_FILES = {
    "empty.mp3": (b"", "empty file (0 bytes)"),
    "notes.ogg": (b"These are my notes, not music.\n" * 50, "damaged or not audio"),
    "random.flac": (bytes(range(256)) * 64, "damaged or not audio"),
    "page.wav": (b"<html><body>404</body></html>", "damaged or not audio"),
    "tune.xm": (b"Extended Module: tune" + bytes(400), "tracker module"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_it_reports_a_bad_file_with_a_reason_and_stores_nothing(tmp_path, media_root, name):
    content, reason = BAD_FILES[name]
    (tmp_path / name).write_bytes(content)

    summary = run_import(tmp_path / name)

    assert "Imported 0" in summary
    assert "broken 1" in summary
    assert reason in summary
    assert Song.objects.count() == 0
    assert Artist.objects.count() == 0
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_truncated_file_is_reported_and_the_good_ones_still_import(tmp_path):
    good = write_audio(tmp_path / "good.flac", seconds=3, seed=1)
    whole = write_audio(tmp_path / "whole.flac", seconds=3, seed=2).read_bytes()
    (tmp_path / "whole.flac").unlink()
    (tmp_path / "cut.flac").write_bytes(whole[: len(whole) // 3])

    summary = run_import(tmp_path)

    assert Song.objects.filter(original_filename=good.name).exists()
    cut = Song.objects.filter(original_filename="cut.flac").first()
    if cut is None:
        assert "cut.flac: " in summary and "truncated" in summary
    else:
        # libsndfile may decode the part that is there; then it must be the shorter song it really is.
        assert cut.duration < 3.0


def test_an_unreadable_file_is_reported(tmp_path):
    import os

    locked = write_audio(tmp_path / "locked.wav")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        summary = run_import(locked)
    finally:
        locked.chmod(0o644)
    assert "cannot read the file" in summary
    assert Song.objects.count() == 0


def test_an_endless_pipe_and_a_dangling_link_are_reported_without_reading_them(tmp_path):
    import os

    os.mkfifo(tmp_path / "endless.wav")
    (tmp_path / "gone.ogg").symlink_to(tmp_path / "deleted.ogg")

    summary = run_import(tmp_path)

    assert "endless.wav: not a regular file" in summary
    assert "gone.ogg: file not found" in summary
    assert Song.objects.count() == 0


def test_folders_skip_covers_and_notes_silently(tmp_path):
    write_audio(tmp_path / "song.wav")
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "readme.txt").write_text("hi")

    summary = run_import(tmp_path)

    assert summary.startswith("Imported 1, skipped 0, broken 0 (of 1 file)")


def test_odd_file_names_import_and_are_stored_under_safe_names(tmp_path):
    odd = tmp_path / "we\u0301ird 'name' ; rm -rf ~ & <b>.ogg"
    write_audio(odd)

    run_import(tmp_path)

    song = Song.objects.get()
    assert song.original_filename == odd.name
    assert song.audio.name == f"songs/{song.content_hash[:2]}/{song.content_hash}.ogg"


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No such file or folder"):
        run_import(tmp_path / "nowhere")
