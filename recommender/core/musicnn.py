"""The musicnn tagging network (Pons & Serra, 2019) rebuilt in native Keras 3 (Django-free).

This is a layer-for-layer port of ``build_musicnn`` in musicnn 0.1.0's ``models.py``
(ISC licence, see ``recommender/core/weights/LICENSE-musicnn.txt``), so that the trained
MSD and MTT checkpoints, converted once by ``scripts/convert_musicnn.py``, give the
same numbers without TensorFlow 1 or tf-keras. The converter pairs the checkpoint's
variables with the layer names below; the ``.weights.h5`` files it writes then pair weights
with layers by the order the layers are created, so a change of that order needs the
weights converted again (``tests/test_tagger.py`` notices).

Shapes for a batch of ``n`` patches of ``T`` frames (``T = 187`` for 3 s):

- front end: batch norm on the log-mel input, then two "timbral" convolutions
  (7 frames × 38 or 67 mel bands, 204 filters) and three "temporal" ones
  (128, 64 or 32 frames × 1 band, 51 filters), each followed by ReLU, batch norm
  and a max over frequency: 204 + 204 + 3 × 51 = 561 features per frame;
- mid end: three 7-frame convolutions across those 561 features (64 filters),
  the second and third with residual connections; the front-end and the three
  mid-end outputs are concatenated (dense connections): 561 + 3 × 64 = 753 per frame;
- back end: max and mean over time (``max_pool``, ``mean_pool``: ``(n, 753)``),
  interleaved as musicnn does (max₀, mean₀, max₁, mean₁, …), batch norm, dropout,
  a 200-unit ReLU dense layer and batch norm (``penultimate``: ``(n, 200)``),
  dropout and a 50-unit dense layer with a sigmoid (``taggram``: ``(n, 50)``).
"""

from __future__ import annotations

import keras
from keras import layers

N_MELS = 96
PATCH_FRAMES = 187
TIMBRAL_FILTERS = int(1.6 * 128)
TEMPORAL_FILTERS = int(1.6 * 32)
# musicnn's timbral filters span these fractions of the mel bands (int() truncates: 38 and 67 of 96).
TIMBRAL_EXTENTS = {"74": 0.4, "77": 0.7}
TEMPORAL_FRAMES = (128, 64, 32)
MIDEND_KERNEL = 7
# TensorFlow 1's tf.layers.batch_normalization default; Keras's is the same, stated to make the match explicit.
BATCH_NORM_EPSILON = 1e-3


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(axis=-1, epsilon=BATCH_NORM_EPSILON, name=name)


def _max_over_frequency(x: keras.KerasTensor, *, name: str) -> keras.KerasTensor:
    """Max over the whole frequency axis: ``(n, T, F, C)`` -> ``(n, T, C)``."""
    bands, channels = x.shape[2], x.shape[3]
    pooled = layers.MaxPooling2D(pool_size=(1, bands), name=f"{name}_pool")(x)
    return layers.Reshape((-1, channels), name=f"{name}_squeeze")(pooled)


def build_musicnn(
    *,
    num_tags: int = 50,
    patch_frames: int = PATCH_FRAMES,
    n_mels: int = N_MELS,
    midend_filters: int = 64,
    backend_units: int = 200,
) -> keras.Model:
    """Build the musicnn network, untrained.

    Parameters
    ----------
    num_tags : int
        Width of the output layer (50 for both the MSD and the MTT models).
    patch_frames : int
        Frames per input patch; musicnn was trained on 187 (3 s at hop 256 and 16 kHz).
    n_mels : int
        Mel bands per frame; the trained models need 96.
    midend_filters : int
        Filters of each mid-end convolution (64; 512 in musicnn's unreleased "big" model).
    backend_units : int
        Units of the penultimate dense layer (200; 500 in the "big" model).

    Returns
    -------
    model : keras.Model
        Input ``[shape=(n, patch_frames, n_mels)]`` float32 log-mel patches,
        ``log10(10000 * mel_power + 1)``. Outputs a dict:
        ``taggram`` ``[shape=(n, num_tags)]`` sigmoid tag scores,
        ``penultimate`` ``[shape=(n, backend_units)]``,
        ``max_pool`` and ``mean_pool`` ``[shape=(n, 561 + 3 * midend_filters)]``.
        Dropout is active only when called with ``training=True``, and batch norm
        uses its moving statistics otherwise, as musicnn does with ``is_training=False``.
    """
    log_mel = keras.Input(shape=(patch_frames, n_mels), name="log_mel")
    image = layers.Reshape((patch_frames, n_mels, 1), name="add_channel")(log_mel)
    normalized = _batch_norm("input_bn")(image)

    front_end = []
    # musicnn pads time only, by hand, for a "same" output length, and lets the frequency axis shrink ("valid").
    padded = layers.ZeroPadding2D(padding=((3, 3), (0, 0)), name="timbral_pad")(normalized)
    for key, extent in TIMBRAL_EXTENTS.items():
        bands = int(extent * n_mels)
        conv = layers.Conv2D(
            TIMBRAL_FILTERS, (7, bands), padding="valid", activation="relu", name=f"timbral_{key}_conv"
        )
        x = _batch_norm(f"timbral_{key}_bn")(conv(padded))
        front_end.append(_max_over_frequency(x, name=f"timbral_{key}"))
    for frames in TEMPORAL_FRAMES:
        # TensorFlow's "same" pads an even kernel one frame more at the end than at the start, as TF 1 did.
        conv = layers.Conv2D(
            TEMPORAL_FILTERS, (frames, 1), padding="same", activation="relu", name=f"temporal_{frames}_conv"
        )
        x = _batch_norm(f"temporal_{frames}_bn")(conv(normalized))
        front_end.append(_max_over_frequency(x, name=f"temporal_{frames}"))
    front_end_features = layers.Concatenate(axis=-1, name="front_end")(front_end)

    # musicnn writes these as 2-D convolutions whose kernel spans the whole feature axis, with that axis
    # moved to the "height" position; a 1-D convolution over the features as channels is the same operation.
    mid_end = [front_end_features]
    x = front_end_features
    for i in (1, 2, 3):
        padded = layers.ZeroPadding1D(padding=MIDEND_KERNEL // 2, name=f"cnn{i}_pad")(x)
        conv = layers.Conv1D(midend_filters, MIDEND_KERNEL, padding="valid", activation="relu", name=f"cnn{i}_conv")
        y = _batch_norm(f"cnn{i}_bn")(conv(padded))
        x = y if i == 1 else layers.Add(name=f"cnn{i}_residual")([y, x])
        mid_end.append(x)
    features = layers.Concatenate(axis=-1, name="mid_end")(mid_end)

    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(features)
    width = features.shape[-1]
    # musicnn stacks the two pools on a new last axis and flattens, so the trained weights expect them interleaved.
    pooled = layers.Concatenate(axis=-1, name="pools")(
        [
            layers.Reshape((width, 1), name="max_pool_column")(max_pool),
            layers.Reshape((width, 1), name="mean_pool_column")(mean_pool),
        ]
    )
    x = layers.Flatten(name="pools_interleaved")(pooled)
    x = _batch_norm("pools_bn")(x)
    x = layers.Dropout(0.5, name="pools_dropout")(x)
    x = layers.Dense(backend_units, activation="relu", name="penultimate_dense")(x)
    penultimate = _batch_norm("penultimate_bn")(x)
    x = layers.Dropout(0.5, name="penultimate_dropout")(penultimate)
    logits = layers.Dense(num_tags, name="tags_dense")(x)
    taggram = layers.Activation("sigmoid", name="taggram")(logits)

    outputs = {"taggram": taggram, "penultimate": penultimate, "max_pool": max_pool, "mean_pool": mean_pool}
    return keras.Model(inputs=log_mel, outputs=outputs, name="musicnn")
