"""The tagging model as workers use it: the committed weights, shapes, determinism and the per-process cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from recommender.core.tagger import MODEL_NAMES, Prediction, Tagger, get_tagger

# Every test here loads the network (TensorFlow), some in a child process.
pytestmark = pytest.mark.slow

# The first five tag scores of musicnn 0.1.0's own networks for a silent patch (an all-zero log-mel).
ORIGINAL_SCORES_FOR_SILENCE = {
    "msd_musicnn": [0.2003457, 0.0492226, 0.1061721, 0.1258560, 0.1140496],
    "mtt_musicnn": [0.3106717, 0.2044158, 0.1472800, 0.0108701, 0.0597828],
}
WIDTHS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753}


def make_patches(n: int, *, seed: int = 0) -> np.ndarray:
    """Log-mel-like patches ``[shape=(n, 187, 96)]``: values in the range musicnn's log compression gives music."""
    return np.random.default_rng(seed).uniform(0, 4, size=(n, 187, 96)).astype(np.float32)


@pytest.fixture(scope="module", params=MODEL_NAMES)
def model(request) -> Tagger:
    return get_tagger(request.param)


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
