"""The Keras 3 port of musicnn, with the committed weights, gives the original network's numbers; so does
its fast rewrite (``recommender.core.fast_musicnn``), which workers run.

The original is musicnn 0.1.0's own ``models.build_musicnn`` restored from its TF 1
checkpoints. Its ``tf.compat.v1.layers`` exist only with tf-keras, chosen by
``TF_USE_LEGACY_KERAS=1`` before TensorFlow is first imported, which cannot be undone in a
process that already runs Keras 3; so this file is also the script that runs the original,
in a child process, and the tests compare its outputs with the port's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest

pytest.importorskip("musicnn", reason="the musicnn package (the original network) is not installed")
# It runs the original network in a child process and the port in this one.
pytestmark = pytest.mark.slow

SAMPLE_RATE = 16000
PATCH_FRAMES = 187
MODELS = {"msd_musicnn": "MSD_musicnn", "mtt_musicnn": "MTT_musicnn"}
FEATURES = ("penultimate", "max_pool", "mean_pool")


def synthetic_clips() -> dict[str, np.ndarray]:
    """Three seconds each of noise, a chord, a loud clipped signal and silence."""
    rng = np.random.default_rng(20190704)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    chord = sum(
        0.1 / harmonic * np.sin(2 * np.pi * harmonic * root * t)
        for root in (261.63, 329.63, 392.00)
        for harmonic in (1, 2, 3)
    )
    loud = np.clip(8 * np.sin(2 * np.pi * 110 * t) + rng.normal(0, 1, t.size), -1, 1)
    return {
        "noise": rng.normal(0, 0.1, t.size),
        "chord": chord * np.exp(-t % 1),
        "loud": loud,
        "silence": np.zeros_like(t),
    }


def mel_power(y: np.ndarray) -> np.ndarray:
    """musicnn's mel spectrogram, ``[shape=(187, 96)]``, before its log."""
    mel = librosa.feature.melspectrogram(y=y.astype(np.float32), sr=SAMPLE_RATE, hop_length=256, n_fft=512, n_mels=96)
    return mel.T[:PATCH_FRAMES].astype(np.float32)


def log_mel_patch(y: np.ndarray) -> np.ndarray:
    """musicnn's input for ``y``, ``[shape=(187, 96)]``, with the log in float32 where musicnn uses float16."""
    return np.log10(np.float32(10000) * mel_power(y) + np.float32(1))


@pytest.fixture(scope="module")
def patches() -> np.ndarray:
    return np.stack([log_mel_patch(y) for y in synthetic_clips().values()])


@pytest.fixture(scope="module")
def original(patches, tmp_path_factory) -> dict[str, np.ndarray]:
    """The original network's outputs for ``patches``, keyed ``"<model>/<output>"``."""
    folder = tmp_path_factory.mktemp("musicnn_reference")
    inputs, outputs = folder / "patches.npy", folder / "outputs.npz"
    np.save(inputs, patches)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, __file__, str(inputs), str(outputs)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"the original musicnn failed:\n{done.stderr[-3000:]}"
    with np.load(outputs) as saved:
        return dict(saved)


@pytest.fixture(scope="module", params=["fast rewrite", "layer-for-layer port"])
def port(request, patches) -> dict[str, dict[str, np.ndarray]]:
    """The outputs for ``patches`` of the fast rewrite (what workers run) or of the port, by model then output."""
    # Imported here, not at the top: the reference child process runs this file and must not load Keras 3.
    from recommender.core.tagger import Tagger

    exact_port = request.param == "layer-for-layer port"
    predictions = {name: Tagger.load(name, exact_port=exact_port).predict(patches) for name in MODELS}
    return {name: {"taggram": p.tags, **p.features} for name, p in predictions.items()}


def test_the_loud_clip_overflows_musicnns_float16_log(patches):
    loud = mel_power(synthetic_clips()["loud"])
    with np.errstate(over="ignore"):
        assert np.isinf(np.log10(10000 * loud.astype(np.float16) + 1)).any()
    assert np.isfinite(patches).all()


@pytest.mark.parametrize("name", MODELS)
def test_the_port_gives_the_original_tag_scores(name, original, port):
    np.testing.assert_allclose(port[name]["taggram"], original[f"{name}/taggram"], rtol=0, atol=1e-4)


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("name", MODELS)
def test_the_port_gives_the_original_features(name, feature, original, port):
    expected = original[f"{name}/{feature}"]
    assert port[name][feature].shape == expected.shape
    np.testing.assert_allclose(port[name][feature], expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_the_tags_are_named_as_in_musicnn(name):
    from musicnn import configuration

    from recommender.core.tagger import Tagger

    labels = configuration.MSD_LABELS if name.startswith("msd") else configuration.MTT_LABELS
    assert Tagger.load(name).spec.tags == tuple(labels)


@pytest.mark.parametrize("name", MODELS)
def test_the_tags_tell_the_clips_apart(name, port):
    """Guards against a comparison that passes because both sides give the same output for every input."""
    tags = port[name]["taggram"]
    assert np.ptp(tags, axis=0).max() > 0.1


def original_outputs(patches: np.ndarray) -> dict[str, np.ndarray]:
    """Run musicnn's own graph, as its extractor builds it, on ``patches`` ``[shape=(n, 187, 96)]``."""
    import musicnn
    import tensorflow as tf
    from musicnn import models

    # musicnn.extractor would do the same but turns eager execution off for the whole process.
    outputs = {}
    for name, checkpoint in MODELS.items():
        graph = tf.Graph()
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
            x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
            is_training = tf.compat.v1.placeholder(tf.bool)
            logits, *_, mean_pool, max_pool, penultimate = models.define_model(x, is_training, checkpoint, 50)
            tensors = {"taggram": tf.nn.sigmoid(logits), "penultimate": penultimate}
            tensors |= {"max_pool": max_pool, "mean_pool": mean_pool}
            tf.compat.v1.train.Saver().restore(session, str(Path(musicnn.__file__).parent / checkpoint) + "/")
            values = session.run(tensors, feed_dict={x: patches, is_training: False})
        outputs |= {f"{name}/{output}": value for output, value in values.items()}
    return outputs


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run the original musicnn with TF_USE_LEGACY_KERAS=1")
    patches_file, outputs_file = sys.argv[1:]
    np.savez(outputs_file, **original_outputs(np.load(patches_file)))
