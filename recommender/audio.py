"""Reading audio files: probing what a file holds and decoding it to numpy (Django-free).

All errors about the file's content derive from ``AudioError`` and carry a message a
person can read, because it is shown as-is in import summaries and upload pages.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

# Formats libsndfile decodes; m4a/AAC needs ffmpeg, used when it is installed.
SNDFILE_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
FFMPEG_EXTENSIONS = frozenset({".m4a", ".mp4", ".aac"})
TRACKER_EXTENSIONS = frozenset({".mod", ".xm", ".it", ".s3m", ".mtm", ".669", ".umx"})
AUDIO_EXTENSIONS = SNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS


class AudioError(ValueError):
    """The file cannot be used as audio; ``str(error)`` says why in plain words."""


class UnsupportedFormat(AudioError):
    pass


class CorruptAudio(AudioError):
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
    if suffix in TRACKER_EXTENSIONS:
        raise UnsupportedFormat(f"tracker module ({suffix}): Musrec cannot decode tracker formats")
    if suffix in FFMPEG_EXTENSIONS:
        return _probe_with_ffmpeg(path)
    try:
        info = sf.info(str(path))
    except sf.LibsndfileError as error:
        if suffix not in SNDFILE_EXTENSIONS:
            raise UnsupportedFormat(f"not a supported audio file ({suffix or 'no extension'})") from error
        raise CorruptAudio(f"not readable as {suffix[1:].upper()} audio: the file is damaged or not audio") from error
    except (RuntimeError, OSError) as error:
        raise CorruptAudio(f"not readable as audio ({error})") from error
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


def _probe_with_ffmpeg(path: Path) -> AudioInfo:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UnsupportedFormat(f"{path.suffix.lower()} files need ffmpeg, which is not installed")
    sample_rate = 22050
    samples = _ffmpeg_decode(ffmpeg, path, sample_rate)
    if samples.size == 0:
        raise CorruptAudio("the file holds no audio ffmpeg can decode")
    return AudioInfo(duration=samples.size / sample_rate, sample_rate=sample_rate, channels=1, format="ffmpeg")


def _ffmpeg_decode(ffmpeg: str, path: Path, sample_rate: int) -> np.ndarray:
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"],
        capture_output=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise CorruptAudio("ffmpeg cannot decode this file: it is damaged or not audio")
    return np.frombuffer(result.stdout, dtype=np.float32)
