"""Pictures of a song's sound: a log-mel spectrogram as a PNG (Django-free, no matplotlib).

The analysis draws the patches it has already computed for the network (``log_mel`` of the
windows ``load_windows`` spread over the song), laid side by side, so the picture costs no second
decode: an overview of how the song's sound changes, not a timeline (a full decode of a 4-minute
MP3 or Ogg Vorbis takes 0.25-0.4 s of one core, more than half the whole analysis budget).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Every 16th colour of matplotlib's "magma" (CC0, by Nathaniel Smith and Stéfan van der Walt):
# dark for quiet, through purple and orange to pale yellow for loud; perceptually uniform, and
# still ordered when printed in grey. ``_MAGMA`` interpolates them to 256 colours.
_MAGMA_ANCHORS = np.array(
    [
        [0.001462, 0.000466, 0.013866],
        [0.039608, 0.031090, 0.133515],
        [0.113094, 0.065492, 0.276784],
        [0.211718, 0.061992, 0.418647],
        [0.316654, 0.071690, 0.485380],
        [0.414709, 0.110431, 0.504662],
        [0.512831, 0.148179, 0.507648],
        [0.613617, 0.181811, 0.498536],
        [0.716387, 0.214982, 0.475290],
        [0.816914, 0.255895, 0.436461],
        [0.904281, 0.319610, 0.388137],
        [0.960949, 0.418323, 0.359630],
        [0.986700, 0.535582, 0.382210],
        [0.996096, 0.653659, 0.446213],
        [0.996898, 0.769591, 0.534892],
        [0.992440, 0.884330, 0.640099],
        [0.987053, 0.991438, 0.749504],
    ]
)
_ANCHOR_POSITIONS = np.append(np.arange(0, 256, 16), 255)
_MAGMA = np.stack(
    [np.interp(np.arange(256), _ANCHOR_POSITIONS, _MAGMA_ANCHORS[:, channel]) for channel in range(3)], axis=1
)
MAGMA = np.round(_MAGMA * 255).astype(np.uint8)
MAGMA.flags.writeable = False

# How much of ``log_mel``'s scale (log10 of power, so 10 dB a unit) the picture spans below
# its loudest part; quieter detail is drawn black.
DYNAMIC_RANGE = 4.0


def mel_image(mel: np.ndarray, *, width: int = 800, height: int = 200) -> bytes:
    """A PNG of a log-mel spectrogram: time to the right, low frequencies at the bottom.

    Colours follow magma (see ``MAGMA``): the loudest 0.5 % of the picture is pale yellow
    (a percentile rather than the maximum, so that one loud hit does not darken the rest) and
    anything ``DYNAMIC_RANGE`` (40 dB) quieter is black. Time is averaged down (or stretched) to
    ``width`` columns, mel bands stretched to ``height`` rows.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_frames, n_mels) or (k, n_frames, n_mels)]
        From ``log_mel``; the windows of a 3-D array are drawn side by side in order.
    width, height : int > 0
        Size of the picture in pixels.

    Returns
    -------
    png : bytes
        An RGB PNG of ``width`` x ``height`` pixels.
    """
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")
    mel = np.asarray(mel, dtype=np.float32)
    mel = mel.reshape(-1, mel.shape[-1])
    if mel.size == 0:
        mel = np.zeros((1, max(mel.shape[-1], 1)), dtype=np.float32)
    top = float(np.nanpercentile(mel, 99.5))
    level = np.clip((np.nan_to_num(mel) - (top - DYNAMIC_RANGE)) / DYNAMIC_RANGE, 0.0, 1.0)
    # Rows are mel bands, highest first, so that low frequencies end at the bottom.
    picture = Image.fromarray(np.ascontiguousarray(level.T[::-1]), mode="F")
    picture = picture.resize((width, picture.height), Image.Resampling.BOX)
    picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    indices = np.clip(np.round(np.asarray(picture) * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # Fastest zlib level: 8.5 ms instead of 19 ms a picture, the same pixels, an 11 % larger file (docs/benchmarks.md).
    Image.fromarray(MAGMA[indices], mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
