"""Fetching the demo's Debian packages: download, unpack, and extract the music kept in ``.pk3`` archives.

``apt-get download`` needs no root; as root we may also refresh stale package lists with ``apt-get update``.
apt runs with its messages in English so that we can tell a package it does not know (skipped) from a broken
network or missing package lists (:class:`DemoUnavailable`, saying what to do). Downloads, unpacked trees and
extracted files are written under scratch names and moved into place, so an interrupted run never passes for a
finished one and the next run picks up where it stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from catalog.demo.music_files import CANDIDATE_EXTENSIONS, _count, is_sound_effect

IMPORT_HINT = "or import your own music with `manage.py import_music PATH`"

_APT_LISTS_DIR = Path("/var/lib/apt/lists")
_UNPACKED_MARKER = ".unpacked-from"


class DemoUnavailable(Exception):
    """The demo catalogue cannot be fetched on this machine; the message says why in plain words."""


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
