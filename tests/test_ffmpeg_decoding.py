"""m4a/AAC through ffmpeg: headers read by ffprobe (nothing decoded in a web request), decoding bounded,
one demuxer and the local file only. Runs where ffmpeg is installed (`./musrec test` installs it as root)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from recommender.core import decoding
from recommender.core.decoding import AudioInfo, CorruptAudio, TooLong

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def encode(path: Path, source: str, *, seconds: float, rate: int = 22050, bitrate: str = "64k") -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}:r={rate}" if "anull" in source else source,
         "-t", str(seconds), "-ac", "1", "-ar", str(rate), "-c:a", "aac", "-b:a", bitrate, str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def tone_m4a(tmp_path_factory) -> Path:
    return encode(tmp_path_factory.mktemp("m4a") / "tone.m4a", "sine=frequency=440:sample_rate=22050", seconds=12)


def test_probe_reads_the_length_from_the_header(tone_m4a):
    info = decoding.probe(tone_m4a)

    assert info.duration == pytest.approx(12, abs=0.2)
    assert (info.sample_rate, info.channels) == (22050, 1)


def test_windows_of_an_m4a_are_its_audio(tone_m4a):
    windows = decoding.load_windows(tone_m4a, n_windows=3, info=decoding.probe(tone_m4a))

    assert windows.shape == (3, 48000)
    spectrum = np.abs(np.fft.rfft(windows[1]))
    assert np.argmax(spectrum) * 16000 / 48000 == pytest.approx(440, abs=2)


def test_decoding_stops_at_the_length_the_header_claimed(tone_m4a, monkeypatch):
    seen: list[float] = []
    real = decoding._ffmpeg_decode
    monkeypatch.setattr(
        decoding, "_ffmpeg_decode", lambda *a, seconds, **kw: seen.append(seconds) or real(*a, seconds=seconds, **kw)
    )

    decoding.load_windows(tone_m4a, n_windows=2, info=AudioInfo(duration=4.0, sample_rate=22050, channels=1, format=""))

    assert seen == [5.0]


def test_a_very_long_file_is_refused_without_being_decoded(tmp_path, monkeypatch):
    long_file = encode(tmp_path / "long.m4a", "anullsrc=channel_layout=mono", seconds=1500, rate=8000, bitrate="8k")
    monkeypatch.setattr(decoding, "_ffmpeg_decode", lambda *a, **kw: pytest.fail("probing must decode nothing"))

    started = time.monotonic()
    info = decoding.probe(long_file)
    elapsed = time.monotonic() - started

    assert info.duration == pytest.approx(1500, abs=2)
    with pytest.raises(TooLong, match="25 minutes"):
        decoding.check_duration(info, max_seconds=1200)
    # A decode of 25 minutes takes seconds; reading headers, a fraction of one (noted, not a timing test).
    print(f"probe of 25 minutes of AAC: {elapsed:.3f} s")


@pytest.mark.parametrize(
    "content",
    [
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/secret.ts\n#EXT-X-ENDLIST\n",
        b"ffconcat version 1.0\nfile /etc/passwd\n",
        b"These are my notes, not music.\n" * 100,
    ],
    ids=["hls-playlist", "concat-list", "text"],
)
def test_a_file_that_is_not_an_mp4_container_is_refused_and_opens_nothing_else(tmp_path, content):
    path = tmp_path / "song.m4a"
    path.write_bytes(content)

    with pytest.raises(CorruptAudio, match="ffmpeg cannot read this file"):
        decoding.probe(path)


def test_only_the_demuxer_of_the_name_reads_the_file(tmp_path):
    """Pinned demuxer: a file named .m4a is read as MP4 or not at all, never as whatever ffmpeg guesses
    (an HLS or concat playlist, an image sequence...). A real WAV under that name is refused."""
    wav = tmp_path / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", str(wav)], check=True
    )
    disguised = tmp_path / "song.m4a"
    shutil.copy(wav, disguised)

    with pytest.raises(CorruptAudio, match="ffmpeg cannot read this file"):
        decoding.probe(disguised)


def test_a_name_that_looks_like_a_protocol_is_still_a_local_file(tmp_path, tone_m4a):
    odd = tmp_path / "pipe:0.m4a"
    shutil.copy(tone_m4a, odd)

    assert decoding.probe(odd).duration == pytest.approx(12, abs=0.2)
