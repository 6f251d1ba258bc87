"""musicnn rewritten to skip the work its trained weights make pointless (Django-free).

``FastMusicnn(network)`` reads the weights of a loaded Keras port (``recommender.core.musicnn``)
and computes the same four outputs from the same input, 3 to 9 times faster on a CPU. It is
exact: nothing is retrained or quantised, every rewrite below is an identity of the network's
arithmetic, and the one approximation (dead filters, 1.) is bounded by ``DEAD_FILTER_BOUND``.
``tests/test_tagger.py`` holds it to the port within float32 round-off.

1. **Dead filters.** Training left most front-end filters with a kernel of ~1e-30 or a batch-norm
   scale of ~1e-10 (MSD: 497 of 561; MTT: 305). Such a filter outputs the constant
   ``BN(relu(bias))`` for every input, so only the live filters are computed and the dead ones'
   constants are put back where they are needed: in the max and mean pools, and in the first
   mid-end convolution, where they add a fixed ``(T, 64)`` map (the same in every frame but the 3
   at each end, which see the zero padding).
2. **Max over frequency first.** Each front-end filter is followed by ReLU, batch norm and a
   max over frequency. ReLU and batch norm are monotone per channel (batch norm decreasing where
   its scale ``gamma / sqrt(var + eps)`` is negative), so the max of their output is their output
   at the max of the convolution (at the min where the scale is negative, got as the max of the
   negated filter). They then run on ``(n, T, C)`` instead of ``(n, T, F, C)``.
3. **Small convolutions.** The live filters of a convolution are computed in groups of at most
   ``FILTERS_PER_CONV``, which oneDNN runs faster per filter than one large group.

The input batch norm is left as it is: it costs 18,000 multiply-adds a patch against 200 to 630
million in the convolutions, and folding it into them would need the input padded with
``-shift / scale`` instead of zeros before each one. Measurements: ``docs/benchmarks.md``,
"Fast musicnn (issue 10)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from recommender.core.musicnn import BATCH_NORM_EPSILON, MIDEND_KERNEL, TEMPORAL_FRAMES, TIMBRAL_EXTENTS

if TYPE_CHECKING:
    import keras

# The log-mel values the bound on dead filters assumes: log10(10000 * mel + 1) is 0 for silence and
# below 7.4 for any signal within ±1 (a Slaney mel band of a 512-point Hann-windowed spectrum is at
# most 2,100 in power).
LOG_MEL_RANGE = (0.0, 8.0)
# A front-end filter is dead when its output can move less than this from BN(relu(bias)) for any log-mel
# in LOG_MEL_RANGE: |BN scale| × Σ|kernel| × the largest |normalised input| < DEAD_FILTER_BOUND. MSD's
# filters have a gap from 1e-8 to 0.04, so any bound in it finds the same 64 of 561 alive; MTT's are spread
# out, and 1e-4 (256 alive) is the largest at which every output, on music, noise and loud input, stays as
# close to a float64 evaluation of the network as the float32 port itself is; at 3e-4 the mean pool strays
# twice as far. (Computed: 112 and 288 filters, see _filters_to_compute.)
DEAD_FILTER_BOUND = 1e-4
# The live filters of a convolution are computed in groups of at most this many: oneDNN 3 (TensorFlow 2.21) on
# this AVX-512 CPU takes 1.5-1.7 times longer per filter from 96 filters on (timbral 7×38: 2.9 ms a patch for 94
# filters, 4.6 ms for 96), and more, smaller convolutions cost only TensorFlow's per-operation overhead.
FILTERS_PER_CONV = 64
TIMBRAL_PADDING = [[0, 0], [MIDEND_KERNEL // 2] * 2, [0, 0], [0, 0]]


def batch_norm_affine(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    """A batch-norm layer at inference as ``x * scale + shift``, computed as TensorFlow does it."""
    gamma, beta, mean, variance = (np.asarray(w, np.float32) for w in layer.get_weights())
    scale = gamma / np.sqrt(variance + np.float32(BATCH_NORM_EPSILON))
    return scale, beta - mean * scale


@dataclass(frozen=True)
class _FrontEndConv:
    """Some computed filters of one front-end convolution, each signed so that the max over frequency is wanted."""

    kernel: tf.Tensor  # [shape=(frames, bands, 1, filters)]
    padding: str | list[list[int]]
    sign: tf.Tensor  # [shape=(filters,)]: -1 where the batch-norm scale is negative, else 1
    bias: tf.Tensor
    scale: tf.Tensor
    shift: tf.Tensor

    def __call__(self, image: tf.Tensor) -> tf.Tensor:
        """``(n, T, F, 1)`` normalised log-mel -> ``(n, T, filters)``: conv, ReLU, batch norm, max over frequency."""
        convolved = tf.nn.conv2d(image, self.kernel, strides=1, padding=self.padding)
        extreme = self.sign * tf.reduce_max(convolved, axis=2)
        return tf.nn.relu(extreme + self.bias) * self.scale + self.shift


@dataclass(frozen=True)
class _MidEndConv:
    """One mid-end convolution with its ReLU and batch norm."""

    kernel: tf.Tensor  # [shape=(7, channels in, 64)]
    bias: tf.Tensor  # [shape=(64,)], or [shape=(T, 64)] for the first, with the dead filters' share in it
    scale: tf.Tensor
    shift: tf.Tensor

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """``(n, T, channels in)`` -> ``(n, T, 64)``: conv (zero padding, "same" length), ReLU, batch norm."""
        convolved = tf.nn.conv1d(x, self.kernel, stride=1, padding="SAME")
        return tf.nn.relu(convolved + self.bias) * self.scale + self.shift


class FastMusicnn:
    """The outputs of ``network`` (a ``build_musicnn`` model with its weights) at a fraction of the cost.

    Call it with log-mel patches ``[shape=(n, T, n_mels)]``, float32, ``n >= 1``, ``T`` the
    network's ``patch_frames``; it returns what ``network(patches, training=False)`` returns:
    ``taggram`` ``[shape=(n, 50)]``, ``penultimate`` ``[shape=(n, 200)]``, ``max_pool`` and
    ``mean_pool`` ``[shape=(n, 753)]``. Everything is a TensorFlow operation, so it runs inside a
    ``tf.function`` and on a GPU.

    Parameters
    ----------
    network : keras.Model
        ``build_musicnn(...)`` with its trained weights loaded; only its weights are read.
    dead_filter_bound : float
        See ``DEAD_FILTER_BOUND``; 0 computes every filter.

    Attributes
    ----------
    output_widths : dict[str, int]
        The width of each output.
    computed_filters : int
        The front-end filters computed, of 561: the live ones, rounded up (``_filters_to_compute``).
    """

    def __init__(self, network: keras.Model, *, dead_filter_bound: float = DEAD_FILTER_BOUND) -> None:
        _, patch_frames, _ = network.input.shape
        self.output_widths = {name: int(tensor.shape[-1]) for name, tensor in network.output.items()}
        input_scale, input_shift = batch_norm_affine(network.get_layer("input_bn"))
        self.input_scale, self.input_shift = tf.constant(input_scale), tf.constant(input_shift)
        largest_input = max(abs(float(input_scale[0] * x + input_shift[0])) for x in LOG_MEL_RANGE)

        names = [(f"timbral_{key}", TIMBRAL_PADDING) for key in TIMBRAL_EXTENTS]
        names += [(f"temporal_{frames}", "SAME") for frames in TEMPORAL_FRAMES]
        self.front_end: list[_FrontEndConv] = []
        # Which of the 561 front-end features the convolutions give, in their order; what each filter gives if dead.
        computed: list[np.ndarray] = []
        constants: list[np.ndarray] = []
        offset = 0
        for name, padding in names:
            kernel, bias = network.get_layer(f"{name}_conv").get_weights()
            scale, shift = batch_norm_affine(network.get_layer(f"{name}_bn"))
            reach = np.abs(scale) * np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0) * largest_input
            kept = _filters_to_compute(reach, dead_filter_bound)
            sign = np.where(scale < 0, np.float32(-1), np.float32(1))
            for part in np.split(kept, range(FILTERS_PER_CONV, kept.size, FILTERS_PER_CONV)):
                self.front_end.append(
                    _FrontEndConv(
                        kernel=tf.constant(kernel[..., part] * sign[part]),
                        padding=padding,
                        sign=tf.constant(sign[part]),
                        bias=tf.constant(bias[part]),
                        scale=tf.constant(scale[part]),
                        shift=tf.constant(shift[part]),
                    )
                )
            computed.append(offset + kept)
            constants.append(np.maximum(bias, 0) * scale + shift)
            offset += bias.size
        computed_features = np.concatenate(computed)
        constant_outputs = np.concatenate(constants)
        dead = np.setdiff1d(np.arange(offset), computed_features)
        self.computed_filters = computed_features.size

        self.mid_end: list[_MidEndConv] = []
        for i in (1, 2, 3):
            kernel, bias = network.get_layer(f"cnn{i}_conv").get_weights()
            if i == 1:
                bias = (bias + _constant_share(constant_outputs[dead], kernel[:, dead, :], patch_frames)).astype(
                    np.float32
                )
                kernel = kernel[:, computed_features, :]
            scale, shift = batch_norm_affine(network.get_layer(f"cnn{i}_bn"))
            self.mid_end.append(_MidEndConv(*(tf.constant(a) for a in (kernel, bias, scale, shift))))

        # The pools are computed for [computed front end, mid end] and the dead filters' constants appended;
        # pool_order puts every column back in the network's order.
        columns = np.concatenate([computed_features, np.arange(offset, self.output_widths["max_pool"]), dead])
        self.pool_order = tf.constant(np.argsort(columns).astype(np.int32))
        self.dead_values = tf.constant(constant_outputs[None, dead])

        self.pools_scale, self.pools_shift = (tf.constant(a) for a in batch_norm_affine(network.get_layer("pools_bn")))
        kernel, bias = network.get_layer("penultimate_dense").get_weights()
        self.penultimate_kernel, self.penultimate_bias = tf.constant(kernel), tf.constant(bias)
        scale, shift = batch_norm_affine(network.get_layer("penultimate_bn"))
        self.penultimate_scale, self.penultimate_shift = tf.constant(scale), tf.constant(shift)
        kernel, bias = network.get_layer("tags_dense").get_weights()
        self.tags_kernel, self.tags_bias = tf.constant(kernel), tf.constant(bias)

    def __call__(self, log_mel: tf.Tensor) -> dict[str, tf.Tensor]:
        image = (log_mel * self.input_scale + self.input_shift)[..., None]
        front_end = tf.concat([conv(image) for conv in self.front_end], axis=-1)  # [shape=(n, T, computed)]
        mid_end = []
        x = front_end
        for i, conv in enumerate(self.mid_end):
            x = conv(x) if i == 0 else conv(x) + x  # the second and third have residual connections
            mid_end.append(x)
        features = tf.concat([front_end, *mid_end], axis=-1)

        n = tf.shape(log_mel)[0]
        dead = tf.tile(self.dead_values, [n, 1])
        max_pool = tf.gather(tf.concat([tf.reduce_max(features, axis=1), dead], axis=-1), self.pool_order, axis=-1)
        mean_pool = tf.gather(tf.concat([tf.reduce_mean(features, axis=1), dead], axis=-1), self.pool_order, axis=-1)
        # musicnn's back end reads the two pools interleaved (max₀, mean₀, max₁, …).
        pools = tf.reshape(tf.stack([max_pool, mean_pool], axis=-1), [n, -1]) * self.pools_scale + self.pools_shift
        hidden = tf.nn.relu(pools @ self.penultimate_kernel + self.penultimate_bias)
        penultimate = hidden * self.penultimate_scale + self.penultimate_shift
        taggram = tf.sigmoid(penultimate @ self.tags_kernel + self.tags_bias)
        return {"taggram": taggram, "penultimate": penultimate, "max_pool": max_pool, "mean_pool": mean_pool}


def _filters_to_compute(reach: np.ndarray, bound: float) -> np.ndarray:
    """The filters of one convolution to compute: those that reach ``bound``, and more up to a multiple of 16.

    oneDNN computes filters in blocks of 16 here, so a convolution of 90 filters costs as much as one of 96; the
    six added are the most alive of the dead ones, which makes the result closer for nothing.

    Returns
    -------
    kept : np.ndarray [shape=(k,), dtype=int]
        Ascending indices into ``reach``.
    """
    alive = int((reach >= bound).sum())
    wanted = min(reach.size, -(-alive // 16) * 16)
    return np.sort(np.argsort(-reach, kind="stable")[:wanted])


def _constant_share(values: np.ndarray, kernel: np.ndarray, frames: int) -> np.ndarray:
    """What channels that hold ``values`` in every frame add to a zero-padded "same" 1-D convolution.

    Parameters
    ----------
    values : np.ndarray [shape=(c,)]
    kernel : np.ndarray [shape=(taps, c, out)]
        Odd ``taps``.
    frames : int

    Returns
    -------
    share : np.ndarray [shape=(frames, out), dtype=float64]
        The same in every frame but the ``taps // 2`` at each end, where some taps fall on the padding.
    """
    taps = kernel.shape[0]
    per_tap = np.einsum("c,jco->jo", values.astype(np.float64), kernel.astype(np.float64))
    read = np.arange(frames)[:, None] + np.arange(taps)[None, :] - taps // 2
    inside = ((read >= 0) & (read < frames)).astype(np.float64)
    return inside @ per_tap
