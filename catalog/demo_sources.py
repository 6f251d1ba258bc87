"""The demo catalogue: freely licensed game soundtracks fetched from Debian's archive.

Debian packages the music of several free games, each with a copyright file that says who made it and under
which licence. We download those packages with ``apt-get download`` (no root needed), unpack them with
``dpkg -x`` under ``var/demo/`` and list the music files with their licence, attribution and title hints.
The only audio decoded here is that of Frets on Fire songs, whose stems are mixed into one file under
``var/demo/mixed/``; otherwise the importer decides what is long enough and readable.

This module imports nothing from Django, so it can be tried from a shell or a notebook.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

DEMO_PACKAGES: tuple[str, ...] = (
    "wesnoth-1.16-music",
    "warzone2100-music",
    "ufoai-music",
    "nexuiz-music",
    "singularity-music",
    "drascula-music",
    "hyperrogue-music",
    "colobot-common-sounds",
    "fretsonfire-songs-muldjord",
    "fretsonfire-songs-sectoid",
    "asc-music",
)

# The games' own names, checked against each package's description and copyright file.
ALBUMS: dict[str, str] = {
    "wesnoth-1.16-music": "The Battle for Wesnoth",
    "warzone2100-music": "Warzone 2100",
    "ufoai-music": "UFO: Alien Invasion",
    "nexuiz-music": "Nexuiz",
    "singularity-music": "Endgame: Singularity",
    "drascula-music": "Drascula: The Vampire Strikes Back",
    "hyperrogue-music": "HyperRogue",
    "colobot-common-sounds": "Colobot: Gold Edition",
    "fretsonfire-songs-muldjord": "Frets on Fire",
    "fretsonfire-songs-sectoid": "Frets on Fire",
    "asc-music": "Advanced Strategic Command",
}

MUSIC_EXTENSIONS = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})
# Yielded too, so that the importer can say why it skips them rather than pass over them in silence.
TRACKER_EXTENSIONS = frozenset({".mod", ".xm", ".it", ".s3m", ".mtm", ".669", ".umx"})
CANDIDATE_EXTENSIONS = MUSIC_EXTENSIONS | TRACKER_EXTENSIONS

UNKNOWN_LICENCE = "unknown"
IMPORT_HINT = "or import your own music with `manage.py import_music PATH`"

# Folder names that mark sound effects (colobot's sounds/, hyperrogue's sounds/, Quake-style sound/) and the
# ones that mark music even inside them (Nexuiz keeps its soundtrack in sound/cdtracks/).
_EFFECT_DIRS = frozenset({"sound", "sounds", "sfx", "effects"})
_MUSIC_DIRS = frozenset({"music", "musics", "cdtracks", "songs", "soundtrack"})

# Frets on Fire splits a song into stems that the game plays together: song.ogg is the backing band, guitar.ogg
# and rhythm.ogg (and, in songs made for its fork FoFiX, drums.ogg, vocals.ogg and others) the parts the players'
# frets switch on and off. No file holds the full mix, and song.ogg alone is the song without its lead guitar: in
# the Debian packages song.ogg and guitar.ogg are uncorrelated (|r| < 0.01, so neither contains the other). A
# recommender that listened to song.ogg would describe a backing track, so we mix the stems into one file and
# catalogue that. preview.ogg (a clip for the song picker), crowd.ogg (cheering) and video.ogg are not the song.
_FOF_BACKING_STEM = "song"
_FOF_INSTRUMENT_STEM = re.compile(r"song|guitar|rhythm|bass|drums(?:_\d)?|vocals|keys|piano|acoustic", re.I)
_FOF_NOT_THE_SONG = frozenset({"preview", "crowd", "video"})
# libvorbis keeps a buffer as long as the audio handed to it in one call on the stack (alloca), so writing a whole
# song at once overflows the stack and kills the process (python-soundfile issues #396 and #426: a 3-minute mix
# did here). Blocks of this many frames keep that buffer small.
_VORBIS_WRITE_FRAMES = 1 << 16
# Vorbis does not reproduce peaks exactly: mixes normalised to 1.0 decoded with peaks up to 1.023 here, which
# clip wherever the song is played as integers. A ceiling of -1 dBFS, the headroom EBU R 128 asks of lossy
# encodings, keeps them under 1.0.
_MIX_CEILING = 10 ** (-1 / 20)

_APT_LISTS_DIR = Path("/var/lib/apt/lists")
_UNPACKED_MARKER = ".unpacked-from"
_MAX_HOLDERS = 5


class DemoUnavailable(Exception):
    """The demo catalogue cannot be fetched on this machine; the message says why in plain words."""


class StemsDoNotMix(ValueError):
    """A song's stems cannot be mixed into one signal; the message says why in plain words."""


@dataclass(frozen=True)
class DemoTrack:
    path: Path
    package: str
    album: str
    title_hint: str | None
    artist_hint: str | None
    licence: str
    attribution: str
    copyright_file: Path


@dataclass(frozen=True)
class CopyrightStanza:
    """Who holds the copyright on the files matching ``patterns``, and under which licence.

    A DEP-5 copyright file gives one stanza per ``Files:`` paragraph; a free-form one gives a single stanza
    that covers everything (``patterns == ("*",)``).
    """

    patterns: tuple[str, ...]
    licence: str
    holders: tuple[str, ...]

    @property
    def attribution(self) -> str:
        if len(self.holders) > _MAX_HOLDERS:
            return ", ".join(self.holders[:_MAX_HOLDERS]) + " and others"
        return ", ".join(self.holders)


def fetch_demo_tracks(
    var_dir: Path, *, packages: Sequence[str] = DEMO_PACKAGES, log: Callable[[str], None] = print
) -> list[DemoTrack]:
    """Download, unpack and list the demo catalogue's music under ``var_dir / "demo"``.

    Parameters
    ----------
    var_dir : Path
        The site's writable folder; downloads go to ``demo/debs/``, unpacked trees to ``demo/unpacked/`` and
        the mixed stems of Frets on Fire songs to ``demo/mixed/<package>/``.
    packages : sequence of str
        Debian package names. Packages the apt sources do not know are skipped with a message.
    log : callable
        Receives short progress lines meant for a person.

    Returns
    -------
    list of DemoTrack
        Candidate music files (tracker modules included), sorted by album and path. A Frets on Fire song is
        its mixed file under ``demo/mixed/``.

    Raises
    ------
    DemoUnavailable
        apt-get or dpkg is missing, or no package could be downloaded.
    """
    demo_dir = var_dir / "demo"
    debs = download_packages(packages, demo_dir / "debs", log=log)
    tracks: list[DemoTrack] = []
    for package in packages:
        deb = debs.get(package)
        if deb is None:
            continue
        root = demo_dir / "unpacked" / package
        if not _is_unpacked(root, deb):
            log(f"Unpacking {package}…")
        unpack_package(deb, root)
        for pk3 in sorted(root.rglob("*.pk3")):
            if extract_pk3_music(pk3):
                log(f"Extracting the music from {pk3.name} ({package})…")
        album = ALBUMS.get(package, package)
        tracks.extend(find_tracks(root, package=package, album=album, mix_dir=demo_dir / "mixed" / package, log=log))
    tracks.sort(key=lambda track: (track.album, track.path))
    log(f"Found {_count(len(tracks), 'music file')} in {_count(len(debs), 'package')}.")
    return tracks


# Downloading -------------------------------------------------------------------------------------------------


def download_packages(
    packages: Sequence[str], debs_dir: Path, *, log: Callable[[str], None] = print
) -> dict[str, Path]:
    """Download the ``.deb`` files of ``packages`` into ``debs_dir``, reusing those already there.

    Returns
    -------
    dict of str to Path
        The ``.deb`` of each package that could be had. Packages unknown to apt are left out.
    """
    apt_get = _require_tool("apt-get")
    debs_dir.mkdir(parents=True, exist_ok=True)
    missing = [package for package in packages if cached_deb(debs_dir, package) is None]
    if not missing:
        log(f"Using {_count(len(packages), 'Debian package')} downloaded earlier.")
    else:
        log(f"Downloading {_count(len(missing), 'Debian package')}…")
        is_root = os.geteuid() == 0
        updated = False
        if is_root and _apt_lists_are_empty():
            _apt_get_update(apt_get, log)
            updated = True
        failure = _apt_get_download(apt_get, missing, debs_dir, log)
        if failure is not None and is_root and not updated:
            _apt_get_update(apt_get, log)
            failure = _apt_get_download(apt_get, missing, debs_dir, log)
        if failure is not None:
            # apt refuses the whole command for one unknown name (a package renamed in a newer release, or
            # another distribution); the others are still worth having.
            unknown = [package for package in missing if package in _unknown_packages(failure)]
            available = [package for package in missing if package not in unknown]
            if unknown and available:
                for package in unknown:
                    log(f"Skipping {package}: the apt sources on this machine do not have it.")
                failure = _apt_get_download(apt_get, available, debs_dir, log)
        if failure is not None:
            raise DemoUnavailable(_download_failure_message(failure, is_root=is_root))
    found = {package: deb for package in packages if (deb := cached_deb(debs_dir, package)) is not None}
    if not found:
        raise DemoUnavailable(f"None of the demo packages could be downloaded; {IMPORT_HINT}.")
    return found


def cached_deb(debs_dir: Path, package: str) -> Path | None:
    """The downloaded ``.deb`` of ``package``, the newest if several versions are there."""
    # Debian file names are name_version_arch.deb and package names cannot contain "_".
    candidates = sorted(debs_dir.glob(f"{package}_*.deb"), key=lambda path: path.stat().st_mtime)
    return candidates[-1] if candidates else None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DemoUnavailable(
            f"The demo catalogue is made of Debian packages, but `{name}` was not found on this machine. "
            f"Build it on Debian or Ubuntu, {IMPORT_HINT}."
        )
    return path


def _apt_lists_are_empty() -> bool:
    return not any(_APT_LISTS_DIR.glob("*_Packages*"))


def _apt_env() -> dict[str, str]:
    # apt translates its messages; we read them, so they must stay in English.
    return {**os.environ, "LC_ALL": "C", "LANG": "C", "LANGUAGE": ""}


def _apt_get_update(apt_get: str, log: Callable[[str], None]) -> None:
    log("Refreshing the apt package lists (apt-get update)…")
    result = subprocess.run([apt_get, "update"], capture_output=True, text=True, env=_apt_env(), check=False)
    if result.returncode != 0:
        raise DemoUnavailable(
            f"`apt-get update` failed: {_last_error(result.stdout + result.stderr)}. "
            f"Check the network and the apt sources, {IMPORT_HINT}."
        )


def _apt_get_download(apt_get: str, packages: Sequence[str], debs_dir: Path, log: Callable[[str], None]) -> str | None:
    """Run ``apt-get download``; return its output if it failed, else None.

    Files arrive in a scratch folder and are moved into ``debs_dir`` only when apt says all went well, so an
    interrupted download never passes for a cached package.
    """
    incoming = debs_dir / ".incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir()
    output: list[str] = []
    with subprocess.Popen(
        [apt_get, "download", *packages],
        cwd=incoming,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_apt_env(),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if progress := _download_progress(line):
                log(progress)
    if process.returncode != 0:
        shutil.rmtree(incoming, ignore_errors=True)
        return "".join(output)
    for deb in incoming.glob("*.deb"):
        deb.replace(debs_dir / deb.name)
    shutil.rmtree(incoming, ignore_errors=True)
    return None


def _download_progress(line: str) -> str | None:
    # "Get:3 http://deb.debian.org/debian bookworm/main amd64 drascula-music all 1.0+ds4-2 [36.4 MB]"
    if match := re.match(r"Get:\d+ .* (\S+) \S+ \S+ \[([^\]]+)\]\s*$", line):
        return f"  {match[1]} ({match[2]})"
    if line.startswith("Fetched "):
        return "  " + line.strip()
    return None


# "E: Unable to locate package foo", "E: Package 'foo' has no installation candidate",
# "E: Can't select candidate version from package foo as it has no candidate"
_UNKNOWN_PACKAGE = re.compile(
    r"^E: (?:Unable to locate package (\S+)|Package '(\S+)' has no installation candidate"
    r"|Can't select candidate version from package (\S+) )",
    re.MULTILINE,
)


def _unknown_packages(apt_output: str) -> set[str]:
    return {name for names in _UNKNOWN_PACKAGE.findall(apt_output) for name in names if name}


def _last_error(apt_output: str) -> str:
    errors = [line[3:].strip() for line in apt_output.splitlines() if line.startswith("E: ")]
    if errors:
        return errors[-1]
    lines = [line.strip() for line in apt_output.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _download_failure_message(apt_output: str, *, is_root: bool) -> str:
    reason = _last_error(apt_output)
    if is_root:
        return f"`apt-get download` failed: {reason}. Check the network and the apt sources, {IMPORT_HINT}."
    return (
        f"`apt-get download` failed: {reason}. The package lists may be missing or out of date: "
        f"run `sudo apt-get update` and try again, {IMPORT_HINT}."
    )


# Unpacking ---------------------------------------------------------------------------------------------------


def unpack_package(deb: Path, dest: Path) -> Path:
    """Unpack ``deb`` into ``dest`` with ``dpkg -x``, unless that very file was unpacked there already.

    The tree is built beside ``dest`` and renamed into place, so an interrupted run leaves no half tree.
    """
    if _is_unpacked(dest, deb):
        return dest
    dpkg = _require_tool("dpkg")
    scratch = dest.with_name(dest.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    result = subprocess.run([dpkg, "-x", str(deb), str(scratch)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise DemoUnavailable(f"Could not unpack {deb.name}: {result.stderr.strip() or 'dpkg -x failed'}.")
    (scratch / _UNPACKED_MARKER).write_text(deb.name + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    scratch.rename(dest)
    return dest


def _is_unpacked(dest: Path, deb: Path) -> bool:
    marker = dest / _UNPACKED_MARKER
    return marker.is_file() and marker.read_text().strip() == deb.name


def extract_pk3_music(pk3: Path) -> list[Path]:
    """Extract the music inside a Quake-style ``.pk3`` (a zip archive) into ``<name>.pk3.extracted/``.

    Sound effects are left in the archive (see :func:`is_sound_effect`). Members already extracted with the
    right size are kept, so a second run does nothing.

    Returns
    -------
    list of Path
        The files written by this call; empty when everything was there already.
    """
    dest = pk3.with_name(pk3.name + ".extracted")
    written: list[Path] = []
    with zipfile.ZipFile(pk3) as archive:
        for member in archive.infolist():
            name = PurePosixPath(member.filename)
            if member.is_dir() or name.suffix.lower() not in CANDIDATE_EXTENSIONS or is_sound_effect(name):
                continue
            if name.is_absolute() or ".." in name.parts:
                continue  # a hostile archive must not write outside dest
            target = dest.joinpath(*name.parts)
            if target.is_file() and target.stat().st_size == member.file_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = target.with_name(target.name + ".partial")
            with archive.open(member) as source, scratch.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1024 * 1024)
            scratch.replace(target)
            written.append(target)
    return written


# Finding the music -------------------------------------------------------------------------------------------


def is_sound_effect(relative_path: PurePosixPath | str) -> bool:
    """Whether a file's path, relative to its package or archive, says it is a sound effect, not music."""
    parts = [part.lower() for part in PurePosixPath(relative_path).parts[:-1]]
    if any(part in _MUSIC_DIRS for part in parts):
        return False
    return any(part in _EFFECT_DIRS for part in parts)


def find_tracks(
    package_root: Path,
    *,
    package: str,
    album: str,
    mix_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[DemoTrack]:
    """List the music files in an unpacked package, with licence, attribution and title hints.

    Symbolic links are passed over (drascula-music links each language folder to the same audio files),
    as are the package's documentation, sound effects and ``.pk3`` archives (their music was extracted next to
    them). A Frets on Fire song folder gives one track: its stems mixed by :func:`mix_song_folder` into
    ``mix_dir / "<folder>.ogg"``, which then stands in the track's ``path`` (licence and hints still come from
    the folder). Without ``mix_dir``, or when the stems do not mix, it is ``song.ogg`` alone.
    """
    copyright_file = package_root / "usr" / "share" / "doc" / package / "copyright"
    stanzas = parse_copyright(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
    docs = package_root / "usr" / "share" / "doc"
    tracks = []
    for folder, dirs, files in os.walk(package_root):
        here = Path(folder)
        dirs[:] = sorted(name for name in dirs if here / name != docs)
        candidates = [
            here / name
            for name in sorted(files)
            if Path(name).suffix.lower() in CANDIDATE_EXTENSIONS and not (here / name).is_symlink()
        ]
        title = artist = None
        titles_by_file: dict[str, tuple[str | None, str | None]] = {}
        mixed: dict[Path, Path] = {}
        if (here / "song.ini").is_file():
            candidates = _frets_on_fire_song(candidates)
            if mix_dir is not None and candidates and len(frets_on_fire_stems(here)) > 1:
                try:
                    mixed[candidates[0]] = mix_song_folder(here, dest=mix_dir / f"{here.name}.ogg", log=log)
                except StemsDoNotMix as error:
                    log(f"Using {candidates[0].name} alone for {here.name} ({package}): {error}.")
            title, artist = read_song_ini(here / "song.ini")
        elif (here / "album.json").is_file():
            titles_by_file = _read_album_json(here / "album.json")
        for path in candidates:
            relative = path.relative_to(package_root).as_posix()
            if is_sound_effect(relative):
                continue
            stanza = licence_for(stanzas, relative)
            file_title, file_artist = titles_by_file.get(path.name, (title, artist))
            tracks.append(
                DemoTrack(
                    path=mixed.get(path, path),
                    package=package,
                    album=album,
                    title_hint=file_title,
                    artist_hint=file_artist or _composer_from_stanza(stanza),
                    licence=stanza.licence if stanza else UNKNOWN_LICENCE,
                    attribution=stanza.attribution if stanza else "",
                    copyright_file=copyright_file,
                )
            )
    return tracks


def _frets_on_fire_song(candidates: list[Path]) -> list[Path]:
    """The one file that stands for a Frets on Fire song folder when its stems are not mixed."""
    backing = [path for path in candidates if path.stem.lower() == _FOF_BACKING_STEM]
    stems = [path for path in candidates if _is_instrument_stem(path)]
    # Without song.ogg a lone instrument stem is better than nothing, and without any stem a file that is no
    # known part of a song folder is the song.
    others = [path for path in candidates if path.stem.lower() not in _FOF_NOT_THE_SONG]
    return (backing or stems or others)[:1]


def _is_instrument_stem(path: Path) -> bool:
    return path.suffix.lower() in MUSIC_EXTENSIONS and _FOF_INSTRUMENT_STEM.fullmatch(path.stem) is not None


def frets_on_fire_stems(folder: Path) -> list[Path]:
    """The stems that make up the Frets on Fire song in ``folder``, sorted by name.

    These are the instrument stems (``song``, ``guitar``, ``rhythm``, ``drums``, ``vocals`` …); the song picker's
    ``preview.ogg``, the audience's ``crowd.ogg``, a background ``video.ogg`` and files the game does not know
    are left out.
    """
    return sorted(
        path for path in folder.iterdir() if path.is_file() and not path.is_symlink() and _is_instrument_stem(path)
    )


def mix_song_folder(folder: Path, *, dest: Path, log: Callable[[str], None] = print) -> Path:
    """Mix the stems of the Frets on Fire song in ``folder`` into one Ogg Vorbis file at ``dest``.

    A mix already at ``dest`` and newer than every stem is reused. The file is written under a scratch name and
    renamed into place, so an interrupted run never leaves half a file at ``dest``.

    Parameters
    ----------
    folder : Path
        A song folder, with its stems as listed by :func:`frets_on_fire_stems`.
    dest : Path
        Where the mix goes; its folder is created if need be.
    log : callable
        Receives a line for a person when a mix is made (not when one is reused).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    StemsDoNotMix
        Fewer than two stems, a stem that cannot be decoded, stems at different sample rates or with
        channel counts that do not agree.
    """
    stems = frets_on_fire_stems(folder)
    if len(stems) < 2:
        raise StemsDoNotMix(f"it has {_count(len(stems), 'stem')}, nothing to mix")
    if dest.is_file() and dest.stat().st_mtime >= max(stem.stat().st_mtime for stem in stems):
        return dest
    try:
        rates = {sf.info(str(stem)).samplerate for stem in stems}
    except (sf.SoundFileError, OSError) as error:
        raise StemsDoNotMix(f"a stem cannot be decoded ({error})") from error
    if len(rates) > 1:
        # Frets on Fire plays its stems side by side at one rate, so this is a broken song, not one worth a
        # resampler (and the dependency it would bring); song.ogg alone will have to do.
        raise StemsDoNotMix(f"its stems have different sample rates ({', '.join(map(str, sorted(rates)))} Hz)")
    [rate] = rates
    log(f"Mixing the {_count(len(stems), 'stem')} of {folder.name} ({', '.join(stem.name for stem in stems)})…")
    try:
        signals = [sf.read(str(stem), dtype="float32", always_2d=True)[0] for stem in stems]
    except (sf.SoundFileError, OSError) as error:
        raise StemsDoNotMix(f"a stem cannot be decoded ({error})") from error
    mix = mix_stems(signals, ceiling=_MIX_CEILING)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = dest.with_name(dest.name + ".partial")
    try:
        with sf.SoundFile(
            str(scratch), "w", samplerate=rate, channels=mix.shape[1], format="OGG", subtype="VORBIS"
        ) as sink:
            for start in range(0, len(mix), _VORBIS_WRITE_FRAMES):
                sink.write(mix[start : start + _VORBIS_WRITE_FRAMES])
        scratch.replace(dest)
    finally:
        scratch.unlink(missing_ok=True)
    return dest


def mix_stems(stems: Sequence[np.ndarray], *, ceiling: float = 1.0) -> np.ndarray:
    """Sum stems that play together into one signal, scaled down only if the sum would clip.

    Parameters
    ----------
    stems : sequence of np.ndarray [shape=(n_frames_i, n_channels_i) or (n_frames_i,)]
        Signals at one sample rate, frames by channels as soundfile reads them, all starting together; their
        lengths may differ. A 1-D stem, or one with a single channel, plays in every channel of the mix; the
        others must have the same number of channels.
    ceiling : float > 0
        The highest peak the mix may have; 1.0 is full scale.

    Returns
    -------
    mix : np.ndarray [shape=(max(n_frames_i), n_channels), dtype=float32]
        The sum, shorter stems padded with silence at the end. Where its peak exceeds ``ceiling`` it is scaled
        to peak at ``ceiling``; otherwise it is the plain sum, so the song keeps its loudness. Either way the
        instruments keep their balance.

    Raises
    ------
    StemsDoNotMix
        No stems, a stem with more than two dimensions, or stems whose channel counts do not agree.
    """
    if not stems:
        raise StemsDoNotMix("there are no stems to mix")
    signals = [np.asarray(stem, dtype=np.float32) for stem in stems]
    signals = [signal[:, np.newaxis] if signal.ndim == 1 else signal for signal in signals]
    if any(signal.ndim != 2 for signal in signals):
        raise StemsDoNotMix("a stem is not shaped (frames, channels)")
    channel_counts = {signal.shape[1] for signal in signals} - {1}
    if len(channel_counts) > 1:
        counts = ", ".join(map(str, sorted(channel_counts)))
        raise StemsDoNotMix(f"its stems have different numbers of channels ({counts})")
    n_channels = channel_counts.pop() if channel_counts else 1
    mix = np.zeros((max(signal.shape[0] for signal in signals), n_channels), dtype=np.float32)
    for signal in signals:
        mix[: signal.shape[0]] += signal
    peak = float(np.max(np.abs(mix), initial=0.0))
    if peak > ceiling:
        mix *= ceiling / peak
    return mix


def read_song_ini(path: Path) -> tuple[str | None, str | None]:
    """Title and artist from a Frets on Fire ``song.ini``, cleaned of credits and web addresses.

    Returns
    -------
    (title, artist) : tuple of str or None
        ``name`` and ``artist`` of the ``[song]`` section; None where missing or blank.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # song packs predate UTF-8 everywhere
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None, None
    section = parser["song"] if parser.has_section("song") else {}
    title = section.get("name", "").strip() or None
    artist = _clean_artist(section.get("artist", "")) or None
    return title, artist


def _clean_artist(artist: str) -> str:
    # "Composed and performed by Sectoid", "Muldjord - www.muldjord.com"
    artist = re.sub(r"^(?:(?:composed|performed|written)(?:\s+and\s+\w+)?\s+)?by\s+", "", artist.strip(), flags=re.I)
    artist = re.sub(r"\s*(?:[-–|,]\s*)?(?:https?://|www\.)\S+$", "", artist)
    return artist.strip()


def _read_album_json(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """Titles and authors by file name from a Warzone 2100 ``album.json``."""
    try:
        album = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    titles: dict[str, tuple[str | None, str | None]] = {}
    for track in album.get("tracks", []) if isinstance(album, dict) else []:
        if isinstance(track, dict) and isinstance(track.get("filename"), str):
            title = str(track.get("title") or "").strip() or None
            author = str(track.get("author") or album.get("author") or "").strip() or None
            titles[track["filename"]] = (title, author)
    return titles


def _composer_from_stanza(stanza: CopyrightStanza | None) -> str | None:
    # A stanza naming specific files and a single holder credits that person for them (hyperrogue's
    # "music/hr3-*.ogg: Shawn Parrotte"); a catch-all "*" stanza names the game's authors, not a composer.
    if stanza is None or "*" in stanza.patterns or len(stanza.holders) != 1:
        return None
    return stanza.holders[0]


# Copyright files ---------------------------------------------------------------------------------------------


def parse_copyright(text: str) -> list[CopyrightStanza]:
    """Read a Debian copyright file, machine-readable (DEP-5) or free-form.

    For DEP-5, each ``Files:`` paragraph becomes a stanza with the short name of its ``License:`` field.
    A free-form file becomes one stanza: the licence is recognised from its first well-known wording
    (a Creative Commons name or address, the GNU GPL's "version N ... or any later version", the Expat
    permission notice) and the holders from "Copyright (C) YEARS NAME" lines outside Debian's packaging notes.
    """
    if re.match(r"\s*Format:", text):
        return _parse_dep5(text)
    return [CopyrightStanza(patterns=("*",), licence=_free_form_licence(text), holders=_free_form_holders(text))]


def licence_for(stanzas: Sequence[CopyrightStanza], relative_path: str) -> CopyrightStanza | None:
    """The stanza covering ``relative_path`` (a path inside the unpacked package): the last match, as in DEP-5.

    Copyright files name files by their place in the *source* tree (``base/music/David01.ogg``) while we see
    them where the package installs them (``usr/share/games/ufoai/base/0music.pk3.extracted/music/David01.ogg``),
    so a pattern also matches the end of the path, and may lose its leading folders down to the last two parts.
    """
    found = None
    for stanza in stanzas:
        if any(_pattern_matches(pattern, relative_path) for pattern in stanza.patterns):
            found = stanza
    return found


def _pattern_matches(pattern: str, relative_path: str) -> bool:
    parts = pattern.strip("/").split("/")
    while True:
        tail = "/".join(parts)
        # In DEP-5 "*" matches "/" too, as fnmatch's does.
        if fnmatch.fnmatchcase(relative_path, tail) or fnmatch.fnmatchcase(relative_path, "*/" + tail):
            return True
        if len(parts) <= 2:
            return False
        parts = parts[1:]


def _parse_dep5(text: str) -> list[CopyrightStanza]:
    stanzas = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields = _dep5_fields(paragraph)
        if "files" not in fields:
            continue
        licence_lines = fields.get("license", [""])
        stanzas.append(
            CopyrightStanza(
                patterns=tuple(" ".join(fields["files"]).split()),
                licence=licence_lines[0].strip() or UNKNOWN_LICENCE,
                holders=_unique(_clean_holder(line) for line in fields.get("copyright", [])),
            )
        )
    return stanzas


def _dep5_fields(paragraph: str) -> dict[str, list[str]]:
    """Field name (lower case) to its lines: the text after the colon, then each continuation line."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in paragraph.splitlines():
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t"):
            if current is not None and line.strip() != ".":
                current.append(line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            current = fields.setdefault(name.strip().lower(), [])
            current.append(value.strip())
    return {name: [line for line in lines if line] or [""] for name, lines in fields.items()}


_YEARS = r"\d{4}(?:\s*(?:[-–,/]|and)\s*\d{2,4})*"


def _clean_holder(line: str) -> str:
    holder = re.sub(r"^(?:copyright\s*)?(?:\(c\)|©)?\s*", "", line.strip(), flags=re.I)
    holder = re.sub(rf"^{_YEARS}\s*,?\s*(?:by\s+)?", "", holder)
    holder = re.sub(r"<[^>]*>|\S+@\S+", "", holder)  # e-mail addresses
    holder = re.sub(r"\((?:https?://|www\.)[^)]*\)", "", holder)  # home pages
    holder = re.sub(r"\s+", " ", holder).strip(" ,;")
    return "" if holder.lower() in {"no-copyright", "none", "unknown"} else holder


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


# Wordings that name a licence in free-form copyright files, with the DEP-5 short name they stand for.
_LICENCE_WORDINGS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"creativecommons\.org/licenses/(by(?:-nc)?(?:-sa|-nd)?)/(\d\.\d)", re.I),
        lambda m: f"CC-{m[1].upper()}-{m[2]}",
    ),
    (
        re.compile(r"Attribution[- ]?Share[- ]?Alike\D{0,20}?(\d\.\d)", re.I),
        lambda m: f"CC-BY-SA-{m[1]}",
    ),
    (
        re.compile(
            r"GNU (Lesser |Library )?General Public Licen[cs]e\W{0,3}(?:as published by the Free Software "
            r"Foundation\W{0,3})?(?:either )?version (\d(?:\.\d)?)(?P<later>[^.]{0,80}?later version)?",
            re.I,
        ),
        lambda m: f"{'L' if m[1] else ''}GPL-{m[2]}{'+' if m['later'] else ''}",
    ),
    (
        re.compile(r"Permission is hereby granted, free of charge, to any person obtaining a copy", re.I),
        lambda m: "Expat",
    ),
    (
        re.compile(r"\bGPL\s*v?(\d)(\+| or later)?", re.I),
        lambda m: f"GPL-{m[1]}{'+' if m[2] else ''}",
    ),
)


def _free_form_licence(text: str) -> str:
    flat = re.sub(r"\s+", " ", text)
    found: list[tuple[int, int, str]] = []
    for rank, (wording, short_name) in enumerate(_LICENCE_WORDINGS):
        if match := wording.search(flat):
            found.append((match.start(), rank, short_name(match)))
    # The licence of the work comes first in these files; later ones cover fonts, scripts or the packaging.
    return min(found)[2] if found else UNKNOWN_LICENCE


_NOTICE = re.compile(
    rf"(?:copyright\s*(?:\(c\)|©)?|©)\s*(?P<years>{_YEARS})\s*,?\s*(?:by\s+)?"
    r"(?P<holder>[^<>]+?)\s*(?=<|\(|\bcopyright\b|©|\ball rights\b|\band (?:are|is) licen|\.\s|\.?$)",
    re.I,
)


def _free_form_holders(text: str) -> tuple[str, ...]:
    holders = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        flat = re.sub(r"\s+", " ", paragraph).strip()
        if re.search(r"debian", flat, re.I) and re.search(r"packag", flat, re.I):
            continue  # the packaging's authors are not the music's
        holders.extend(_clean_holder(match["holder"]) for match in _NOTICE.finditer(flat))
    if not holders:
        # Some files only say "Upstream Author: Name <mail>".
        match = re.search(r"^Upstream Authors?:?\s*(.+?)\s*(?:<|$)", text, re.I | re.M)
        if match is None:
            match = re.search(r"^Upstream Authors?:?\s*\n\s+(.+?)\s*(?:<|$)", text, re.I | re.M)
        if match:
            holders.append(_clean_holder(match[1]))
    return _unique(holders)
