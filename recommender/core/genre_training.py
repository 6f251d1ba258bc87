"""Genre models trained on a library's own genre tags: the papers' four architectures (Django-free).

Seed 000 puts a new pooling, dense and dropout head on a frozen pretrained CNN and augments its training data
with noise, shifts and brightness; seeds 001 and 002 train a CNN on log-mel patches, and 002 adds an LSTM or a
bidirectional LSTM after its convolutions. ``train_classifier`` fits any of them on the log-mel patches that
``analysis.song_windows`` makes, one label per song, and ``GenreClassifier`` predicts a song's genre (the mean of
its patches' probabilities) and its learnt embedding (the layer before the softmax), and saves and loads itself.

Songs of one album (or one artist) sound alike whatever their genre, so ``song_groups`` and ``grouped_split`` keep
each album, and each artist's albums, on one side of a split: a model is never scored on an album it was trained
on. ``recommender.core.genre_report`` turns predictions into the metrics of the model card.

Every network is a ``body`` (log-mel patches → a feature vector) under a ``head`` (features → dense layers →
the ``embedding`` layer → the ``genre`` softmax). Keras and TensorFlow are imported only when a network is built or
loaded, so that the splits and the augmentation cost nothing to import.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

ARCHITECTURES = ("transfer", "cnn", "cnn-lstm", "cnn-bilstm")
EMBEDDING_LAYER = "embedding"
OUTPUT_LAYER = "genre"
# The frozen network of the transfer architecture: musicnn trained on the Million Song Dataset, up to its
# mid-end features (n, frames, 753), the layer seed 000's "frozen feature extractor" corresponds to.
TRANSFER_NETWORK = "msd_musicnn"
TRANSFER_LAYER = "mid_end"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
# Keras's default moving-average momentum (0.99) needs hundreds of batches before the statistics that inference
# uses match the training batches'; a library-size run has tens a epoch, and on the demo catalogue the validation
# loss then rose while the training loss fell, stopping training after its first epoch. 0.9 (PyTorch's) does not.
BATCH_NORM_MOMENTUM = 0.9
# Held-out folds: one in five of the album groups is the test set, one in five of the rest the validation set.
FOLDS = 5


class GenreDataError(ValueError):
    """Labelled songs a classifier cannot learn from or be tested on; ``str(error)`` says why in plain words."""


# Splits ------------------------------------------------------------------------------------------------------


def song_groups(albums: Sequence[str | None], artists: Sequence[str | None]) -> np.ndarray:
    """Groups of songs that must stay on one side of a split: songs linked by a shared album or artist.

    Two songs are in one group when they share an album, or a known artist, or are linked through a chain of
    such songs (an artist's two albums are one group). A song with neither is a group of its own.

    Parameters
    ----------
    albums, artists : sequence of str or None [length n]
        Each song's album and artist; ``None`` or ``""`` for unknown. Albums should be told apart by artist
        where titles repeat ("Greatest Hits"): pass a key such as ``"artist / title"``.

    Returns
    -------
    groups : np.ndarray [shape=(n,), dtype=int64]
        The group of each song, numbered from 0 in order of first appearance.
    """
    n = len(albums)
    if len(artists) != n:
        raise ValueError(f"{n} albums but {len(artists)} artists")
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i in range(n):
        for kind, value in (("album", albums[i]), ("artist", artists[i])):
            if not value:
                continue
            j = first.setdefault((kind, str(value)), i)
            parent[root(i)] = root(j)
    numbers: dict[int, int] = {}
    return np.array([numbers.setdefault(root(i), len(numbers)) for i in range(n)], dtype=np.int64)


def unsplittable_labels(labels: Sequence[str], groups: np.ndarray) -> dict[str, str]:
    """The labels a grouped split cannot hold out, each with the reason.

    A label needs two songs, and songs in two groups: one group to learn it from, another to test it on.

    Returns
    -------
    reasons : dict[str, str]
        ``{label: reason}``, empty when every label can be split.
    """
    labels = np.asarray(labels, dtype=object)
    groups = np.asarray(groups)
    reasons = {}
    for label in sorted(set(labels), key=str.casefold):
        mine = labels == label
        if mine.sum() < 2:
            reasons[label] = "has only one song"
        elif len(np.unique(groups[mine])) < 2:
            reasons[label] = "has all its songs in one album (or one artist's albums)"
    return reasons


def check_trainable(labels: Sequence[str], groups: np.ndarray) -> None:
    """Refuse labelled songs that cannot give a grouped split with every label on both sides.

    Raises
    ------
    GenreDataError
        Fewer than two labels, or a label with one song or all its songs in one album group.
    """
    distinct = sorted(set(labels), key=str.casefold)
    if len(distinct) < 2:
        found = f"only {distinct[0]!r}" if distinct else "none"
        raise GenreDataError(f"a genre model needs songs of at least two genres; found {found}")
    reasons = unsplittable_labels(labels, groups)
    if reasons:
        listed = "; ".join(f"{label!r} {reason}" for label, reason in reasons.items())
        raise GenreDataError(
            f"every genre needs songs in at least two albums, one to learn it from and one to test it on: {listed}"
        )


@dataclass(frozen=True)
class Split:
    """Song indices on each side of a grouped split."""

    train: np.ndarray
    test: np.ndarray


def grouped_folds(labels: Sequence[str], groups: np.ndarray, *, folds: int = FOLDS, seed: int = 0) -> list[Split]:
    """Cross-validation folds that keep every group on one side, stratified by label as far as groups allow.

    scikit-learn's ``StratifiedGroupKFold`` shuffled by ``seed``; ``folds`` is lowered to the number of groups.

    Parameters
    ----------
    labels : sequence of str [length n]
    groups : np.ndarray [shape=(n,)]
        From ``song_groups``.
    folds : int >= 2
    seed : int

    Returns
    -------
    splits : list of Split
        One per fold, its ``test`` the fold and its ``train`` the rest; together the tests cover every song once.

    Raises
    ------
    GenreDataError
        Fewer than two groups.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.asarray(labels, dtype=object)
    groups = np.asarray(groups)
    n_folds = min(folds, len(np.unique(groups)))
    if n_folds < 2:
        raise GenreDataError("a grouped split needs songs from at least two albums")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # It warns when a label has fewer songs than there are folds: the split is still grouped, just less even.
        warnings.simplefilter("ignore", UserWarning)
        return [
            Split(train=np.sort(train), test=np.sort(test))
            for train, test in splitter.split(np.zeros(len(labels)), labels.astype(str), groups)
        ]


def grouped_split(labels: Sequence[str], groups: np.ndarray, *, folds: int = FOLDS, seed: int = 0) -> Split:
    """One held-out fold (about ``1 / folds`` of the groups) whose training side has every label.

    Of the folds that leave every label something to learn from, the one that tests the most labels (the first
    of equals): with few albums a genre, a fold may hold none of some genre's.

    Raises
    ------
    GenreDataError
        No fold leaves every label a group to learn from.
    """
    labels = np.asarray(labels, dtype=object)
    everything = set(labels)
    usable = [s for s in grouped_folds(labels, groups, folds=folds, seed=seed) if set(labels[s.train]) == everything]
    if usable:
        return max(usable, key=lambda split: len(set(labels[split.test])))
    raise GenreDataError(
        "no split that holds whole albums out leaves every genre something to learn from; "
        "each genre needs songs in more albums"
    )


# Augmentation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Augmentation:
    """How ``augment`` alters training patches (seed 000: noise, shifts, brightness; plus SpecAugment's masks).

    Each alteration is applied to an example with ``probability``, independently of the others. The log-mel
    scale is ``log10(10000 * power + 1)``, so one unit is 10 dB.
    """

    probability: float = 0.5
    noise: float = 0.1  # the largest standard deviation of the Gaussian noise added
    shift: float = 0.25  # the largest circular time shift, as a share of the patch's frames
    gain: float = 0.3  # the largest change of level, up or down (±3 dB)
    tilt: float = 0.3  # brightness: the largest change of the highest band against the lowest (±3 dB)
    mask_bands: int = 12  # the widest run of adjacent mel bands set to the patch's mean level


def augment(
    patches: np.ndarray, *, rng: np.random.Generator, augmentation: Augmentation = Augmentation()
) -> np.ndarray:
    """A randomly altered copy of a batch of log-mel patches, for training only.

    Parameters
    ----------
    patches : np.ndarray [shape=(n, n_frames, n_mels)]
        Log-mel patches (``analysis.log_mel_patches``); left unchanged.
    rng : np.random.Generator
        Decides every alteration: the same generator state gives the same batch.
    augmentation : Augmentation

    Returns
    -------
    augmented : np.ndarray [shape=(n, n_frames, n_mels), dtype=float32]
        Shifted in time, raised or lowered and tilted in level, with noise and a masked band, each with
        ``augmentation.probability``; never below 0, the scale's floor.
    """
    x = np.array(patches, dtype=np.float32, copy=True)
    if x.ndim != 3:
        raise ValueError(f"patches must have shape (n, n_frames, n_mels); got {x.shape}")
    n, frames, bands = x.shape
    if n == 0:
        return x

    def chosen() -> np.ndarray:
        return rng.random(n) < augmentation.probability

    reach = int(augmentation.shift * frames)
    if reach > 0:
        shifts = rng.integers(-reach, reach + 1, size=n) * chosen()
        order = (np.arange(frames)[None, :] - shifts[:, None]) % frames
        x = np.take_along_axis(x, order[:, :, None], axis=1)
    gain = rng.uniform(-augmentation.gain, augmentation.gain, size=n) * chosen()
    tilt = rng.uniform(-augmentation.tilt, augmentation.tilt, size=n) * chosen()
    ramp = np.linspace(-0.5, 0.5, bands, dtype=np.float32)
    x += (gain[:, None, None] + tilt[:, None, None] * ramp[None, None, :]).astype(np.float32)
    sigma = rng.uniform(0, augmentation.noise, size=n) * chosen()
    x += (sigma[:, None, None] * rng.standard_normal(x.shape)).astype(np.float32)
    if augmentation.mask_bands > 0:
        for i in np.flatnonzero(chosen()):
            width = int(rng.integers(1, min(augmentation.mask_bands, bands) + 1))
            start = int(rng.integers(0, bands - width + 1))
            x[i, :, start : start + width] = x[i].mean()
    np.maximum(x, 0, out=x)
    return x


# Networks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSize:
    """The widths of the trained layers; the defaults suit a library of a few hundred to a few thousand songs.

    Seed 002 used convolutions of 64-512 filters, LSTMs of 128 units and dense layers of 1024 down to 32 on 8,000
    songs; a library's genres have far fewer songs, and a narrower network overfits them less.
    """

    filters: tuple[int, ...] = (16, 32, 64, 64)
    recurrent: int = 64
    hidden: int = 128
    embedding: int = 64


def build_network(
    arch: str,
    *,
    n_labels: int,
    patch_frames: int = 187,
    n_mels: int = 96,
    size: NetworkSize = NetworkSize(),
    mixed_precision: bool = False,
) -> keras.Model:
    """Build an untrained genre network of architecture ``arch``.

    Parameters
    ----------
    arch : str
        One of ``ARCHITECTURES``:

        - ``transfer``: musicnn's trained front and mid end (``TRANSFER_NETWORK``, frozen), the mean over time of
          its mid-end features (global average pooling), then batch norm, a dense layer and dropout (seed 000);
        - ``cnn``: four convolution blocks (3 × 3, batch norm, ReLU, 2 × 2 max pooling), then global average
          pooling (seeds 001, 002);
        - ``cnn-lstm``: the same blocks, their output read as a sequence over time by two LSTMs (seed 002);
        - ``cnn-bilstm``: the same, the first LSTM bidirectional (seed 002).

        All end in the same head: dense ``size.hidden`` (ReLU), dropout 0.5, dense ``size.embedding`` (ReLU, the
        layer named ``embedding``), dropout 0.25, and a softmax over ``n_labels`` (named ``genre``).
    n_labels : int >= 2
    patch_frames, n_mels : int
        The input patches' shape; the transfer architecture needs musicnn's 187 × 96.
    size : NetworkSize
        Widths of the trained layers (not of the frozen musicnn).
    mixed_precision : bool
        Compute the trained layers in float16 with float32 weights (for a GPU); the softmax stays float32.

    Returns
    -------
    network : keras.Model
        Input ``[shape=(n, patch_frames, n_mels)]`` log-mel patches, output ``[shape=(n, n_labels)]``
        probabilities. Its two layers are the models ``body`` (patches → features) and ``head``
        (features → probabilities); ``embedding_network`` reads the embedding from them.
    """
    keras = _keras()
    from keras import layers

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; the architectures are {', '.join(ARCHITECTURES)}")
    if n_labels < 2:
        raise ValueError(f"a classifier needs at least two labels; got {n_labels}")
    patches = keras.Input(shape=(patch_frames, n_mels), name="log_mel")
    # The frozen musicnn is built before the policy changes: it keeps computing in float32, as it was trained.
    frontend = _musicnn_frontend(patch_frames=patch_frames, n_mels=n_mels) if arch == "transfer" else None
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision else "float32")
    try:
        if frontend is not None:
            features = layers.GlobalAveragePooling1D(name="pool", dtype="float32")(frontend(patches))
        else:
            features = _convolutional_body(patches, arch=arch, size=size)
        body = keras.Model(patches, features, name="body")

        pooled = keras.Input(shape=(features.shape[-1],), name="features")
        x = pooled
        if arch == "transfer":
            # The frozen features' scales differ by orders of magnitude from one dimension to the next.
            x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name="features_bn")(x)
        x = layers.Dense(size.hidden, activation="relu", name="hidden")(x)
        x = layers.Dropout(0.5, name="hidden_dropout")(x)
        x = layers.Dense(size.embedding, activation="relu", name=EMBEDDING_LAYER)(x)
        x = layers.Dropout(0.25, name="embedding_dropout")(x)
        probabilities = layers.Dense(n_labels, activation="softmax", name=OUTPUT_LAYER, dtype="float32")(x)
        head = keras.Model(pooled, probabilities, name="head")
    finally:
        keras.config.set_dtype_policy(previous)
    return keras.Model(patches, head(body(patches)), name=f"genre_{arch.replace('-', '_')}")


def _convolutional_body(patches: keras.KerasTensor, *, arch: str, size: NetworkSize) -> keras.KerasTensor:
    from keras import layers

    frames, bands = patches.shape[1], patches.shape[2]
    x = layers.Reshape((frames, bands, 1), name="add_channel")(patches)
    x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name="input_bn")(x)
    for i, filters in enumerate(size.filters, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"conv{i}_bn")(x)
        x = layers.ReLU(name=f"conv{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"conv{i}_pool")(x)
    if arch == "cnn":
        return layers.GlobalAveragePooling2D(name="pool")(x)
    # Seed 002 reshapes the convolutions' output into a sequence over time: each step is one time slot's
    # frequency bands × filters.
    steps, width = x.shape[1], x.shape[2] * x.shape[3]
    x = layers.Reshape((steps, width), name="as_sequence")(x)
    first = layers.LSTM(size.recurrent, return_sequences=True, name="lstm1")
    x = layers.Bidirectional(first, name="bilstm1")(x) if arch == "cnn-bilstm" else first(x)
    return layers.LSTM(size.recurrent, name="lstm2")(x)


def _musicnn_frontend(*, patch_frames: int, n_mels: int) -> keras.Model:
    """musicnn with the committed MSD weights, up to the mid-end features, frozen (as ``Tagger.load`` builds it)."""
    from recommender.core.musicnn import build_musicnn
    from recommender.core.tagger import WEIGHTS_DIR

    card = json.loads((WEIGHTS_DIR / f"{TRANSFER_NETWORK}.json").read_text())
    inputs = card["input"]
    if (patch_frames, n_mels) != (inputs["patch_frames"], inputs["n_mels"]):
        raise ValueError(
            f"the transfer architecture takes musicnn's {inputs['patch_frames']} × {inputs['n_mels']} patches; "
            f"got {patch_frames} × {n_mels}"
        )
    network = build_musicnn(patch_frames=patch_frames, n_mels=n_mels, **card["architecture"])
    network.load_weights(WEIGHTS_DIR / card["weights"])
    keras = _keras()
    frontend = keras.Model(network.input, network.get_layer(TRANSFER_LAYER).output, name="musicnn_frontend")
    frontend.trainable = False
    return frontend


def frozen_features(patches: np.ndarray) -> np.ndarray:
    """The transfer architecture's frozen features of ``patches``: the mean over time of musicnn's mid-end features.

    They come from ``tagger``'s musicnn, which runs the fast exact rewrite (``fast_musicnn``): the numbers of the
    saved network's ``body`` within float32 round-off, 8 times faster on a CPU than the layer-for-layer graph the
    ``.keras`` file keeps (so that the file needs nothing of Musrec to load).

    Parameters
    ----------
    patches : np.ndarray [shape=(n, 187, 96)]

    Returns
    -------
    features : np.ndarray [shape=(n, 753), dtype=float32]
    """
    from recommender.core.tagger import get_tagger

    return get_tagger(TRANSFER_NETWORK).predict(patches).features["mean_pool"].astype(np.float32)


def head_network(network: keras.Model) -> keras.Model:
    """The head of ``network`` with two outputs: probabilities ``(n, n_labels)`` and embedding ``(n, d)``."""
    keras = _keras()
    head = network.get_layer("head")
    return keras.Model(head.input, [head.output, head.get_layer(EMBEDDING_LAYER).output])


def embedding_network(network: keras.Model) -> keras.Model:
    """``network`` with two outputs: the probabilities and the ``embedding`` layer, from one forward pass.

    Returns
    -------
    joint : keras.Model
        Input ``[shape=(n, patch_frames, n_mels)]``; outputs ``[probabilities (n, n_labels), embedding (n, d)]``.
    """
    keras = _keras()
    return keras.Model(network.input, head_network(network)(network.get_layer("body")(network.input)))


# Training ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig:
    """How ``train_classifier`` trains. ``seed`` fixes the weights' start, the batches, dropout and augmentation."""

    arch: str = "cnn"
    epochs: int = 30
    patience: int = 5  # epochs without a better validation loss before training stops (early stopping)
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    augmentation: Augmentation | None = Augmentation()
    # Weigh each label's examples by the inverse of its share, so that a big genre does not drown the others.
    balance_labels: bool = True
    size: NetworkSize = NetworkSize()
    # The transfer architecture's frozen part is run once on the training patches and on this many augmented
    # copies of them; each epoch draws every example from one of these, which is 10-30 times faster than running
    # the frozen network on every batch.
    transfer_copies: int = 1


@dataclass(frozen=True)
class Progress:
    """Where training stands, for a progress bar or a job's row.

    ``stage`` is ``features`` (the transfer architecture's frozen features, ``step`` of ``steps`` batches) or
    ``training`` (``step`` of ``steps`` batches in ``epoch`` of at most ``epochs``, ``loss`` that batch's).
    """

    stage: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float | None = None
    val_loss: float | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass
class History:
    """Per-epoch figures, at patch level: the training loss is on augmented batches with dropout on."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; its weights are the ones kept
    stopped_early: bool = False


@dataclass
class TrainingResult:
    classifier: GenreClassifier
    history: History
    seconds: dict[str, float]
    device: str  # "CPU" or "GPU"
    precision: str  # "float32" or "mixed_float16"


def stack_songs(song_patches: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every song's patches in one array, and which song each patch is from.

    Parameters
    ----------
    song_patches : sequence of np.ndarray [shape=(k_i, n_frames, n_mels)]

    Returns
    -------
    patches : np.ndarray [shape=(sum k_i, n_frames, n_mels), dtype=float32]
    song_of_patch : np.ndarray [shape=(sum k_i,), dtype=int64]
    """
    if not song_patches:
        raise ValueError("no songs")
    patches = np.concatenate([np.asarray(p, dtype=np.float32) for p in song_patches])
    song_of_patch = np.repeat(np.arange(len(song_patches)), [len(p) for p in song_patches])
    return patches, song_of_patch


def uses_gpu() -> bool:
    """Whether TensorFlow sees a GPU (it trains there, in mixed precision)."""
    from recommender.core.tagger import _tensorflow

    return bool(_tensorflow().config.list_physical_devices("GPU"))


def _keras() -> Any:
    """Keras, with TensorFlow imported first the way the rest of Musrec configures it (``tagger._tensorflow``)."""
    from recommender.core.tagger import _tensorflow

    _tensorflow()
    import keras

    return keras


def _inference(model: keras.Model) -> Callable[[np.ndarray], Any]:
    """``model`` in inference mode as one traced graph for any batch size: 3-5 times faster than calling it eagerly."""
    from recommender.core.tagger import _tensorflow

    tf = _tensorflow()
    signature = [tf.TensorSpec(shape=(None, *model.input.shape[1:]), dtype=tf.float32)]
    return tf.function(lambda x: model(x, training=False), input_signature=signature)


def train_classifier(
    patches: np.ndarray,
    song_of_patch: np.ndarray,
    labels: Sequence[str],
    *,
    train_songs: np.ndarray,
    validation_songs: np.ndarray | None = None,
    config: TrainingConfig = TrainingConfig(),
    on_progress: ProgressCallback | None = None,
) -> TrainingResult:
    """Train a genre classifier on the patches of ``train_songs``, stopping early on ``validation_songs``.

    Parameters
    ----------
    patches : np.ndarray [shape=(n_patches, n_frames, n_mels)]
        Log-mel patches of all songs (``stack_songs``).
    song_of_patch : np.ndarray [shape=(n_patches,), dtype=int]
        The song (an index into ``labels``) each patch is from.
    labels : sequence of str [length n_songs]
        Each song's genre. The classifier's labels are those of ``train_songs``, sorted.
    train_songs : np.ndarray [shape=(n_train,), dtype=int]
        The songs it learns from; each of their patches is an example with the song's label.
    validation_songs : np.ndarray [shape=(n_validation,), dtype=int] or None
        Songs for early stopping: training stops once their loss has not improved for ``config.patience`` epochs,
        and the best epoch's weights are kept. Without them the training loss decides.
    config : TrainingConfig
    on_progress : callable, optional
        Called with a ``Progress`` after every batch.

    Returns
    -------
    TrainingResult
        The classifier, its per-epoch history, wall-clock seconds (``features``, ``training``), the device and
        the precision it trained in.
    """
    keras = _keras()

    if config.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {config.arch!r}; the architectures are {', '.join(ARCHITECTURES)}")
    labels = np.asarray(labels, dtype=object)
    patches = np.asarray(patches, dtype=np.float32)
    song_of_patch = np.asarray(song_of_patch)
    if len(patches) != len(song_of_patch):
        raise ValueError(f"{len(patches)} patches but {len(song_of_patch)} song indices")
    vocabulary = sorted({str(label) for label in labels[train_songs]}, key=str.casefold)
    if len(vocabulary) < 2:
        raise GenreDataError("the training songs must have at least two genres")
    index = {label: i for i, label in enumerate(vocabulary)}
    train_patches = np.flatnonzero(np.isin(song_of_patch, train_songs))
    targets = np.array([index.get(str(label), -1) for label in labels], dtype=np.int64)[song_of_patch]
    validation_patches = np.array([], dtype=np.int64)
    if validation_songs is not None and len(validation_songs):
        validation_patches = np.flatnonzero(np.isin(song_of_patch, validation_songs) & (targets >= 0))
    weights = np.ones(len(vocabulary), dtype=np.float32)
    if config.balance_labels:
        counts = np.bincount(targets[train_patches], minlength=len(vocabulary)).astype(np.float32)
        weights = len(train_patches) / (len(vocabulary) * np.maximum(counts, 1))

    gpu = uses_gpu()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = build_network(
        config.arch,
        n_labels=len(vocabulary),
        patch_frames=patches.shape[1],
        n_mels=patches.shape[2],
        size=config.size,
        mixed_precision=gpu,
    )
    batch = config.batch_size
    steps = max(1, -(-len(train_patches) // batch))
    seconds: dict[str, float] = {"features": 0.0}

    if config.arch == "transfer":
        # Only the head learns, and the frozen body is deterministic: its features are computed once.
        started = time.perf_counter()
        width = network.get_layer("body").output.shape[-1]
        learner = network.get_layer("head")
        copies = [patches[train_patches]]
        for _ in range(max(config.transfer_copies, 0) if config.augmentation else 0):
            copies.append(augment(patches[train_patches], rng=rng, augmentation=config.augmentation))
        feature_steps = len(copies) * steps + max(1, -(-len(validation_patches) // batch))
        done = 0

        def features_of(x: np.ndarray) -> np.ndarray:
            nonlocal done
            out = []
            for start in range(0, len(x), batch):
                out.append(frozen_features(x[start : start + batch]))
                done += 1
                if on_progress:
                    on_progress(Progress("features", 0, config.epochs, min(done, feature_steps), feature_steps))
            return np.concatenate(out) if out else np.zeros((0, width), np.float32)

        train_inputs = np.stack([features_of(copy) for copy in copies])  # (copies, n_train_patches, width)
        validation_inputs = features_of(patches[validation_patches])
        seconds["features"] = time.perf_counter() - started
    else:
        learner = network
        train_inputs = patches[train_patches][None]
        validation_inputs = patches[validation_patches]

    learner.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train_targets = targets[train_patches]
    validation_targets = targets[validation_patches]
    run_learner = _inference(learner)
    history = History()
    best_loss, best_weights, waited = np.inf, learner.get_weights(), 0
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(train_patches))
        losses, correct = [], 0.0
        for step in range(steps):
            chosen = order[step * batch : (step + 1) * batch]
            if config.arch == "transfer":
                x = train_inputs[rng.integers(0, len(train_inputs), size=len(chosen)), chosen]
            elif config.augmentation is not None:
                x = augment(train_inputs[0, chosen], rng=rng, augmentation=config.augmentation)
            else:
                x = train_inputs[0, chosen]
            y = train_targets[chosen]
            loss, accuracy = learner.train_on_batch(x, y, sample_weight=weights[y])
            losses.append(float(loss))
            correct += float(accuracy) * len(chosen)
            if on_progress:
                on_progress(Progress("training", epoch, config.epochs, step + 1, steps, float(loss)))
        history.loss.append(float(np.mean(losses)))
        history.accuracy.append(correct / len(train_patches))
        if len(validation_patches):
            probabilities = _predict(run_learner, validation_inputs, batch_size=max(batch, 64))
            picked = np.clip(probabilities[np.arange(len(validation_targets)), validation_targets], 1e-7, 1.0)
            history.val_loss.append(float(-np.log(picked).mean()))
            history.val_accuracy.append(float((probabilities.argmax(axis=1) == validation_targets).mean()))
            watched = history.val_loss[-1]
        else:
            watched = history.loss[-1]
        if on_progress:
            on_progress(
                Progress(
                    "training",
                    epoch,
                    config.epochs,
                    steps,
                    steps,
                    history.loss[-1],
                    history.val_loss[-1] if history.val_loss else None,
                )
            )
        if watched < best_loss - 1e-4:
            best_loss, best_weights, waited, history.best_epoch = watched, learner.get_weights(), 0, epoch
        else:
            waited += 1
            if waited >= config.patience:
                history.stopped_early = epoch < config.epochs
                break
    learner.set_weights(best_weights)
    seconds["training"] = time.perf_counter() - started
    classifier = GenreClassifier(arch=config.arch, labels=tuple(vocabulary), network=network)
    return TrainingResult(
        classifier=classifier,
        history=history,
        seconds=seconds,
        device="GPU" if gpu else "CPU",
        precision="mixed_float16" if gpu else "float32",
    )


def _predict(run: Callable[[np.ndarray], Any], x: np.ndarray, *, batch_size: int) -> np.ndarray:
    outputs = [np.asarray(run(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs).astype(np.float32)


# The trained classifier --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SongPredictions:
    """A classifier's outputs for ``n`` songs, each the mean over the song's patches.

    Attributes
    ----------
    probabilities : np.ndarray [shape=(n, n_labels), dtype=float32]
        Rows sum to 1; columns in the order of ``GenreClassifier.labels``.
    embeddings : np.ndarray [shape=(n, d), dtype=float32]
        The ``embedding`` layer (before the softmax).
    """

    probabilities: np.ndarray
    embeddings: np.ndarray

    def best(self, labels: Sequence[str]) -> list[tuple[str, float]]:
        """Each song's most probable label and its probability (the confidence shown with it)."""
        picked = self.probabilities.argmax(axis=1)
        return [(labels[i], float(self.probabilities[row, i])) for row, i in enumerate(picked)]


class GenreClassifier:
    """A trained genre network and its labels; ``save`` and ``load`` keep them in a folder."""

    def __init__(self, *, arch: str, labels: Sequence[str], network: keras.Model) -> None:
        self.arch = arch
        self.labels = tuple(labels)
        self.network = network
        self._joint: Callable[[np.ndarray], Any] | None = None

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(n_frames, n_mels)`` of the patches it takes."""
        return tuple(self.network.input.shape[1:])  # type: ignore[return-value]

    def predict_songs(
        self, patches: np.ndarray, song_of_patch: np.ndarray, *, n_songs: int, batch_size: int = 32
    ) -> SongPredictions:
        """Each song's genre probabilities and embedding: the means over its patches.

        Parameters
        ----------
        patches : np.ndarray [shape=(n_patches, n_frames, n_mels)]
        song_of_patch : np.ndarray [shape=(n_patches,), dtype=int]
            Values in ``range(n_songs)``; a song without patches gets zeros.
        n_songs : int

        Returns
        -------
        SongPredictions
        """
        if self._joint is None:
            if self.arch == "transfer":
                run_head = _inference(head_network(self.network))
                self._joint = lambda x: run_head(frozen_features(x))
            else:
                self._joint = _inference(embedding_network(self.network))
        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or tuple(patches.shape[1:]) != self.input_shape:
            raise ValueError(f"patches must have shape (n, {self.input_shape[0]}, {self.input_shape[1]})")
        width = self.network.get_layer("head").get_layer(EMBEDDING_LAYER).units
        probabilities = np.zeros((len(patches), len(self.labels)), np.float32)
        embeddings = np.zeros((len(patches), width), np.float32)
        for start in range(0, len(patches), batch_size):
            chunk = slice(start, start + batch_size)
            p, e = self._joint(patches[chunk])
            probabilities[chunk], embeddings[chunk] = np.asarray(p), np.asarray(e)
        counts = np.maximum(np.bincount(song_of_patch, minlength=n_songs), 1)[:, None]
        song_probabilities = np.zeros((n_songs, len(self.labels)), np.float32)
        song_embeddings = np.zeros((n_songs, width), np.float32)
        np.add.at(song_probabilities, song_of_patch, probabilities)
        np.add.at(song_embeddings, song_of_patch, embeddings)
        return SongPredictions(probabilities=song_probabilities / counts, embeddings=song_embeddings / counts)

    def save(self, directory: Path, *, extra: dict[str, Any] | None = None) -> None:
        """Write ``model.keras`` (the whole network, frozen part included) and ``labels.json`` to ``directory``.

        ``extra`` (JSON-serialisable: the windows a song is analysed from, say) is kept in ``labels.json`` too.
        """
        directory.mkdir(parents=True, exist_ok=True)
        self.network.save(directory / MODEL_FILE)
        info = {"arch": self.arch, "labels": list(self.labels), "input_shape": list(self.input_shape)}
        (directory / LABELS_FILE).write_text(json.dumps(info | (extra or {}), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: Path) -> GenreClassifier:
        """The classifier ``save`` wrote to ``directory``.

        Raises
        ------
        FileNotFoundError
            ``directory`` lacks ``model.keras`` or ``labels.json``.
        """
        keras = _keras()
        info = json.loads((directory / LABELS_FILE).read_text())
        network = keras.saving.load_model(directory / MODEL_FILE, compile=False)
        return cls(arch=info["arch"], labels=info["labels"], network=network)

    @staticmethod
    def saved_info(directory: Path) -> dict[str, Any]:
        """What ``labels.json`` says (the labels, the architecture, what ``save`` was given), without TensorFlow."""
        return json.loads((directory / LABELS_FILE).read_text())


def config_summary(config: TrainingConfig) -> dict[str, Any]:
    """``config`` as JSON-ready values, for the model card."""
    return asdict(config)
