"""The audio core: decoding windows by seeking, musicnn's log-mel, and the descriptors people see."""

from __future__ import annotations

import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr

from recommender.core import decoding, descriptors
from recommender.core.decoding import AudioInfo, CorruptAudio, TooLong, TooShort, UnsupportedFormat
from recommender.core.mel import PATCH_SECONDS, log_mel

FORMAT_AND_SUBTYPE = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".opus": ("OGG", "OPUS"),
}
FORMATS = [".wav", ".flac", ".ogg", ".mp3", ".opus"]
SEGMENT_SECONDS = 8.0
SEGMENT_FREQUENCIES = [300.0 + 150.0 * step for step in range(12)]


def write(path: Path, y: np.ndarray, sample_rate: int) -> Path:
    """Write ``y`` [shape=(n,) or (n, channels)] in blocks: one large Vorbis write crashes libsndfile 1.2.2."""
    y = y.reshape(len(y), -1)
    file_format, subtype = FORMAT_AND_SUBTYPE[path.suffix]
    with sf.SoundFile(path, "w", sample_rate, y.shape[1], subtype=subtype, format=file_format) as handle:
        for start in range(0, len(y), 65536):
            handle.write(y[start : start + 65536])
    return path


def stepped_tones(sample_rate: int, *, seed: int = 0) -> np.ndarray:
    """96 s of stereo: a tone stepping to the next of ``SEGMENT_FREQUENCIES`` every 8 s, and noise bursts.

    The bursts make Vorbis switch to short blocks, as drums do; libsndfile's short forward seeks go
    wrong only then.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(SEGMENT_SECONDS * sample_rate)) / sample_rate
    tone = np.concatenate([0.4 * np.sin(2 * np.pi * f * t) for f in SEGMENT_FREQUENCIES])
    noise = 0.01 * rng.standard_normal((tone.size, 2))
    burst = round(0.02 * sample_rate)
    for start in rng.integers(0, tone.size - burst, size=round(tone.size / sample_rate * 3)):
        noise[start : start + burst] += 0.3 * rng.standard_normal((burst, 2)) * np.linspace(1, 0, burst)[:, None]
    return (tone[:, None] * [1.0, 0.8] + noise).astype(np.float32)


def click_track(bpm: float, *, seconds: float = 30.0, sample_rate: int = 16000) -> np.ndarray:
    y = np.zeros(round(seconds * sample_rate), dtype=np.float32)
    t = np.arange(round(0.03 * sample_rate)) / sample_rate
    click = (0.5 * np.sin(2 * np.pi * 1000 * t) * np.exp(-150 * t)).astype(np.float32)
    for beat in np.arange(0.0, seconds, 60.0 / bpm):
        start = round(beat * sample_rate)
        y[start : start + click.size] += click[: y.size - start]
    return y


def full_decode(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """The whole file decoded in one read and resampled in one go: what seeked windows must match."""
    y, source_rate = sf.read(path, dtype="float32", always_2d=True)
    return soxr.resample(y.mean(axis=1), source_rate, sample_rate).astype(np.float32)


def dominant_frequency(y: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * sample_rate / y.size)


@pytest.fixture(scope="module", params=FORMATS)
def stepped_file(request, tmp_path_factory) -> Path:
    sample_rate = 48000 if request.param == ".opus" else 44100
    folder = tmp_path_factory.mktemp("stepped")
    return write(folder / f"steps{request.param}", stepped_tones(sample_rate), sample_rate)


@pytest.mark.slow
def test_windows_come_from_across_the_whole_track(stepped_file):
    windows = decoding.load_windows(stepped_file, n_windows=8)
    starts = decoding.window_starts(96.0, n_windows=8, window_seconds=3.0)
    assert windows.shape == (8, 48000)
    assert windows.dtype == np.float32
    segments = []
    for window, start in zip(windows, starts, strict=True):
        middle = window[22000:26000]  # 0.25 s around the window's centre
        heard = dominant_frequency(middle, 16000)
        centre = start + 1.5
        allowed = {int((centre - 0.2) // SEGMENT_SECONDS), int((centre + 0.2) // SEGMENT_SECONDS)}
        segment = int(np.argmin(np.abs(np.array(SEGMENT_FREQUENCIES) - heard)))
        assert segment in allowed, f"window at {start:.1f} s heard {heard:.0f} Hz"
        segments.append(segment)
    assert segments[0] <= 1
    assert segments[-1] >= len(SEGMENT_FREQUENCIES) - 2
    assert segments == sorted(segments)


@pytest.mark.parametrize("n_windows", [4, 24])
def test_seeked_windows_match_the_same_spans_of_a_full_decode(stepped_file, n_windows):
    # 24 windows of 3 s in 96 s are 0.6 s apart: read through, which dodges libsndfile's short Vorbis seeks.
    full = full_decode(stepped_file)
    windows = decoding.load_windows(stepped_file, n_windows=n_windows)
    starts = np.round(decoding.window_starts(full.size / 16000, n_windows=n_windows, window_seconds=3.0) * 16000)
    expected = np.stack([full[int(start) : int(start) + 48000] for start in starts])
    assert windows.shape == expected.shape
    np.testing.assert_allclose(windows, expected, atol=1e-4)


def test_windows_are_placed_by_the_duration_probe_gave(stepped_file):
    info = decoding.probe(stepped_file)
    windows = decoding.load_windows(stepped_file, n_windows=5, window_seconds=2.0, info=info)
    assert windows.shape == (5, 32000)


@pytest.mark.parametrize(
    ("duration", "n_windows", "expected"),
    [(240.0, 16, 16), (96.0, 24, 24), (20.0, 8, 6), (4.0, 8, 1), (3.1, 8, 1), (2.0, 8, 1)],
)
def test_window_starts_skip_the_ends_and_never_overlap(duration, n_windows, expected):
    starts = decoding.window_starts(duration, n_windows=n_windows, window_seconds=3.0)
    assert starts.size == expected
    assert np.all(np.diff(starts) >= 3.0 - 1e-9)
    if duration > 3.0 / 0.9:
        assert starts[0] >= 0.05 * duration - 1e-9
        assert starts[-1] + 3.0 <= 0.95 * duration + 1e-9
    assert starts[0] >= 0.0


def test_window_starts_are_spread_evenly():
    starts = decoding.window_starts(200.0, n_windows=10, window_seconds=3.0)
    np.testing.assert_allclose(np.diff(starts), 18.0)
    np.testing.assert_allclose(starts[0] + 1.5, 10.0 + 9.0)


def test_a_track_shorter_than_a_window_is_zero_padded(tmp_path):
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32)
    path = write(tmp_path / "short.wav", tone, 22050)
    windows = decoding.load_windows(path, n_windows=8)
    assert windows.shape == (1, 48000)
    assert np.abs(windows[0, 1000:15000]).max() > 0.4
    assert not windows[0, 16100:].any()


@pytest.mark.parametrize("source_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("sample_rate", [16000, 8000])
def test_windows_are_resampled_to_the_requested_rate(tmp_path, source_rate, sample_rate):
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(5 * source_rate) / source_rate)
    path = write(tmp_path / "tone.flac", tone.astype(np.float32), source_rate)
    windows = decoding.load_windows(path, sample_rate=sample_rate, n_windows=1, window_seconds=4.0)
    assert windows.dtype == np.float32
    assert windows.shape == (1, 4 * sample_rate)
    assert dominant_frequency(windows[0], sample_rate) == pytest.approx(1000, abs=1)


def test_windows_mix_channels_to_mono(tmp_path):
    rng = np.random.default_rng(3)
    stereo = (0.1 * rng.standard_normal((16000, 2))).astype(np.float32)
    path = write(tmp_path / "stereo.wav", stereo, 16000)
    windows = decoding.load_windows(path, n_windows=1, window_seconds=1.0)
    np.testing.assert_allclose(windows[0], stereo.mean(axis=1), atol=1e-4)


def test_check_duration_refuses_enormous_and_endless_files():
    decoding.check_duration(AudioInfo(duration=300.0, sample_rate=44100, channels=2, format="FLAC"), max_seconds=1200)
    with pytest.raises(TooLong, match="too long: 25 minutes, the limit is 20 minutes"):
        decoding.check_duration(
            AudioInfo(duration=1500.0, sample_rate=44100, channels=2, format="FLAC"), max_seconds=1200
        )
    with pytest.raises(TooLong, match="of unknown length"):
        decoding.check_duration(
            AudioInfo(duration=2.0**62, sample_rate=44100, channels=2, format="MP3"), max_seconds=1200
        )


@pytest.mark.parametrize(
    ("duration", "shown"), [(0.2, "0.2"), (2.96, "2.9"), (0.04, "0.04")], ids=["a-click", "just-under", "a-blip"]
)
def test_check_duration_refuses_a_file_too_short_to_analyse_naming_the_least(duration, shown):
    decoding.check_duration(AudioInfo(duration=3.0, sample_rate=44100, channels=1, format="WAV"), min_seconds=3)

    with pytest.raises(TooShort, match=f"too short to analyse: {re.escape(shown)} seconds, and the least is 3 seconds"):
        decoding.check_duration(
            AudioInfo(duration=duration, sample_rate=44100, channels=1, format="WAV"), min_seconds=3
        )


@pytest.mark.parametrize("loader", [decoding.probe, lambda path: decoding.load_windows(path, n_windows=4)])
def test_a_damaged_file_is_refused_in_plain_words(tmp_path, loader):
    path = tmp_path / "notes.flac"
    path.write_bytes(b"These are my notes, not music.\n" * 50)
    with pytest.raises(CorruptAudio, match="not readable as FLAC audio: the file is damaged or not audio"):
        loader(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(CorruptAudio, match="the file holds no audio samples"):
        decoding.probe(path)
    with pytest.raises(CorruptAudio, match="the file holds no audio samples"):
        decoding.load_windows(path, n_windows=4)


def test_tracker_modules_and_unknown_types_are_unsupported(tmp_path):
    (tmp_path / "song.xm").write_bytes(b"Extended Module: " + bytes(200))
    (tmp_path / "song.txt").write_bytes(b"hello")
    with pytest.raises(UnsupportedFormat, match="tracker module"):
        decoding.probe(tmp_path / "song.xm")
    with pytest.raises(UnsupportedFormat, match="not a supported audio file"):
        decoding.load_windows(tmp_path / "song.txt", n_windows=4)


def test_m4a_without_ffmpeg_is_unsupported(tmp_path, monkeypatch):
    monkeypatch.setattr(decoding.shutil, "which", lambda name: None)
    (tmp_path / "song.m4a").write_bytes(bytes(100))
    with pytest.raises(UnsupportedFormat, match="need ffmpeg"):
        decoding.probe(tmp_path / "song.m4a")
    with pytest.raises(UnsupportedFormat, match="need ffmpeg"):
        decoding.load_windows(tmp_path / "song.m4a", n_windows=4)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("samples", [48000, 16000, 1000])
def test_log_mel_equals_librosas_melspectrogram(seed, samples):
    rng = np.random.default_rng(seed)
    y = (0.2 * rng.standard_normal(samples)).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96)
    expected = np.log10(10000 * mel.T + 1)
    result = log_mel(y)
    assert result.dtype == np.float32
    assert result.shape == (1 + samples // 256, 96)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)


def test_log_mel_of_a_batch_equals_each_row():
    rng = np.random.default_rng(2)
    batch = (0.2 * rng.standard_normal((3, 20000))).astype(np.float32)
    result = log_mel(batch)
    assert result.shape == (3, 79, 96)
    for row, y in zip(result, batch, strict=True):
        np.testing.assert_allclose(row, log_mel(y), rtol=1e-5, atol=1e-5)


def test_uncentred_log_mel_gives_the_frames_a_whole_song_would():
    rng = np.random.default_rng(4)
    song = (0.2 * rng.standard_normal(100000)).astype(np.float32)
    start = 256 * 9  # centred frame 10 starts here
    window = song[start : start + round(PATCH_SECONDS * 16000)]
    result = log_mel(window, center=False)
    assert result.shape == (187, 96)
    np.testing.assert_allclose(result, log_mel(song)[10:197], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("gain", [1.0, 1000.0])
def test_loud_clipped_input_gives_finite_float32_values(gain):
    t = np.arange(48000) / 16000
    square = np.sign(np.sin(2 * np.pi * 100 * t)).astype(np.float32) * gain
    mel = log_mel(square)
    assert mel.dtype == np.float32
    assert np.isfinite(mel).all()
    # float16 would have overflowed here: 10000 times the loudest band is far above 65504.
    assert mel.max() > np.log10(65504.0)


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_tempo_of_a_click_track(bpm):
    y = click_track(bpm)
    assert descriptors.estimate_tempo(y, sample_rate=16000) == pytest.approx(bpm, abs=2)
    windows = np.stack([y[start : start + 48128] for start in range(0, 8 * 56000, 56000)])
    assert descriptors.estimate_tempo(windows, sample_rate=16000) == pytest.approx(bpm, abs=2)
    assert descriptors.describe(y, sample_rate=16000).tempo_bpm == pytest.approx(bpm, abs=2)
    assert descriptors.describe(windows, sample_rate=16000).tempo_bpm == pytest.approx(bpm, abs=2)


def test_tempo_works_at_other_sample_rates():
    assert descriptors.estimate_tempo(click_track(120.0, sample_rate=44100), sample_rate=44100) == pytest.approx(
        120, abs=2
    )


def test_silence_is_detected_and_has_no_tempo():
    silence = np.zeros(30 * 16000, dtype=np.float32)
    assert descriptors.is_silent(silence)
    assert descriptors.estimate_tempo(silence, sample_rate=16000) is None
    assert descriptors.describe(silence, sample_rate=16000) == descriptors.Descriptors(
        tempo_bpm=None, loudness_db=-70.0, energy=0.0
    )


def test_faint_hiss_is_silent_but_quiet_music_is_not():
    rng = np.random.default_rng(5)
    hiss = (10 ** (-75 / 20) * rng.standard_normal(16000 * 5)).astype(np.float32)
    assert descriptors.is_silent(hiss)
    quiet = click_track(100.0, seconds=5.0) * 10 ** (-30 / 20)
    assert not descriptors.is_silent(quiet)
    assert not descriptors.is_silent(np.stack([np.zeros(16000, np.float32), quiet[:16000]]))


@pytest.mark.parametrize(
    "signal",
    [
        lambda t: 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 331 * t),
        lambda t: 0.1 * np.random.default_rng(6).standard_normal(t.size),
    ],
    ids=["drone", "noise"],
)
def test_audio_without_a_pulse_has_no_tempo(signal):
    y = signal(np.arange(30 * 16000) / 16000).astype(np.float32)
    assert descriptors.estimate_tempo(y, sample_rate=16000) is None


@pytest.mark.parametrize(("amplitude", "lufs"), [(1.0, 0.0), (0.1, -20.0)])
def test_loudness_of_a_1_khz_sine(amplitude, lufs):
    y = (amplitude * np.sin(2 * np.pi * 997 * np.arange(10 * 16000) / 16000)).astype(np.float32)
    assert descriptors.loudness(y, sample_rate=16000) == pytest.approx(lufs, abs=0.2)


def test_loudness_ignores_silent_stretches():
    tone = (0.1 * np.sin(2 * np.pi * 997 * np.arange(10 * 16000) / 16000)).astype(np.float32)
    with_gap = np.concatenate([tone, np.zeros(20 * 16000, np.float32)])
    assert descriptors.loudness(with_gap, sample_rate=16000) == pytest.approx(
        descriptors.loudness(tone, sample_rate=16000), abs=0.1
    )


def test_loud_busy_audio_has_more_energy_than_a_quiet_drone():
    t = np.arange(30 * 16000) / 16000
    drone = (0.03 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    rng = np.random.default_rng(7)
    busy = click_track(160.0) * 1.5 + (0.05 * rng.standard_normal(t.size)).astype(np.float32)
    calm = descriptors.describe(drone, sample_rate=16000)
    lively = descriptors.describe(busy, sample_rate=16000)
    assert 0.0 <= calm.energy < 0.3
    assert 0.5 < lively.energy <= 1.0
    assert lively.loudness_db > calm.loudness_db
