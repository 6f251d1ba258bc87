"""musicnn's input (Django-free): log-compressed mel spectrograms of decoded audio."""

from __future__ import annotations

import functools

import numpy as np

# musicnn's front end: 16 kHz mono, 512-point STFT every 256 samples, 96 Slaney mel bands,
# and patches of 187 frames (about 3 s).
MODEL_SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187
# The audio one patch covers when its frames are not padded: every frame then sees real audio,
# as it did when musicnn was trained on spectrograms of whole songs.
PATCH_SECONDS = ((PATCH_FRAMES - 1) * HOP_LENGTH + N_FFT) / MODEL_SAMPLE_RATE


def log_mel(
    y: np.ndarray,
    *,
    sample_rate: int = MODEL_SAMPLE_RATE,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    center: bool = True,
) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram, for one signal or a batch of them.

    The same as ``log10(10000 * librosa.feature.melspectrogram(y=y, sr=sample_rate,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels).T + 1)``: a periodic Hann window, the
    power spectrum, librosa's Slaney mel filters. It is computed in float32 throughout; musicnn
    rounded the mel to float16 first, which overflows on loud audio.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Audio at ``sample_rate``; leading axes are a batch, computed in one go.
    sample_rate : int > 0
    n_fft : int > 0
    hop_length : int > 0
    n_mels : int > 0
    center : bool
        Pad ``n_fft // 2`` zeros at each end, as librosa does (since 0.10; musicnn's librosa
        reflected the signal, which changes only the first and last frame). Without padding
        only frames that lie wholly inside ``y`` are computed.

    Returns
    -------
    mel : np.ndarray [shape=(..., n_frames, n_mels), dtype=float32]
        ``n_frames = 1 + n // hop_length`` when centred, else ``1 + (n - n_fft) // hop_length``.
    """
    y = np.asarray(y, dtype=np.float32)
    if center:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)])
    if y.shape[-1] < n_fft:
        return np.zeros((*y.shape[:-1], 0, n_mels), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    spectrum = np.fft.rfft(frames * _hann(n_fft), axis=-1)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    mel = power @ _mel_filters(sample_rate, n_fft, n_mels)
    return np.log10(mel * np.float32(10000) + np.float32(1))


@functools.cache
def _hann(n_fft: int) -> np.ndarray:
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    window.flags.writeable = False
    return window


@functools.cache
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's Slaney mel filter bank, transposed to ``(1 + n_fft // 2, n_mels)`` for ``power @ filters``."""
    import librosa

    filters = np.ascontiguousarray(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).T, dtype=np.float32)
    filters.flags.writeable = False
    return filters
