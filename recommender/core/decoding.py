"""Decoding audio files (Django-free): check that a file is audio, and decode windows of it.

``probe`` checks that a file decodes and says how long it is; ``check_duration`` refuses a file
that is too long before anything decodes it whole; ``load_windows`` decodes a few windows spread
over the track, at the model's rate, by seeking. ``recommender.core.mel`` turns them into the
network's input and ``recommender.core.descriptors`` into what people read (tempo, loudness, energy).

All errors about the file's content derive from ``AudioError`` and carry a message a
person can read, because it is shown as-is in import summaries and upload pages.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from recommender.core.mel import MODEL_SAMPLE_RATE

logger = logging.getLogger(__name__)

# Formats libsndfile decodes; m4a/AAC needs ffmpeg, used when it is installed.
SNDFILE_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
FFMPEG_EXTENSIONS = frozenset({".m4a", ".mp4", ".aac"})
# The one ffmpeg demuxer each of those may be read with (see _ffmpeg_input).
FFMPEG_DEMUXERS = {".m4a": "mov", ".mp4": "mov", ".aac": "aac"}
# Bounds of one ffmpeg or ffprobe run: address space, CPU seconds, wall-clock seconds.
FFMPEG_MEMORY_BYTES = 1024 * 1024 * 1024
FFMPEG_CPU_SECONDS = 120
FFMPEG_TIMEOUT_SECONDS = 180
FFPROBE_TIMEOUT_SECONDS = 10
TRACKER_EXTENSIONS = frozenset({".mod", ".xm", ".it", ".s3m", ".mtm", ".669", ".umx"})
AUDIO_EXTENSIONS = SNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS
# Intros and outros are often silence, applause or a fade: windows skip this share of each end.
EDGE_FRACTION = 0.05
# libsndfile 1.2.2 mis-seeks Ogg Vorbis forward by less than 2 s from the read position: it takes
# a skip path that, once the stream has short blocks (drums do that), returns samples shifted by
# hundreds of frames. Spans closer than this are read through instead; longer seeks bisect and
# are exact, as they are in WAV, FLAC, MP3 and Opus.
READ_THROUGH_SECONDS = 2.5
# soxr's filter disturbs about 5 ms at the edges of what it resamples; decoding this much more
# on each side makes a window identical to the same span of a full decode.
RESAMPLE_MARGIN_SECONDS = 0.05


class AudioError(ValueError):
    """The file cannot be used as audio; ``str(error)`` says why in plain words."""


class UnsupportedFormat(AudioError):
    pass


class CorruptAudio(AudioError):
    pass


class TooLong(AudioError):
    pass


class TooShort(AudioError):
    pass


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int
    format: str


def probe(path: Path) -> AudioInfo:
    """Check that ``path`` decodes as audio and say how long it is.

    Reads short blocks at the start, the middle and the end, because a truncated or
    damaged file often has a valid header and fails only further in.

    Raises
    ------
    UnsupportedFormat
        The file type is not one Musrec can decode.
    CorruptAudio
        The file claims to be audio but cannot be decoded, or holds no samples.
    """
    suffix = path.suffix.lower()
    _refuse_trackers(suffix)
    if suffix in FFMPEG_EXTENSIONS:
        return _probe_with_ffmpeg(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise _unreadable(suffix, error) from error
    if info.frames <= 0 or info.samplerate <= 0:
        raise CorruptAudio("the file holds no audio samples")
    block = min(info.samplerate, info.frames)
    try:
        with sf.SoundFile(str(path)) as handle:
            for start in (0, info.frames // 2, max(info.frames - block, 0)):
                handle.seek(start)
                if handle.read(block, dtype="float32").size == 0 and start == 0:
                    raise CorruptAudio("the file holds no audio samples")
    except sf.LibsndfileError as error:
        raise CorruptAudio("the audio data is damaged or truncated") from error
    except RuntimeError as error:
        raise CorruptAudio(f"the audio data is damaged or truncated ({error})") from error
    return AudioInfo(
        duration=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        format=str(info.format),
    )


def check_duration(info: AudioInfo, *, max_seconds: float | None = None, min_seconds: float = 0.0) -> None:
    """Refuse a file longer than ``max_seconds`` before anything decodes all of it, or shorter than ``min_seconds``.

    A stream of unknown length reports an enormous duration, so it is refused too.

    Raises
    ------
    TooLong
        ``info.duration`` is over ``max_seconds``.
    TooShort
        ``info.duration`` is under ``min_seconds``: too little sound for the analysis to say anything about it.
    """
    if max_seconds is not None and not info.duration <= max_seconds:
        raise TooLong(f"too long: {length_in_words(info.duration)}, the limit is {length_in_words(max_seconds)}")
    if info.duration < min_seconds:
        # Rounded down: 2.96 seconds must not read as the 3 that would have been enough.
        shown = f"{math.floor(info.duration * 10) / 10:.1f}" if info.duration >= 0.1 else f"{info.duration:.2f}"
        raise TooShort(f"too short to analyse: {shown} seconds, and the least is {min_seconds:g} seconds")


def window_starts(
    duration: float,
    *,
    n_windows: int,
    window_seconds: float,
    edge_fraction: float = EDGE_FRACTION,
) -> np.ndarray:
    """Where ``load_windows`` takes its windows from a track of ``duration`` seconds.

    The first and last ``edge_fraction`` of the track are skipped (silence, applause and fades
    live there); the rest is cut into equal parts and a window is centred on each. A track too
    short for ``n_windows`` windows side by side gets as many as fit without overlapping, since a
    window that repeats audio costs network time and tells it nothing new. A track shorter than
    one window, after skipping the ends, gets a single window in its middle, or at its start
    (then zero-padded) when the whole track is shorter than a window.

    Parameters
    ----------
    duration : float >= 0
        Length of the track in seconds.
    n_windows : int > 0
        The most windows wanted.
    window_seconds : float > 0
        Length of each window.
    edge_fraction : float in [0, 0.5)
        Share of the track skipped at each end.

    Returns
    -------
    starts : np.ndarray [shape=(k,), dtype=float64]
        Start of each window in seconds, ascending, ``1 <= k <= n_windows``.
    """
    if n_windows < 1 or window_seconds <= 0 or not 0 <= edge_fraction < 0.5:
        raise ValueError("need n_windows >= 1, window_seconds > 0 and 0 <= edge_fraction < 0.5")
    if duration <= window_seconds:
        return np.zeros(1)
    inner = duration * (1 - 2 * edge_fraction)
    if inner < window_seconds:
        return np.array([(duration - window_seconds) / 2])
    count = min(n_windows, int(inner // window_seconds))
    centres = duration * edge_fraction + inner / count * (np.arange(count) + 0.5)
    return centres - window_seconds / 2


def load_windows(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = MODEL_SAMPLE_RATE,
    n_windows: int,
    window_seconds: float = 3.0,
    info: AudioInfo | None = None,
) -> np.ndarray:
    """Decode windows spread over the whole track, seeking past the audio between them.

    Windows are placed by ``window_starts``. Only their spans (and 50 ms around each, so that
    resampling gives the same samples as a full decode would) are decoded; spans less than
    2.5 s apart are read through rather than sought (see ``READ_THROUGH_SECONDS``), and a file
    that cannot seek is read from the start. m4a/AAC is decoded whole by ffmpeg and then cut.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sample_rate : int > 0
        The rate of the returned samples.
    n_windows : int > 0
        The most windows wanted; a short track gets fewer (see ``window_starts``).
    window_seconds : float > 0
        Length of each window.
    info : AudioInfo or None
        What ``probe`` said about the file. When given, windows are placed by its duration,
        so they match what is stored for the song; otherwise by the file header's length
        (m4a/AAC: by the decoded length).

    Returns
    -------
    windows : np.ndarray [shape=(k, window_samples), dtype=float32]
        Mono windows in time order, ``window_samples = round(window_seconds * sample_rate)``.
        Audio missing at the end of a file (shorter than a window, or than its header claims)
        is zeros.

    Raises
    ------
    UnsupportedFormat, CorruptAudio
        The file cannot be decoded.
    """
    path = Path(path)
    window_samples = round(window_seconds * sample_rate)
    place = functools.partial(window_starts, n_windows=n_windows, window_seconds=window_seconds)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        # Decoded whole (in the worker, never in a web request), but no further than the probed length.
        claimed = (info or _probe_with_ffmpeg(path)).duration
        y = _ffmpeg_decode(_need_ffmpeg(path), path, sample_rate, seconds=claimed + 1.0)
        starts = np.round(place(y.size / sample_rate) * sample_rate).astype(np.int64)
        return _cut_windows(y, 0, starts, window_samples)
    with _open(path) as handle:
        source_rate = handle.samplerate
        duration = info.duration if info is not None else handle.frames / source_rate
        starts = np.round(place(duration) * sample_rate).astype(np.int64)
        windows = np.zeros((starts.size, window_samples), dtype=np.float32)
        for first, stop, members in _plan_reads(starts, window_samples, source_rate, sample_rate, handle.seekable()):
            if handle.tell() != first:
                _seek(handle, first)
            y = resample(_mono(_read(handle, stop - first)), source_rate, sample_rate)
            first_out = first * sample_rate // source_rate
            windows[members] = _cut_windows(y, first_out, starts[members], window_samples)
    return windows


def _refuse_trackers(suffix: str) -> None:
    if suffix in TRACKER_EXTENSIONS:
        raise UnsupportedFormat(f"tracker module ({suffix}): Musrec cannot decode tracker formats")


def _unreadable(suffix: str, error: Exception) -> AudioError:
    if isinstance(error, sf.LibsndfileError):
        if suffix not in SNDFILE_EXTENSIONS:
            return UnsupportedFormat(f"not a supported audio file ({suffix or 'no extension'})")
        return CorruptAudio(f"not readable as {suffix[1:].upper()} audio: the file is damaged or not audio")
    return CorruptAudio(f"not readable as audio ({error})")


def _open(path: Path) -> sf.SoundFile:
    suffix = path.suffix.lower()
    _refuse_trackers(suffix)
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise _unreadable(suffix, error) from error
    if handle.frames <= 0 or handle.samplerate <= 0:
        handle.close()
        raise CorruptAudio("the file holds no audio samples")
    return handle


def _seek(handle: sf.SoundFile, frame: int) -> None:
    try:
        handle.seek(frame)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise CorruptAudio("the audio data is damaged or truncated") from error


def _read(handle: sf.SoundFile, frames: int) -> np.ndarray:
    try:
        return handle.read(max(frames, 0), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise CorruptAudio("the audio data is damaged or truncated") from error


def _mono(samples: np.ndarray) -> np.ndarray:
    if samples.shape[1] == 1:
        return samples[:, 0]
    # A matrix-vector product: numpy's mean over a 2-long axis is ten times slower.
    return samples @ np.full(samples.shape[1], 1 / samples.shape[1], dtype=np.float32)


def resample(y: np.ndarray, source_rate: int, sample_rate: int) -> np.ndarray:
    """``y`` at ``sample_rate`` (soxr's high quality, as ``librosa.load``), float32."""
    if source_rate == sample_rate or y.size == 0:
        return np.ascontiguousarray(y, dtype=np.float32)
    return soxr.resample(y, source_rate, sample_rate).astype(np.float32, copy=False)


def _plan_reads(
    starts: np.ndarray, window_samples: int, source_rate: int, sample_rate: int, seekable: bool
) -> list[tuple[int, int, list[int]]]:
    """Group windows into spans of source frames to decode: ``(first, stop, window indices)``.

    A span starts on a frame where the source and output sample grids meet (every 441 frames
    from 44.1 kHz to 16 kHz), so resampling it yields exactly the samples a full decode would.
    """
    grid = math.gcd(source_rate, sample_rate)
    source_step, output_step = source_rate // grid, sample_rate // grid
    margin = round(RESAMPLE_MARGIN_SECONDS * sample_rate)
    spans: list[tuple[int, int, list[int]]] = []
    for index, start in enumerate(starts.tolist()):
        first = max(0, (start - margin) // output_step) * source_step
        stop = -(-(start + window_samples + margin) // output_step) * source_step
        if spans and (not seekable or first - spans[-1][1] < READ_THROUGH_SECONDS * source_rate):
            previous_first, previous_stop, members = spans[-1]
            spans[-1] = (previous_first, max(previous_stop, stop), [*members, index])
        else:
            spans.append((0 if not seekable else first, stop, [index]))
    return spans


def _cut_windows(y: np.ndarray, first: int, starts: np.ndarray, window_samples: int) -> np.ndarray:
    """Windows of ``y`` (whose sample 0 is output sample ``first``), zero-padded past its end."""
    windows = np.zeros((starts.size, window_samples), dtype=np.float32)
    for row, start in enumerate((starts - first).tolist()):
        piece = y[start : start + window_samples]
        windows[row, : piece.size] = piece
    return windows


def length_in_words(seconds: float) -> str:
    """ "95 seconds", "12 minutes": a length as a limit message gives it."""
    if not math.isfinite(seconds) or seconds > 1e7:
        return "of unknown length"
    return f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} seconds"


def _need_ffmpeg(path: Path, tool: str = "ffmpeg") -> str:
    found = shutil.which(tool)
    if found is None:
        raise UnsupportedFormat(f"{path.suffix.lower()} files need ffmpeg, which is not installed")
    return found


def _ffmpeg_input(path: Path) -> list[str]:
    """The input options that keep ffmpeg to what a music file is: one demuxer, the local file and nothing else.

    Without them a crafted file could make ffmpeg open other protocols (an HLS playlist naming http:// or
    concat: URLs) or another demuxer than its name says; ``file:`` stops a name such as ``pipe:1.m4a`` from
    being read as a protocol.
    """
    demuxer = FFMPEG_DEMUXERS[path.suffix.lower()]
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", f"file:{path.resolve()}"]


def _limited(command: list[str]) -> list[str]:
    """``command`` under bounded memory and CPU time, whatever the file holds.

    util-linux's ``prlimit`` sets the limits in the child; ``preexec_fn`` could do the same but is unsafe in a
    threaded process such as the web server.
    """
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        logger.warning("prlimit (util-linux) is not installed: ffmpeg runs without memory and CPU limits")
        return command
    return [prlimit, f"--as={FFMPEG_MEMORY_BYTES}", f"--cpu={FFMPEG_CPU_SECONDS}", "--", *command]


def _probe_with_ffmpeg(path: Path) -> AudioInfo:
    """What the container says (ffprobe reads headers; it decodes nothing), so this is safe in a web request."""
    ffprobe = _need_ffmpeg(path, "ffprobe")
    try:
        result = subprocess.run(
            _limited([
                ffprobe, "-v", "error", *_ffmpeg_input(path),
                "-select_streams", "a:0",
                "-show_entries", "format=duration:stream=sample_rate,channels",
                "-of", "json",
            ]),
            capture_output=True, check=False, timeout=FFPROBE_TIMEOUT_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise CorruptAudio("ffprobe took too long to read this file: it is damaged or not audio") from None
    try:
        report = json.loads(result.stdout or b"{}")
        stream = report["streams"][0]
        duration = float(report["format"]["duration"])
        sample_rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise CorruptAudio("ffmpeg cannot read this file: it is damaged or not audio") from None
    if result.returncode != 0 or not duration > 0 or sample_rate <= 0 or channels <= 0:
        raise CorruptAudio("ffmpeg cannot read this file: it is damaged or not audio")
    return AudioInfo(duration=duration, sample_rate=sample_rate, channels=channels, format="ffmpeg")


def _ffmpeg_decode(ffmpeg: str, path: Path, sample_rate: int, *, seconds: float) -> np.ndarray:
    """At most ``seconds`` of the file, mono float32 at ``sample_rate``: the header's length bounds the work
    even when the stream goes on past what it claims. Memory and CPU time are capped (``_limited``)."""
    try:
        result = subprocess.run(
            _limited([
                ffmpeg, "-v", "error", "-nostdin", *_ffmpeg_input(path),
                "-t", f"{seconds:.3f}", "-vn", "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "pipe:1",
            ]),
            capture_output=True, check=False, timeout=FFMPEG_TIMEOUT_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise CorruptAudio("ffmpeg took too long to decode this file") from None
    if result.returncode != 0:
        raise CorruptAudio("ffmpeg cannot decode this file: it is damaged or not audio")
    return np.frombuffer(result.stdout, dtype=np.float32)
