"""Mixing the stems of a Frets on Fire song into one file, the only audio the demo catalogue decodes.

A Frets on Fire song is a folder of stems that the game plays together, and no one of them is the song (the
note below says why), so the demo catalogues their mix: an Ogg Vorbis file under ``var/demo/mixed/``, made once
and reused while it is newer than its stems. When the stems do not mix, one of them stands for the song.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from catalog.demo.music_files import MUSIC_EXTENSIONS, _count

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


class StemsDoNotMix(ValueError):
    """A song's stems cannot be mixed into one signal; the message says why in plain words."""


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
