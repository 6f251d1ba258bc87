"""Tag scores and feature vectors for log-mel patches, from the musicnn models (Django-free).

A worker loads a model once with ``get_tagger()`` and keeps it for every job::

    model = get_tagger("msd_musicnn")
    prediction = model.predict(patches)  # patches: (n, 187, 96) float32 log-mel
    prediction.tags                      # (n, 50) in [0, 1], columns named by model.spec.tags
    prediction.features["penultimate"]   # (n, 200)

The weights and the tag lists live in ``recommender/core/weights/`` (converted from musicnn
0.1.0 by ``scripts/convert_musicnn.py``), so nothing needs the musicnn package or a
download at run time. The network that runs is ``recommender.core.fast_musicnn``, derived from
them when a model is loaded: the same outputs as the layer-for-layer port, 8.6 (MSD) and 3.4 (MTT)
times faster on a CPU (``docs/benchmarks.md``, "Fast musicnn"). TensorFlow runs it on a GPU when it sees one.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

# TensorFlow is imported only when a model is loaded (``_tensorflow()``): the web server and the
# management commands read a model's spec, never its weights, and must not carry 600 MB of TensorFlow.

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_NAMES = ("msd_musicnn", "mtt_musicnn")
DEFAULT_MODEL = "msd_musicnn"
# Patches per call of the network. On a CPU, 8 (a song's windows): the fast network's largest tensor is 3.4 MB
# a patch (48 filters of MTT's 32-frame convolution × 187 frames × 96 bands), so 8 patches stay under 32 MiB,
# the largest block glibc's malloc keeps for reuse; at 16 each call maps and zero-fills fresh pages and MTT
# takes 1.6 times as long a patch. Small batches also keep a worker's peak memory down. A GPU wants more.
CPU_BATCH_SIZE = 8
GPU_BATCH_SIZE = 64


@dataclass(frozen=True)
class ModelSpec:
    """What a model expects and what it gives back, read from ``weights/<name>.json``."""

    name: str
    version: str
    tags: tuple[str, ...]
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    patch_frames: int
    embedding_layer: str
    embedding_dim: int

    @classmethod
    def from_card(cls, card: dict) -> ModelSpec:
        inputs = card["input"]
        outputs = card["outputs"]
        return cls(
            name=card["name"],
            version=card["version"],
            tags=tuple(card["tags"]),
            sample_rate=inputs["sample_rate"],
            n_fft=inputs["n_fft"],
            hop_length=inputs["hop_length"],
            n_mels=inputs["n_mels"],
            patch_frames=inputs["patch_frames"],
            embedding_layer=card["embedding_layer"],
            embedding_dim=outputs[card["embedding_layer"]],
        )


@dataclass(frozen=True)
class Prediction:
    """The network's outputs for ``n`` patches.

    Attributes
    ----------
    tags : np.ndarray [shape=(n, n_tags)], float32
        Sigmoid score of each tag, in the order of ``ModelSpec.tags``.
    features : dict[str, np.ndarray]
        ``penultimate`` ``[shape=(n, 200)]``, ``max_pool`` and ``mean_pool`` ``[shape=(n, 753)]``,
        float32: the penultimate dense layer and the max and mean over time of the mid-end features.
    """

    tags: np.ndarray
    features: dict[str, np.ndarray]


class Tagger:
    """A musicnn network with its trained weights; load it once per process with ``get_tagger``."""

    def __init__(self, spec: ModelSpec, network: keras.Model, *, exact_port: bool = False) -> None:
        tf = _tensorflow()
        from recommender.core.fast_musicnn import FastMusicnn

        self.spec = spec
        self.network = network
        self.exact_port = exact_port
        self.uses_gpu = bool(tf.config.list_physical_devices("GPU"))
        self.device = "GPU" if self.uses_gpu else "CPU"
        self.batch_size = GPU_BATCH_SIZE if self.uses_gpu else CPU_BATCH_SIZE
        self._widths = {name: int(tensor.shape[-1]) for name, tensor in network.output.items()}
        signature = tf.TensorSpec(shape=(None, spec.patch_frames, spec.n_mels), dtype=tf.float32)
        forward = functools.partial(network, training=False) if exact_port else FastMusicnn(network).__call__
        # One graph traced for every batch size; on a CPU it runs as fast as predict_on_batch and 20% faster than eager.
        self._forward = tf.function(forward, input_signature=[signature])

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, *, weights_dir: Path = WEIGHTS_DIR, exact_port: bool = False) -> Tagger:
        """Build the network named ``name`` and load its weights from ``weights_dir``.

        Parameters
        ----------
        name : str
            One of ``MODEL_NAMES``: ``msd_musicnn`` (Million Song Dataset tags) or ``mtt_musicnn`` (MagnaTagATune).
        weights_dir : Path
            The folder holding ``<name>.json`` and ``<name>.weights.h5``.
        exact_port : bool
            Run the layer-for-layer Keras port (``recommender.core.musicnn``) rather than
            ``recommender.core.fast_musicnn``, its rewrite, which gives the same outputs within
            float32 round-off in a third of the time (MSD: an eighth). The tests compare the two.

        Raises
        ------
        ValueError
            ``name`` is not one of ``MODEL_NAMES``.
        """
        card = _read_card(name, weights_dir)
        spec = ModelSpec.from_card(card)
        _tensorflow()
        from recommender.core.musicnn import build_musicnn

        network = build_musicnn(patch_frames=spec.patch_frames, n_mels=spec.n_mels, **card["architecture"])
        network.load_weights(weights_dir / f"{name}.weights.h5")
        return cls(spec, network, exact_port=exact_port)

    def predict(self, patches: np.ndarray, *, batch_size: int | None = None) -> Prediction:
        """Tag scores and features for each patch.

        Parameters
        ----------
        patches : np.ndarray [shape=(n, patch_frames, n_mels)]
            Log-mel patches, ``log10(10000 * mel_power + 1)``, as ``spec`` describes; any ``n``, 0 included.
        batch_size : int, optional
            Patches per call of the network (default: ``self.batch_size``); the results do not depend on it.

        Returns
        -------
        Prediction
            ``tags`` ``[shape=(n, n_tags)]`` and ``features`` ``{name: [shape=(n, width)]}``.

        Raises
        ------
        ValueError
            ``patches`` has the wrong shape or holds NaN or infinite values (a float16 log-mel overflows, for one).
        """
        patches = np.asarray(patches, dtype=np.float32)
        expected = (self.spec.patch_frames, self.spec.n_mels)
        if patches.ndim != 3 or patches.shape[1:] != expected:
            raise ValueError(f"patches must have shape (n, {expected[0]}, {expected[1]}); got {patches.shape}")
        if not np.isfinite(patches).all():
            raise ValueError("patches hold NaN or infinite values")
        if len(patches) == 0:
            # The traced graph fails on an empty batch, so the empty outputs are made here.
            outputs = {name: np.zeros((0, width), np.float32) for name, width in self._widths.items()}
        else:
            batch_size = batch_size or self.batch_size
            batches = [self._forward(patches[i : i + batch_size]) for i in range(0, len(patches), batch_size)]
            outputs = {name: np.concatenate([batch[name].numpy() for batch in batches]) for name in batches[0]}
        tags = outputs.pop("taggram")
        return Prediction(tags=tags, features=outputs)


def _read_card(name: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; the models are {', '.join(MODEL_NAMES)}")
    return json.loads((weights_dir / f"{name}.json").read_text())


def load_spec(name: str = DEFAULT_MODEL) -> ModelSpec:
    """The spec of model ``name`` from its card alone: cheap, and no TensorFlow."""
    return ModelSpec.from_card(_read_card(name))


def _tensorflow() -> Any:
    """Import TensorFlow once, configured for Musrec."""
    # TensorFlow reads these once, at import or first use; a process that set them already keeps its choice.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # oneDNN's own allocator keeps what a batch used: a worker peaks at 1.26 GiB instead of 0.96 GiB, for a
    # quarter more speed on a CPU. Memory is the scarcer of the two on a small server; "0" chooses speed.
    os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
    import tensorflow as tf

    # On recent GPUs TensorFlow multiplies float32 in TensorFloat-32 by default, which moves the features by
    # about 1e-3; songs analysed on a GPU worker and on a CPU worker must get the same vectors to be compared.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


_models: dict[str, Tagger] = {}
_loading = threading.Lock()


def get_tagger(name: str = DEFAULT_MODEL) -> Tagger:
    """The process's one ``Tagger`` for ``name``, loaded on first use and kept for the life of the process."""
    with _loading:
        if name not in _models:
            _models[name] = Tagger.load(name)
        return _models[name]
