"""The tagging model as workers use it: the committed weights, shapes, determinism and the per-process cache.

Workers run ``recommender.core.fast_musicnn``, a rewrite of the layer-for-layer Keras port
(``recommender.core.musicnn``, ``Tagger.load(name, exact_port=True)``); the port itself is held to
musicnn's own network in ``test_musicnn_port.py``, and the rewrite to the port here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from recommender.core import mel
from recommender.core.tagger import MODEL_NAMES, Prediction, Tagger, get_tagger

# Every test here loads the network (TensorFlow), some in a child process.
pytestmark = pytest.mark.slow

# The first five tag scores of musicnn 0.1.0's own networks for a silent patch (an all-zero log-mel).
ORIGINAL_SCORES_FOR_SILENCE = {
    "msd_musicnn": [0.2003457, 0.0492226, 0.1061721, 0.1258560, 0.1140496],
    "mtt_musicnn": [0.3106717, 0.2044158, 0.1472800, 0.0108701, 0.0597828],
}
WIDTHS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753}
# How far the float32 port's outputs stray from the same network evaluated in float64: 1.5 times the most measured
# (both networks, music, uniform noise and loud input, batches of 1 to 40). The fast rewrite sums in another order
# and is held to the port within these.
PORT_ROUND_OFF = {"taggram": 4e-6, "penultimate": 2e-5, "max_pool": 6e-4, "mean_pool": 5e-5}
# Front-end filters the fast rewrite computes, of 561; the rest are dead (fast_musicnn.DEAD_FILTER_BOUND).
COMPUTED_FILTERS = {"msd_musicnn": 112, "mtt_musicnn": 288}


def make_patches(n: int, *, seed: int = 0) -> np.ndarray:
    """Log-mel-like patches ``[shape=(n, 187, 96)]``: values in the range musicnn's log compression gives music."""
    return np.random.default_rng(seed).uniform(0, 4, size=(n, 187, 96)).astype(np.float32)


def music_patches(n: int, *, seed: int = 0) -> np.ndarray:
    """Log-mel patches of synthetic music ``[shape=(n, 187, 96)]``: a chord over drum hits, from quiet to clipped."""
    if n == 0:
        return np.zeros((0, 187, 96), np.float32)
    rng = np.random.default_rng(seed)
    t = np.arange(round(mel.PATCH_SECONDS * mel.MODEL_SAMPLE_RATE)) / mel.MODEL_SAMPLE_RATE
    clips = []
    for _ in range(n):
        root = rng.uniform(55, 440)
        chord = sum(
            np.sin(2 * np.pi * root * ratio * harmonic * t + rng.uniform(0, 2 * np.pi)) / harmonic
            for ratio in (1, 1.26, 1.5)
            for harmonic in (1, 2, 3)
        )
        hits = rng.standard_normal(t.size) * np.exp(-30 * (t % rng.uniform(0.25, 0.75)))
        level = 10 ** rng.uniform(-2, 0.5)
        clips.append(np.clip(level * (0.1 * chord + 0.5 * hits), -1, 1))
    return mel.log_mel(np.array(clips, np.float32), center=False)


@pytest.fixture(scope="module", params=MODEL_NAMES)
def model(request) -> Tagger:
    return get_tagger(request.param)


@pytest.fixture(scope="module")
def port(model) -> Tagger:
    """The layer-for-layer Keras port of ``model``'s network."""
    return Tagger.load(model.spec.name, exact_port=True)


def outputs(prediction: Prediction) -> dict[str, np.ndarray]:
    return {"taggram": prediction.tags, **prediction.features}


def test_the_weights_load_and_run_without_the_musicnn_package():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        sys.modules["musicnn"] = None  # any import of musicnn now fails
        from recommender.core.tagger import MODEL_NAMES, Tagger
        for name in MODEL_NAMES:
            assert Tagger.load(name).predict(np.zeros((1, 187, 96), np.float32)).tags.shape == (1, 50)
        """
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_spec_describes_the_model(model):
    spec = model.spec
    assert len(spec.tags) == len(set(spec.tags)) == 50
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.n_mels, spec.patch_frames) == (16000, 512, 256, 96, 187)
    assert spec.embedding_dim == WIDTHS[spec.embedding_layer]
    assert spec.version


def test_it_gives_tag_scores_and_features_for_each_patch(model):
    prediction = model.predict(make_patches(3))
    assert isinstance(prediction, Prediction)
    assert prediction.tags.shape == (3, 50)
    assert prediction.tags.dtype == np.float32
    assert ((prediction.tags >= 0) & (prediction.tags <= 1)).all()
    assert {name: array.shape for name, array in prediction.features.items()} == {
        name: (3, width) for name, width in WIDTHS.items()
    }


def test_it_scores_silence_as_the_original_network_does(model):
    tags = model.predict(np.zeros((1, 187, 96), np.float32)).tags
    np.testing.assert_allclose(tags[0, :5], ORIGINAL_SCORES_FOR_SILENCE[model.spec.name], atol=1e-5)


def test_it_gives_the_same_numbers_every_time(model):
    patches = make_patches(5)
    first, second = model.predict(patches), model.predict(patches)
    np.testing.assert_array_equal(first.tags, second.tags)
    for name in WIDTHS:
        np.testing.assert_array_equal(first.features[name], second.features[name])


def test_a_patch_scores_the_same_alone_or_in_a_batch_of_forty(model):
    patches = make_patches(40, seed=1)
    together = model.predict(patches)
    alone = [model.predict(patches[i : i + 1]) for i in range(len(patches))]
    np.testing.assert_allclose(together.tags, np.concatenate([p.tags for p in alone]), atol=1e-5)
    for name in WIDTHS:
        features_alone = np.concatenate([p.features[name] for p in alone])
        # oneDNN picks its convolution algorithm by batch size, so the sums are ordered differently.
        np.testing.assert_allclose(together.features[name], features_alone, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_the_batch_size_does_not_change_the_results(model, batch_size):
    patches = make_patches(20, seed=2)
    np.testing.assert_allclose(
        model.predict(patches, batch_size=batch_size).tags, model.predict(patches).tags, atol=1e-5
    )


def test_no_patches_give_empty_results(model):
    prediction = model.predict(np.zeros((0, 187, 96), np.float32))
    assert prediction.tags.shape == (0, 50)
    assert {name: array.shape for name, array in prediction.features.items()} == {
        name: (0, width) for name, width in WIDTHS.items()
    }


@pytest.mark.parametrize("shape", [(187, 96), (2, 96, 187), (2, 187, 128)])
def test_it_rejects_patches_of_the_wrong_shape(model, shape):
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros(shape, np.float32))


def test_it_rejects_patches_that_are_not_finite(model):
    patches = make_patches(2)
    patches[1, 10, 10] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        model.predict(patches)


def test_get_model_loads_each_model_once_per_process():
    assert get_tagger() is get_tagger("msd_musicnn")
    assert get_tagger("mtt_musicnn") is get_tagger("mtt_musicnn")
    assert get_tagger("mtt_musicnn") is not get_tagger("msd_musicnn")


def test_it_refuses_an_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        Tagger.load("msd_vgg")


def test_workers_run_the_fast_rewrite(model, port):
    # Imported here: it imports TensorFlow, which the tagger imports only once it has configured it.
    from recommender.core.fast_musicnn import FastMusicnn

    assert not model.exact_port
    assert port.exact_port
    assert FastMusicnn(port.network).computed_filters == COMPUTED_FILTERS[model.spec.name]


@pytest.mark.parametrize("n", [1, 5, 0])
def test_the_fast_rewrite_gives_the_ports_outputs(model, port, n):
    patches = music_patches(n, seed=n)
    fast, exact = outputs(model.predict(patches)), outputs(port.predict(patches))
    for name, expected in exact.items():
        assert fast[name].shape == expected.shape
        np.testing.assert_allclose(fast[name], expected, rtol=0, atol=PORT_ROUND_OFF[name], err_msg=name)


def test_the_fast_rewrite_is_as_close_to_exact_arithmetic_as_the_port(model, port):
    import keras

    from recommender.core.musicnn import build_musicnn

    keras.config.set_dtype_policy("float64")
    try:
        network = build_musicnn()
    finally:
        keras.config.set_dtype_policy("float32")
    network.set_weights(port.network.get_weights())
    patches = np.concatenate([music_patches(6, seed=3), make_patches(2, seed=3)])
    exact = {name: value.numpy() for name, value in network(patches.astype(np.float64), training=False).items()}
    fast, ported = outputs(model.predict(patches)), outputs(port.predict(patches))
    for name, value in exact.items():
        port_error = np.abs(ported[name] - value).max()
        assert port_error <= PORT_ROUND_OFF[name], name
        # Round-off depends on the order of the sums, so neither is always the closer: within twice the port's.
        assert np.abs(fast[name] - value).max() <= 2 * max(port_error, PORT_ROUND_OFF[name] / 10), name


def test_a_songs_embedding_is_the_one_the_port_gives(model, port):
    patches = music_patches(8, seed=4)  # a song's analysis windows
    fast = model.predict(patches).features["penultimate"].mean(axis=0).astype(np.float64)
    exact = port.predict(patches).features["penultimate"].mean(axis=0).astype(np.float64)
    assert fast @ exact / np.linalg.norm(fast) / np.linalg.norm(exact) >= 0.99999999
