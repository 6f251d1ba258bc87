"""Convert musicnn's TensorFlow 1 checkpoints into weights for the Keras 3 port.

Run once, from the repository root, with the musicnn package installed::

    .venv/bin/python -m scripts.convert_musicnn

It reads the MSD_musicnn and MTT_musicnn checkpoints shipped in musicnn 0.1.0's
package folder, copies each variable onto the layer of ``recommender.core.musicnn`` that
plays its part, and writes, under ``recommender/core/weights/``:

- ``<model>.weights.h5``: the Keras weights (``model.load_weights``);
- ``<model>.json``: what run time needs besides the weights (tags, input spec, output widths);
- ``LICENSE-musicnn.txt``: musicnn's ISC licence, which the weights are distributed under.

The checkpoints hold no names but TensorFlow 1's automatic ones, numbered in the order
``musicnn.models.build_musicnn`` creates its layers, which is how ``CHECKPOINT_TO_KERAS``
pairs them with the port's layers. Only the checkpoints' Adam slots and step counters
(``*/Adam``, ``*/Adam_1``, ``beta1_power``, ``beta2_power``) are left out; the script
fails if any other variable or any Keras weight is left unpaired.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = {"msd_musicnn": "MSD_musicnn", "mtt_musicnn": "MTT_musicnn"}
MUSICNN_VERSION = "0.1.0"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "recommender" / "weights"

# TF 1 layer scope in the checkpoint -> layer of the Keras port, in musicnn's creation order.
CHECKPOINT_TO_KERAS = {
    "batch_normalization": "input_bn",
    "conv2d": "timbral_74_conv",  # [7, 38, 1, 204]
    "batch_normalization_1": "timbral_74_bn",
    "conv2d_1": "timbral_77_conv",  # [7, 67, 1, 204]
    "batch_normalization_2": "timbral_77_bn",
    "conv2d_2": "temporal_128_conv",  # [128, 1, 1, 51]
    "batch_normalization_3": "temporal_128_bn",
    "conv2d_3": "temporal_64_conv",  # [64, 1, 1, 51]
    "batch_normalization_4": "temporal_64_bn",
    "conv2d_4": "temporal_32_conv",  # [32, 1, 1, 51]
    "batch_normalization_5": "temporal_32_bn",
    "conv2d_5": "cnn1_conv",  # [7, 561, 1, 64] -> Conv1D [7, 561, 64]
    "batch_normalization_6": "cnn1_bn",
    "conv2d_6": "cnn2_conv",  # [7, 64, 1, 64] -> Conv1D [7, 64, 64]
    "batch_normalization_7": "cnn2_bn",
    "conv2d_7": "cnn3_conv",  # [7, 64, 1, 64] -> Conv1D [7, 64, 64]
    "batch_normalization_8": "cnn3_bn",
    "batch_normalization_9": "pools_bn",  # [1506], max and mean pools interleaved
    "dense": "penultimate_dense",  # [1506, 200]
    "batch_normalization_10": "penultimate_bn",
    "dense_1": "tags_dense",  # [200, 50]
}
# The order Keras keeps a layer's weights in, by the checkpoint's names.
BATCH_NORM_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")
KERNEL_VARIABLES = ("kernel", "bias")
OPTIMIZER_STATE = ("/Adam", "/Adam_1", "beta1_power", "beta2_power")

ARCHITECTURE = {"num_tags": 50, "midend_filters": 64, "backend_units": 200}
INPUT_SPEC = {
    "sample_rate": 16000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "patch_frames": 187,
    "mel": "librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T, power 2",
    "log_compression": "log10(10000 * mel + 1), computed in float32",
}
# The feature a song's similarity vector is taken from: the 200-unit layer the tags are read off.
EMBEDDING_LAYER = "penultimate"
DESCRIPTIONS = {
    "msd_musicnn": "musicnn trained on the Million Song Dataset's 50 most frequent Last.fm tags",
    "mtt_musicnn": "musicnn trained on MagnaTagATune's 50 most frequent tags",
}


def checkpoint_prefix(checkpoint: str) -> str:
    """Where musicnn keeps a checkpoint's files, as a TensorFlow checkpoint prefix.

    The files are named ``.index`` and ``.data-00000-of-00001`` inside the model's folder,
    so the prefix is the folder with a trailing slash; the folder's ``checkpoint`` file
    points at the authors' own disk, which is why the prefix is given, not the folder.
    """
    import musicnn

    return str(Path(musicnn.__file__).parent / checkpoint) + "/"


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Every variable of a TF 1 checkpoint but the optimiser's, by name."""
    import tensorflow as tf

    # tf.train.load_checkpoint resolves a folder through its "checkpoint" file, which is stale here;
    # NewCheckpointReader is the reader it returns, opened on the prefix itself.
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    names = reader.get_variable_to_shape_map()
    return {name: reader.get_tensor(name) for name in names if not any(part in name for part in OPTIMIZER_STATE)}


def assign_checkpoint(model, variables: dict[str, np.ndarray]) -> None:
    """Set each layer of ``model`` named in ``CHECKPOINT_TO_KERAS`` from the checkpoint's ``variables``."""
    unused = set(variables)
    for scope, layer_name in CHECKPOINT_TO_KERAS.items():
        layer = model.get_layer(layer_name)
        names = BATCH_NORM_VARIABLES if scope.startswith("batch_normalization") else KERNEL_VARIABLES
        values = []
        for variable, target in zip(names, layer.get_weights(), strict=True):
            name = f"{scope}/{variable}"
            value = variables[name]
            unused.discard(name)
            if value.shape != target.shape:
                # Only the mid-end's full-width 2-D kernels [7, width, 1, filters] become 1-D ones [7, width, filters].
                if value.ndim != 4 or value.shape[2] != 1 or value.shape[:2] + value.shape[3:] != target.shape:
                    raise ValueError(f"{name} has shape {value.shape}; {layer_name} wants {target.shape}")
                value = value.reshape(target.shape)
            values.append(value.astype(np.float32))
        layer.set_weights(values)
    if unused:
        raise ValueError(f"checkpoint variables without a Keras layer: {sorted(unused)}")
    unset = {layer.name for layer in model.layers if layer.weights} - set(CHECKPOINT_TO_KERAS.values())
    if unset:
        raise ValueError(f"Keras layers the checkpoint does not set: {sorted(unset)}")


def model_card(name: str, model) -> dict:
    from musicnn import configuration

    tags = configuration.MSD_LABELS if name.startswith("msd") else configuration.MTT_LABELS
    widths = {output: int(tensor.shape[-1]) for output, tensor in model.output.items()}
    return {
        "name": name,
        "version": MUSICNN_VERSION,
        "description": DESCRIPTIONS[name],
        "source": f"musicnn {MUSICNN_VERSION} (https://github.com/jordipons/musicnn), checkpoint {MODELS[name]}",
        "authors": "Jordi Pons and Xavier Serra, Music Technology Group, Universitat Pompeu Fabra",
        "licence": "ISC, see LICENSE-musicnn.txt",
        "weights": f"{name}.weights.h5",
        "architecture": ARCHITECTURE,
        "input": INPUT_SPEC,
        "outputs": widths,
        "embedding_layer": EMBEDDING_LAYER,
        "tags": list(tags),
    }


def licence_notice() -> str:
    from importlib.metadata import distribution

    licence = distribution("musicnn").read_text("LICENSE.md")
    if not licence:
        raise FileNotFoundError("musicnn's LICENSE.md is missing from its package metadata")
    return (
        "The weights in this folder (msd_musicnn.*, mtt_musicnn.*) are converted from the MSD_musicnn and\n"
        f"MTT_musicnn checkpoints of musicnn {MUSICNN_VERSION} (https://github.com/jordipons/musicnn), by\n"
        "Jordi Pons and Xavier Serra, and recommender/core/musicnn.py follows its models.py. musicnn's licence:\n"
        "\n" + licence.strip() + "\n"
    )


def convert(name: str, out_dir: Path) -> Path:
    from recommender.core.musicnn import build_musicnn

    model = build_musicnn(**ARCHITECTURE)
    assign_checkpoint(model, read_checkpoint(checkpoint_prefix(MODELS[name])))
    weights = out_dir / f"{name}.weights.h5"
    model.save_weights(weights)
    card = json.dumps(model_card(name, model), indent=2, ensure_ascii=False)
    (out_dir / f"{name}.json").write_text(card + "\n")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder to write to (default: %(default)s)")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        weights = convert(name, options.out)
        print(f"{weights}: {weights.stat().st_size / 1e6:.1f} MB")
    (options.out / "LICENSE-musicnn.txt").write_text(licence_notice())


if __name__ == "__main__":
    main()
