"""The demo catalogue: freely licensed game soundtracks fetched from Debian's archive.

Debian packages the music of several free games, each with a copyright file that says who made it and under
which licence. We download those packages with ``apt-get download`` (no root needed), unpack them with
``dpkg -x`` under ``var/demo/`` and list the music files with their licence, attribution and title hints.
The only audio decoded here is that of Frets on Fire songs, whose stems are mixed into one file under
``var/demo/mixed/``; otherwise the importer decides what is long enough and readable.

Each step has its module: :mod:`~catalog.demo.packages` downloads and unpacks, :mod:`~catalog.demo.tracks`
finds the music in an unpacked package, :mod:`~catalog.demo.stems` mixes Frets on Fire songs,
:mod:`~catalog.demo.copyright` reads Debian copyright files and :mod:`~catalog.demo.music_files` says which
files are music. :func:`fetch_demo_tracks` runs them in turn.

This package imports nothing from Django, so it can be tried from a shell or a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from catalog.demo.music_files import _count
from catalog.demo.packages import DemoUnavailable, _is_unpacked, download_packages, extract_pk3_music, unpack_package
from catalog.demo.tracks import DemoTrack, find_tracks

__all__ = ["ALBUMS", "DEMO_PACKAGES", "DemoTrack", "DemoUnavailable", "fetch_demo_tracks"]

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
