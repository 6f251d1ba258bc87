"""The demo catalogue (catalog.demo), tried on small fake packages: no network, no Django."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from catalog.demo import DemoUnavailable, fetch_demo_tracks
from catalog.demo import packages as demo_packages
from catalog.demo import stems as demo_stems
from catalog.demo.copyright import licence_for, parse_copyright
from catalog.demo.music_files import is_sound_effect
from catalog.demo.packages import download_packages, extract_pk3_music, unpack_package
from catalog.demo.stems import StemsDoNotMix, frets_on_fire_stems, mix_song_folder, mix_stems
from catalog.demo.tracks import find_tracks, read_song_ini

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb to build a package")

DEP5_COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Some Game
Files-Excluded: *.dll

Files: *
Copyright: 2002-2014, The Some Game Team <team@example.org>
License: GPL-2+

Files: debian/*
Copyright: 2013-2020, A Packager <packager@debian.org>
License: GPL-2+

Files:
 base/music/calm.ogg
 base/music/storm.ogg
Copyright:
 Manuel "Vanethian" Marino (www.manuelmarino.com)
 Gren alchemist_0@sky.com
License: CC-BY-3.0

Files: base/music/storm.ogg
Copyright: 2009 Ann Composer (http://ann.example.org)
License: CC-BY-SA-3.0

License: GPL-2+
 This program is free software; you can redistribute it and/or modify it
 .
 On Debian systems, the complete text is in `/usr/share/common-licenses/GPL-2'.
"""

FREE_FORM_GPL = """\
This package was debianized by A Packager <packager@debian.org> on
Fri, 24 Feb 2006 23:21:35 +0100.

Nexuiz is © 2002 - 2009 Alientrap, Lee Vermeulen <lvermeulen@example.org>

This program is free software; you can redistribute it and/or
modify it under the terms of the GNU General Public License
as published by the Free Software Foundation; either version 2
of the License, or (at your option) any later version.
"""

FREE_FORM_EXPAT = """\
Upstream Author Carlos Viola Iborra <karuritosu@example.org>

The songs, performances and fret files are all Copyright (c) 2006/2007  Carlos
Viola Iborra <karuritosu@example.org>

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal

Packaging:

The Debian packaging is Copyright (C) 2006-2007, Matthew Johnson <debian@example.org>
and is licensed under the GPL.

On Debian systems, the complete text of the GNU General
Public License can be found in `/usr/share/common-licenses/GPL'.
"""

FREE_FORM_CC = """\
The songs, performances and fret files are all Copyright (c) 2009  El Senator
<elsenator@example.org> and are licenced under the terms of the Creative Commons
Attribution ShareAlike licence 3.0:
"""

FREE_FORM_GPL_MANY_HOLDERS = """\
Copyright (C) 2003 - 2009 by David White <dave@example.org>
Copyright (C) 2004 - 2009 by Guillaume Melquiond <guillaume@example.org>
Copyright (C) 2009 by Eugen Jiresch
Copyright (C) 2009 by Greg Shikhman <greg@example.org>
Copyright (C) 2009 by Daniel Franke.
Copyright (C) 2009 by Yurii Chernyi <yurii@example.org>

License:
        This program is free software; you can redistribute it and/or modify
        it under the terms of the GNU General Public License version 2
        or at your option any later version.
"""


# Factories ---------------------------------------------------------------------------------------------------


def make_file(path: Path, content: bytes | str = b"not really audio") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def make_package_tree(root: Path, package: str, copyright_text: str, files: list[str]) -> Path:
    """An unpacked package: its copyright file and the given files (paths relative to ``root``)."""
    make_file(root / "usr" / "share" / "doc" / package / "copyright", copyright_text)
    for name in files:
        make_file(root / name)
    return root


def make_song_ini(folder: Path, *, name: str, artist: str) -> Path:
    # Frets on Fire's own files use CRLF line ends.
    text = f"[song]\r\ncassettecolor = #111111\r\nname = {name}\r\nartist = {artist}\r\nscores = 6365\r\n"
    return make_file(folder / "song.ini", text.encode())


RATE = 22050


def tone(frequency: float, seconds: float, *, amplitude: float = 0.2, rate: int = RATE) -> np.ndarray:
    """A stereo sine, shaped (frames, channels) as soundfile reads it."""
    t = np.arange(round(seconds * rate)) / rate
    wave = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.column_stack([wave, wave])


def make_stem(path: Path, signal: np.ndarray, *, rate: int = RATE) -> Path:
    # WAV keeps the stems exact, so only the mix's own Vorbis encoding blurs what the tests compare.
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, rate, subtype="FLOAT")
    return path


def wav_bytes(signal: np.ndarray, *, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def make_pk3(path: Path, members: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name in members:
            archive.writestr(name, f"contents of {name}")
    return path


def make_deb(tmp_path: Path, package: str, files: dict[str, str | bytes]) -> Path:
    """A real (tiny) Debian package built with dpkg-deb."""
    tree = tmp_path / "build" / package
    make_file(
        tree / "DEBIAN" / "control",
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: Nobody <nobody@example.org>\n"
        f"Description: test package\n",
    )
    for name, content in files.items():
        make_file(tree / name, content)
    # dpkg-deb wants the control folder 0755: `./musrec test` runs under umask 077, which would make it 0700.
    for folder in [tree, *(p for p in tree.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    deb = tmp_path / "build" / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True, capture_output=True)
    return deb


FAKE_APT_GET = """\
import json, os, shutil, sys
from pathlib import Path

config = json.loads(Path(os.environ["FAKE_APT_CONFIG"]).read_text())
calls = Path(os.environ["FAKE_APT_CALLS"])
with calls.open("a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
updated = calls.with_name("updated")
if sys.argv[1] == "update":
    updated.touch()
    sys.exit(0)
if config["needs_update"] and not updated.exists():
    print("E: Failed to fetch http://deb.debian.org/debian/pool/x.deb  404  Not Found")
    sys.exit(100)
for name in sys.argv[2:]:
    if name not in config["debs"]:
        print(f"E: Unable to locate package {name}")
        sys.exit(100)
for name in sys.argv[2:]:
    print(f"Get:1 http://deb.debian.org/debian bookworm/main amd64 {name} all 1.0 [1 kB]")
    target = Path.cwd() / f"{name}_1.0_all.deb"
    if config["debs"][name]:
        shutil.copy(config["debs"][name], target)
    else:
        target.write_bytes(b"not really a deb")
"""


class FakeApt:
    """An ``apt-get`` on PATH that serves the given packages from local files and records its calls."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = tmp_path / "fake-apt"
        bin_dir = self.folder / "bin"
        script = make_file(bin_dir / "apt-get", f"#!{sys.executable}\n{FAKE_APT_GET}")
        script.chmod(0o755)
        self.config_file = self.folder / "config.json"
        self.calls_file = self.folder / "calls.txt"
        self.configure(debs={})
        monkeypatch.setenv("FAKE_APT_CONFIG", str(self.config_file))
        monkeypatch.setenv("FAKE_APT_CALLS", str(self.calls_file))
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        # Package lists that look present, so only a failed download triggers `apt-get update`.
        lists = make_file(self.folder / "lists" / "deb.debian.org_debian_dists_bookworm_main_Packages.lz4")
        monkeypatch.setattr(demo_packages, "_APT_LISTS_DIR", lists.parent)

    def configure(self, *, debs: dict[str, Path | None], needs_update: bool = False) -> None:
        sources = {name: str(path) if path else None for name, path in debs.items()}
        self.config_file.write_text(json.dumps({"debs": sources, "needs_update": needs_update}))

    @property
    def calls(self) -> list[str]:
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []


@pytest.fixture
def fake_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeApt:
    return FakeApt(tmp_path, monkeypatch)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_packages.os, "geteuid", lambda: 1000)


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_packages.os, "geteuid", lambda: 0)


# song.ini ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("artist", "expected"),
    [
        ("Composed and performed by Sectoid", "Sectoid"),
        ("Muldjord - www.muldjord.com", "Muldjord"),
        ("El Senator", "El Senator"),
    ],
)
def test_it_reads_artist_and_title_from_song_ini(tmp_path: Path, artist: str, expected: str) -> None:
    ini = make_song_ini(tmp_path, name="War of freedom", artist=artist)

    assert read_song_ini(ini) == ("War of freedom", expected)


def test_it_gives_no_hints_for_a_song_ini_without_them(tmp_path: Path) -> None:
    ini = make_file(tmp_path / "song.ini", "[song]\ncassettecolor = #111111\n")

    assert read_song_ini(ini) == (None, None)


# Frets on Fire stems ---------------------------------------------------------------------------------------


def test_a_mix_is_as_long_as_its_longest_stem() -> None:
    mix = mix_stems([np.full((5, 2), 0.1, np.float32), np.full((8, 2), 0.2, np.float32)])

    assert mix.shape == (8, 2)
    assert mix.dtype == np.float32
    np.testing.assert_allclose(mix[:, 0], [0.3] * 5 + [0.2] * 3, rtol=1e-6)


def test_a_mix_that_does_not_clip_is_the_plain_sum() -> None:
    rng = np.random.default_rng(0)
    stems = [rng.uniform(-0.3, 0.3, size=(1000, 2)).astype(np.float32) for _ in range(3)]

    mix = mix_stems(stems)

    np.testing.assert_array_equal(mix, stems[0] + stems[1] + stems[2])
    assert all(np.abs(stem).max() <= 0.3 for stem in stems), "the stems are left as they were"


def test_a_mix_that_would_clip_is_scaled_to_a_peak_of_one() -> None:
    rng = np.random.default_rng(1)
    stems = [rng.uniform(-0.9, 0.9, size=(1000, 2)).astype(np.float32) for _ in range(3)]
    total = stems[0] + stems[1] + stems[2]

    mix = mix_stems(stems)

    assert np.abs(mix).max() == pytest.approx(1.0)
    assert np.abs(mix).max() <= 1.0
    np.testing.assert_allclose(mix, total / np.abs(total).max(), rtol=1e-6, atol=1e-7)


def test_a_mix_can_be_kept_under_a_lower_ceiling() -> None:
    quiet = [np.full((4, 2), 0.2, np.float32), np.full((4, 2), 0.3, np.float32)]
    loud = [np.full((4, 2), 0.5, np.float32), np.full((4, 2), 0.7, np.float32)]

    np.testing.assert_allclose(mix_stems(quiet, ceiling=0.8), 0.5)
    np.testing.assert_allclose(mix_stems(loud, ceiling=0.8), 0.8)


def test_a_mono_stem_plays_in_every_channel_of_the_mix() -> None:
    mix = mix_stems([np.array([0.5, 0.5], np.float32), np.array([[0.1, -0.1], [0.2, -0.2]], np.float32)])

    np.testing.assert_allclose(mix, [[0.6, 0.4], [0.7, 0.3]], rtol=1e-6)


@pytest.mark.parametrize(
    ("stems", "message"),
    [
        ([], "no stems"),
        ([np.zeros((4, 2)), np.zeros((4, 3))], "different numbers of channels"),
        ([np.zeros((4, 2, 2))], "not shaped"),
    ],
)
def test_it_refuses_stems_that_do_not_mix(stems: list[np.ndarray], message: str) -> None:
    with pytest.raises(StemsDoNotMix, match=message):
        mix_stems(stems)


def test_it_mixes_the_stems_of_a_song_folder_into_one_ogg_vorbis_file(tmp_path: Path) -> None:
    folder = tmp_path / "Feelings"
    song, guitar, rhythm = tone(220, 1.0), tone(330, 0.75), tone(440, 0.5)
    for name, signal in (("song.wav", song), ("guitar.wav", guitar), ("rhythm.wav", rhythm)):
        make_stem(folder / name, signal)
    lines: list[str] = []

    dest = mix_song_folder(folder, dest=tmp_path / "mixed" / "Feelings.ogg", log=lines.append)

    info = sf.info(dest)
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "VORBIS", RATE, 2)
    assert info.frames == len(song)
    mix, _ = sf.read(dest, dtype="float32", always_2d=True)
    expected = mix_stems([song, guitar, rhythm])
    assert np.sqrt(np.mean((mix - expected) ** 2)) < 0.01, "Vorbis blurs the sum but keeps it"
    assert lines == ["Mixing the 3 stems of Feelings (guitar.wav, rhythm.wav, song.wav)…"]
    assert [path.name for path in dest.parent.iterdir()] == ["Feelings.ogg"]


def test_it_leaves_the_preview_and_the_crowd_out_of_the_mix(tmp_path: Path) -> None:
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    make_stem(folder / "guitar.wav", tone(330, 0.5))
    # Longer than the song, so the mix's length shows whether they were let in.
    make_stem(folder / "preview.wav", tone(220, 1.0))
    make_stem(folder / "crowd.wav", tone(1000, 1.0))
    make_file(folder / "notes.mid")

    dest = mix_song_folder(folder, dest=tmp_path / "Feelings.ogg", log=lambda line: None)

    assert [path.name for path in frets_on_fire_stems(folder)] == ["guitar.wav", "song.wav"]
    assert sf.info(dest).frames == len(tone(220, 0.5))


def test_it_reuses_a_mix_made_earlier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    make_stem(folder / "guitar.wav", tone(330, 0.5))
    dest = mix_song_folder(folder, dest=tmp_path / "Feelings.ogg", log=lambda line: None)
    made = dest.stat().st_mtime_ns

    def fail(stems: object) -> np.ndarray:
        raise AssertionError("mixed again")

    monkeypatch.setattr(demo_stems, "mix_stems", fail)
    lines: list[str] = []

    assert mix_song_folder(folder, dest=dest, log=lines.append) == dest
    assert dest.stat().st_mtime_ns == made
    assert lines == []


def test_it_mixes_again_when_a_stem_is_newer_than_the_mix(tmp_path: Path) -> None:
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    guitar = make_stem(folder / "guitar.wav", tone(330, 0.5))
    dest = mix_song_folder(folder, dest=tmp_path / "Feelings.ogg", log=lambda line: None)
    make_stem(guitar, tone(330, 1.0))
    later = dest.stat().st_mtime + 10
    os.utime(guitar, (later, later))

    mix_song_folder(folder, dest=dest, log=lambda line: None)

    assert sf.info(dest).frames == len(tone(330, 1.0))


def test_it_leaves_no_half_written_mix_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    make_stem(folder / "guitar.wav", tone(330, 0.5))

    def write_fails(self: sf.SoundFile, data: np.ndarray) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", write_fails)

    with pytest.raises(OSError, match="No space"):
        mix_song_folder(folder, dest=tmp_path / "mixed" / "Feelings.ogg", log=lambda line: None)

    assert list((tmp_path / "mixed").iterdir()) == []


def test_it_hands_the_mix_to_libvorbis_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One long write overflows libvorbis's stack and kills the process; a real song is too slow for a test.
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    make_stem(folder / "guitar.wav", tone(330, 0.5))
    monkeypatch.setattr(demo_stems, "_VORBIS_WRITE_FRAMES", 1000)
    blocks: list[int] = []
    write = sf.SoundFile.write

    def record(self: sf.SoundFile, data: np.ndarray) -> None:
        blocks.append(len(data))
        write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", record)

    dest = mix_song_folder(folder, dest=tmp_path / "Feelings.ogg", log=lambda line: None)

    assert blocks == [1000] * 11 + [25]
    assert sf.info(dest).frames == 11025


def test_it_does_not_mix_stems_at_different_sample_rates(tmp_path: Path) -> None:
    folder = tmp_path / "Feelings"
    make_stem(folder / "song.wav", tone(220, 0.5))
    make_stem(folder / "guitar.wav", tone(330, 0.5, rate=RATE // 2), rate=RATE // 2)

    with pytest.raises(StemsDoNotMix, match=r"different sample rates \(11025, 22050 Hz\)"):
        mix_song_folder(folder, dest=tmp_path / "Feelings.ogg", log=lambda line: None)

    assert not (tmp_path / "Feelings.ogg").exists()


SECTOID_SONG = "usr/share/games/fretsonfire/data/songs/sectoid/Feelings"


def make_frets_on_fire_tree(root: Path, stems: dict[str, np.ndarray], *, rates: dict[str, int] | None = None) -> Path:
    """An unpacked fretsonfire-songs-sectoid with one song, Feelings, made of ``stems`` (name to signal)."""
    make_package_tree(root, "fretsonfire-songs-sectoid", FREE_FORM_EXPAT, [f"{SECTOID_SONG}/notes.mid"])
    folder = root / SECTOID_SONG
    for name, signal in stems.items():
        make_stem(folder / name, signal, rate=(rates or {}).get(name, RATE))
    make_song_ini(folder, name="Feelings", artist="Composed and performed by Sectoid")
    return folder


def test_it_yields_a_frets_on_fire_song_as_the_mix_of_its_stems(tmp_path: Path) -> None:
    stems = {name: tone(220 * (i + 1), 0.5) for i, name in enumerate(["song.wav", "guitar.wav", "rhythm.wav"])}
    make_frets_on_fire_tree(tmp_path / "pkg", {**stems, "preview.wav": tone(110, 0.5)})
    mix_dir = tmp_path / "mixed" / "fretsonfire-songs-sectoid"

    tracks = find_tracks(
        tmp_path / "pkg",
        package="fretsonfire-songs-sectoid",
        album="Frets on Fire",
        mix_dir=mix_dir,
        log=lambda line: None,
    )

    assert [track.path for track in tracks] == [mix_dir / "Feelings.ogg"]
    assert (tracks[0].title_hint, tracks[0].artist_hint) == ("Feelings", "Sectoid")
    assert (tracks[0].licence, tracks[0].attribution) == ("Expat", "Carlos Viola Iborra")


def test_it_falls_back_to_song_ogg_when_the_stems_have_different_sample_rates(tmp_path: Path) -> None:
    folder = make_frets_on_fire_tree(
        tmp_path / "pkg",
        {"song.wav": tone(220, 0.5), "guitar.wav": tone(330, 0.5, rate=RATE // 2)},
        rates={"guitar.wav": RATE // 2},
    )
    mix_dir = tmp_path / "mixed"
    lines: list[str] = []

    tracks = find_tracks(
        tmp_path / "pkg", package="fretsonfire-songs-sectoid", album="Frets on Fire", mix_dir=mix_dir, log=lines.append
    )

    assert [track.path for track in tracks] == [folder / "song.wav"]
    assert tracks[0].title_hint == "Feelings"
    assert lines == [
        "Using song.wav alone for Feelings (fretsonfire-songs-sectoid): "
        "its stems have different sample rates (11025, 22050 Hz)."
    ]
    assert not mix_dir.exists()


def test_it_falls_back_to_song_ogg_when_a_stem_cannot_be_decoded(tmp_path: Path) -> None:
    song = tmp_path / SECTOID_SONG
    make_package_tree(
        tmp_path,
        "fretsonfire-songs-sectoid",
        FREE_FORM_EXPAT,
        [f"{SECTOID_SONG}/{name}" for name in ("guitar.ogg", "rhythm.ogg", "song.ogg", "notes.mid")],
    )
    make_song_ini(song, name="Feelings", artist="Composed and performed by Sectoid")
    lines: list[str] = []

    tracks = find_tracks(
        tmp_path,
        package="fretsonfire-songs-sectoid",
        album="Frets on Fire",
        mix_dir=tmp_path / "mixed",
        log=lines.append,
    )

    assert [track.path for track in tracks] == [song / "song.ogg"]
    assert len(lines) == 1
    assert lines[0].startswith(
        "Using song.ogg alone for Feelings (fretsonfire-songs-sectoid): a stem cannot be decoded"
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["guitar.ogg", "rhythm.ogg", "song.ogg", "preview.ogg"], "song.ogg"),
        (["guitar.ogg", "preview.ogg", "crowd.ogg"], "guitar.ogg"),
        (["Feelings.ogg", "preview.ogg"], "Feelings.ogg"),
    ],
)
def test_without_a_mix_folder_it_yields_one_file_for_a_frets_on_fire_song(
    tmp_path: Path, files: list[str], expected: str
) -> None:
    make_package_tree(tmp_path, "fretsonfire-songs-sectoid", FREE_FORM_EXPAT, [f"{SECTOID_SONG}/{f}" for f in files])
    make_song_ini(tmp_path / SECTOID_SONG, name="Feelings", artist="Sectoid")

    tracks = find_tracks(tmp_path, package="fretsonfire-songs-sectoid", album="Frets on Fire")

    assert [track.path.name for track in tracks] == [expected]


# Copyright files ---------------------------------------------------------------------------------------------


def test_it_parses_every_files_stanza_of_a_dep5_copyright_file() -> None:
    stanzas = parse_copyright(DEP5_COPYRIGHT)

    assert [(stanza.patterns, stanza.licence) for stanza in stanzas] == [
        (("*",), "GPL-2+"),
        (("debian/*",), "GPL-2+"),
        (("base/music/calm.ogg", "base/music/storm.ogg"), "CC-BY-3.0"),
        (("base/music/storm.ogg",), "CC-BY-SA-3.0"),
    ]
    assert stanzas[0].attribution == "The Some Game Team"
    assert stanzas[2].attribution == 'Manuel "Vanethian" Marino, Gren'


@pytest.mark.parametrize(
    ("relative_path", "licence", "attribution"),
    [
        (
            "usr/share/games/game/base/0music.pk3.extracted/music/calm.ogg",
            "CC-BY-3.0",
            'Manuel "Vanethian" Marino, Gren',
        ),
        ("usr/share/games/game/base/music/storm.ogg", "CC-BY-SA-3.0", "Ann Composer"),
        ("usr/share/games/game/base/music/other.ogg", "GPL-2+", "The Some Game Team"),
    ],
)
def test_it_finds_the_stanza_covering_an_installed_file(relative_path: str, licence: str, attribution: str) -> None:
    stanza = licence_for(parse_copyright(DEP5_COPYRIGHT), relative_path)

    assert stanza is not None
    assert (stanza.licence, stanza.attribution) == (licence, attribution)


@pytest.mark.parametrize(
    ("text", "licence", "attribution"),
    [
        (FREE_FORM_GPL, "GPL-2+", "Alientrap, Lee Vermeulen"),
        (FREE_FORM_EXPAT, "Expat", "Carlos Viola Iborra"),
        (FREE_FORM_CC, "CC-BY-SA-3.0", "El Senator"),
        (
            FREE_FORM_GPL_MANY_HOLDERS,
            "GPL-2+",
            "David White, Guillaume Melquiond, Eugen Jiresch, Greg Shikhman, Daniel Franke and others",
        ),
    ],
)
def test_it_reads_licence_and_holders_from_a_free_form_copyright_file(
    text: str, licence: str, attribution: str
) -> None:
    [stanza] = parse_copyright(text)

    assert stanza.patterns == ("*",)
    assert (stanza.licence, stanza.attribution) == (licence, attribution)


def test_it_does_not_credit_the_debian_packager() -> None:
    [stanza] = parse_copyright(FREE_FORM_EXPAT)

    assert "Matthew Johnson" not in stanza.attribution


def test_it_says_unknown_for_a_licence_it_does_not_recognise() -> None:
    [stanza] = parse_copyright("Copyright (C) 2001 Somebody\n\nAll rights reserved.\n")

    assert (stanza.licence, stanza.attribution) == ("unknown", "Somebody")


# .pk3 archives -----------------------------------------------------------------------------------------------


def test_it_extracts_music_but_not_sound_effects_from_a_pk3(tmp_path: Path) -> None:
    pk3 = make_pk3(
        tmp_path / "data" / "music.pk3",
        ["sound/cdtracks/brainsukker.ogg", "music/theme.xm", "sound/weapons/rocket.ogg", "textures/wall.tga"],
    )

    written = extract_pk3_music(pk3)

    dest = tmp_path / "data" / "music.pk3.extracted"
    assert sorted(path.relative_to(dest).as_posix() for path in written) == [
        "music/theme.xm",
        "sound/cdtracks/brainsukker.ogg",
    ]
    assert (dest / "music" / "theme.xm").read_text() == "contents of music/theme.xm"


def test_it_extracts_a_pk3_only_once(tmp_path: Path) -> None:
    pk3 = make_pk3(tmp_path / "0music.pk3", ["music/theme.ogg"])
    extract_pk3_music(pk3)

    assert extract_pk3_music(pk3) == []


def test_it_does_not_let_a_pk3_write_outside_its_folder(tmp_path: Path) -> None:
    pk3 = make_pk3(tmp_path / "game" / "evil.pk3", ["../../music/evil.ogg", "music/good.ogg"])

    written = extract_pk3_music(pk3)

    assert [path.name for path in written] == ["good.ogg"]
    assert not (tmp_path / "music").exists()


# Finding tracks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative_path", "effect"),
    [
        ("usr/share/games/colobot/sounds/sound000.wav", True),
        ("usr/share/hyperrogue/sounds/pickup-gold.ogg", True),
        ("sound/weapons/rocket.ogg", True),
        ("sound/cdtracks/brainsukker.ogg", False),
        ("usr/share/games/colobot/music/music002.ogg", False),
        ("usr/share/scummvm/drascula/audio/track1.ogg", False),
    ],
)
def test_it_tells_sound_effects_from_music_by_their_folder(relative_path: str, effect: bool) -> None:
    assert is_sound_effect(relative_path) is effect


def test_it_finds_music_and_tracker_files_but_not_sound_effects(tmp_path: Path) -> None:
    make_package_tree(
        tmp_path,
        "colobot-common-sounds",
        DEP5_COPYRIGHT,
        [
            "usr/share/games/colobot/music/Constructive.ogg",
            "usr/share/games/colobot/music/theme.xm",
            "usr/share/games/colobot/music/cover.png",
            "usr/share/games/colobot/sounds/sound000.wav",
        ],
    )
    # drascula-music links every language folder to the same files; each file must come once.
    (tmp_path / "usr/share/games/colobot/en").mkdir()
    (tmp_path / "usr/share/games/colobot/en/Constructive.ogg").symlink_to("../music/Constructive.ogg")

    tracks = find_tracks(tmp_path, package="colobot-common-sounds", album="Colobot: Gold Edition")

    assert sorted(track.path.relative_to(tmp_path).as_posix() for track in tracks) == [
        "usr/share/games/colobot/music/Constructive.ogg",
        "usr/share/games/colobot/music/theme.xm",
    ]
    assert {(track.album, track.package) for track in tracks} == {("Colobot: Gold Edition", "colobot-common-sounds")}
    assert tracks[0].copyright_file == tmp_path / "usr/share/doc/colobot-common-sounds/copyright"


def test_it_gives_each_track_the_licence_of_its_own_stanza(tmp_path: Path) -> None:
    make_package_tree(
        tmp_path,
        "ufoai-music",
        DEP5_COPYRIGHT,
        ["usr/share/games/game/base/music/storm.ogg", "usr/share/games/game/base/music/other.ogg"],
    )

    tracks = {track.path.name: track for track in find_tracks(tmp_path, package="ufoai-music", album="UFO")}

    assert (tracks["storm.ogg"].licence, tracks["storm.ogg"].artist_hint) == ("CC-BY-SA-3.0", "Ann Composer")
    # The catch-all stanza names the game's team, which is no composer.
    assert (tracks["other.ogg"].licence, tracks["other.ogg"].artist_hint) == ("GPL-2+", None)


def test_it_takes_titles_and_authors_from_a_warzone_album_json(tmp_path: Path) -> None:
    album = tmp_path / "usr/share/games/warzone2100/music/albums/legacy_soundtrack"
    make_package_tree(tmp_path, "warzone2100-music", FREE_FORM_GPL, [f"{album.relative_to(tmp_path)}/track4.opus"])
    make_file(
        album / "album.json",
        json.dumps({"author": "LupusMechanicus", "tracks": [{"filename": "track4.opus", "title": "Uncertain Future"}]}),
    )

    [track] = find_tracks(tmp_path, package="warzone2100-music", album="Warzone 2100")

    assert (track.title_hint, track.artist_hint) == ("Uncertain Future", "LupusMechanicus")


# Downloading -------------------------------------------------------------------------------------------------


def test_it_raises_demo_unavailable_when_apt_get_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    with pytest.raises(DemoUnavailable, match=r"apt-get.*not found.*import_music"):
        fetch_demo_tracks(tmp_path / "var", log=lambda line: None)


def test_it_downloads_only_the_packages_not_already_cached(tmp_path: Path, fake_apt: FakeApt, as_user: None) -> None:
    debs = tmp_path / "debs"
    make_file(debs / "asc-music_1.3-6_all.deb")
    fake_apt.configure(debs={"asc-music": None, "nexuiz-music": None})
    lines: list[str] = []

    found = download_packages(["asc-music", "nexuiz-music"], debs, log=lines.append)

    assert fake_apt.calls == ["download nexuiz-music"]
    assert {name: path.name for name, path in found.items()} == {
        "asc-music": "asc-music_1.3-6_all.deb",
        "nexuiz-music": "nexuiz-music_1.0_all.deb",
    }
    assert lines == ["Downloading 1 Debian package…", "  nexuiz-music (1 kB)"]
    assert sorted(path.name for path in debs.iterdir()) == ["asc-music_1.3-6_all.deb", "nexuiz-music_1.0_all.deb"]

    download_packages(["asc-music", "nexuiz-music"], debs, log=lines.append)

    assert fake_apt.calls == ["download nexuiz-music"]


def test_it_runs_apt_get_update_as_root_when_download_fails(tmp_path: Path, fake_apt: FakeApt, as_root: None) -> None:
    fake_apt.configure(debs={"asc-music": None}, needs_update=True)

    found = download_packages(["asc-music"], tmp_path / "debs", log=lambda line: None)

    assert fake_apt.calls == ["download asc-music", "update", "download asc-music"]
    assert list(found) == ["asc-music"]


def test_it_runs_apt_get_update_first_as_root_when_there_are_no_package_lists(
    tmp_path: Path, fake_apt: FakeApt, as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_packages, "_APT_LISTS_DIR", tmp_path / "no-lists")
    fake_apt.configure(debs={"asc-music": None}, needs_update=True)

    download_packages(["asc-music"], tmp_path / "debs", log=lambda line: None)

    assert fake_apt.calls == ["update", "download asc-music"]


def test_it_tells_other_users_to_run_sudo_apt_get_update(tmp_path: Path, fake_apt: FakeApt, as_user: None) -> None:
    fake_apt.configure(debs={"asc-music": None}, needs_update=True)

    with pytest.raises(DemoUnavailable, match=r"sudo apt-get update.*import_music PATH"):
        download_packages(["asc-music"], tmp_path / "debs", log=lambda line: None)

    assert "update" not in fake_apt.calls
    assert not any((tmp_path / "debs").glob("*.deb"))


def test_it_skips_packages_apt_does_not_know(tmp_path: Path, fake_apt: FakeApt, as_user: None) -> None:
    fake_apt.configure(debs={"asc-music": None})
    lines: list[str] = []

    found = download_packages(["wesnoth-0.9-music", "asc-music"], tmp_path / "debs", log=lines.append)

    assert list(found) == ["asc-music"]
    assert "Skipping wesnoth-0.9-music: the apt sources on this machine do not have it." in lines


# Unpacking and the whole run ---------------------------------------------------------------------------------


@needs_dpkg
def test_it_unpacks_a_package_once(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "asc-music", {"usr/share/games/asc/music/frontiers.mp3": "mp3"})
    dest = tmp_path / "unpacked" / "asc-music"

    unpack_package(deb, dest)
    (dest / "usr/share/games/asc/music/frontiers.mp3").unlink()
    unpack_package(deb, dest)

    assert not (dest / "usr/share/games/asc/music/frontiers.mp3").exists()
    assert not (tmp_path / "unpacked" / "asc-music.partial").exists()


@needs_dpkg
def test_it_fetches_a_sorted_catalogue_from_debian_packages(tmp_path: Path, fake_apt: FakeApt, as_user: None) -> None:
    music_pk3 = make_pk3(tmp_path / "src" / "music.pk3", ["sound/cdtracks/thunder.ogg", "sound/misc/hit.ogg"])
    fake_apt.configure(
        debs={
            "nexuiz-music": make_deb(
                tmp_path,
                "nexuiz-music",
                {
                    "usr/share/doc/nexuiz-music/copyright": FREE_FORM_GPL,
                    "usr/share/games/nexuiz/data/music.pk3": music_pk3.read_bytes(),
                },
            ),
            "asc-music": make_deb(
                tmp_path,
                "asc-music",
                {
                    "usr/share/doc/asc-music/copyright": DEP5_COPYRIGHT,
                    "usr/share/games/asc/music/time_to_strike.mp3": "mp3",
                    "usr/share/games/asc/music/frontiers.mp3": "mp3",
                },
            ),
        }
    )
    lines: list[str] = []

    tracks = fetch_demo_tracks(tmp_path / "var", packages=["nexuiz-music", "asc-music"], log=lines.append)

    unpacked = tmp_path / "var" / "demo" / "unpacked"
    assert [(track.album, track.path.relative_to(unpacked).as_posix()) for track in tracks] == [
        ("Advanced Strategic Command", "asc-music/usr/share/games/asc/music/frontiers.mp3"),
        ("Advanced Strategic Command", "asc-music/usr/share/games/asc/music/time_to_strike.mp3"),
        ("Nexuiz", "nexuiz-music/usr/share/games/nexuiz/data/music.pk3.extracted/sound/cdtracks/thunder.ogg"),
    ]
    assert {track.licence for track in tracks} == {"GPL-2+"}
    assert "Unpacking nexuiz-music…" in lines
    assert "Extracting the music from music.pk3 (nexuiz-music)…" in lines

    again: list[str] = []
    assert fetch_demo_tracks(tmp_path / "var", packages=["nexuiz-music", "asc-music"], log=again.append) == tracks
    assert again == ["Using 2 Debian packages downloaded earlier.", "Found 3 music files in 2 packages."]


@needs_dpkg
def test_it_catalogues_a_frets_on_fire_song_as_its_mix(tmp_path: Path, fake_apt: FakeApt, as_user: None) -> None:
    fake_apt.configure(
        debs={
            "fretsonfire-songs-sectoid": make_deb(
                tmp_path,
                "fretsonfire-songs-sectoid",
                {
                    "usr/share/doc/fretsonfire-songs-sectoid/copyright": FREE_FORM_EXPAT,
                    f"{SECTOID_SONG}/song.ini": "[song]\nname = Feelings\nartist = Sectoid\n",
                    f"{SECTOID_SONG}/song.wav": wav_bytes(tone(220, 0.5)),
                    f"{SECTOID_SONG}/guitar.wav": wav_bytes(tone(330, 0.5)),
                },
            )
        }
    )
    var = tmp_path / "var"
    lines: list[str] = []

    [track] = fetch_demo_tracks(var, packages=["fretsonfire-songs-sectoid"], log=lines.append)

    assert track.path == var / "demo" / "mixed" / "fretsonfire-songs-sectoid" / "Feelings.ogg"
    assert (track.album, track.title_hint, track.licence) == ("Frets on Fire", "Feelings", "Expat")
    assert "Mixing the 2 stems of Feelings (guitar.wav, song.wav)…" in lines

    again: list[str] = []
    assert fetch_demo_tracks(var, packages=["fretsonfire-songs-sectoid"], log=again.append) == [track]
    assert not any(line.startswith("Mixing") for line in again)
