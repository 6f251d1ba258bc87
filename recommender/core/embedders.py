"""Song embeddings from one or more musicnn networks (Django-free).

An *embedder* names the networks whose features make a song's vector and how they are combined. Its card
(``weights/<name>.json``) is the model card: the networks, the layer, and the per-dimension standardisation
statistics fitted once on the demo catalogue (``scripts/fit_embedding_statistics.py``). A single network is an
embedder too, with no card of its own and no standardisation: the vectors it makes are those Musrec stored before
embedders existed, under the same key.

    embedder = get_embedder("musicnn_pair")
    predictions = embedder.predict(patches)          # {network name: Prediction}
    raw = {name: p.features["penultimate"].mean(axis=0, keepdims=True) for name, p in predictions.items()}
    embedder.card.combine(raw)                       # (1, 400), unit length

Why two networks, standardised: docs/quality.md ("The two-network embedding").
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.core.tagger import MODEL_NAMES, WEIGHTS_DIR, get_tagger, load_spec
from recommender.core.vectors import unit_length

if TYPE_CHECKING:
    from recommender.core.tagger import ModelSpec, Prediction, Tagger

PAIR = "musicnn_pair"
EMBEDDER_NAMES = (*MODEL_NAMES, PAIR)


@dataclass(frozen=True)
class Standardisation:
    """Per-dimension mean and standard deviation of one network's raw song vectors over a reference catalogue.

    Attributes
    ----------
    mean, std : np.ndarray [shape=(d,)], float64
        ``std`` is infinite for a dimension that barely varies (a unit of the network that is off for every
        song): divided by its tiny spread, its rounding noise would weigh as much as a real feature.
    """

    mean: np.ndarray
    std: np.ndarray

    # A dimension whose spread is below this share of the median spread is dropped (std = inf).
    FLAT_SHARE = 1e-3

    @classmethod
    def fit(cls, vectors: np.ndarray) -> Standardisation:
        """Fit on ``vectors`` [shape=(n, d)], the raw song vectors of a reference catalogue (n > 1)."""
        vectors = np.asarray(vectors, dtype=np.float64)
        if vectors.ndim != 2 or len(vectors) < 2:
            raise ValueError(f"need at least two vectors of shape (n, d); got {vectors.shape}")
        std = vectors.std(axis=0)
        flat = std < cls.FLAT_SHARE * np.median(std)
        return cls(mean=vectors.mean(axis=0), std=np.where(flat, np.inf, std))

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` [shape=(n, d)] standardised; float64."""
        return (np.asarray(vectors, dtype=np.float64) - self.mean) / self.std

    def to_json(self) -> dict[str, list[float | None]]:
        # JSON has no infinity: a dropped dimension's std is written as null.
        return {
            "mean": [round(float(x), 9) for x in self.mean],
            "std": [None if not np.isfinite(x) else round(float(x), 9) for x in self.std],
        }

    @classmethod
    def from_json(cls, data: dict[str, list[float | None]]) -> Standardisation:
        std = np.array([np.inf if x is None else x for x in data["std"]], dtype=np.float64)
        return cls(mean=np.array(data["mean"], dtype=np.float64), std=std)


@dataclass(frozen=True)
class EmbedderCard:
    """What an embedder is made of; cheap to read (no TensorFlow).

    ``version`` changes whenever the vectors it makes would change (new statistics included), so that vectors of
    two versions are never compared: they are stored under different keys (``recommender.core.analysis.model_key``).
    """

    name: str
    version: str
    networks: tuple[str, ...]
    layer: str
    standardisation: dict[str, Standardisation] = field(default_factory=dict)
    # Where the statistics came from and what was measured, as the card says; shown, never computed on.
    about: dict[str, object] = field(default_factory=dict)

    @property
    def primary(self) -> str:
        """The network whose tag scores are stored unprefixed and name the predicted genres."""
        return self.networks[0]

    @property
    def dimensions(self) -> int:
        return sum(load_spec(name).embedding_dim for name in self.networks)

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """Song vectors from each network's raw vectors.

        Parameters
        ----------
        raw : dict[str, np.ndarray [shape=(n, d_network)]]
            Each network's ``layer`` features, averaged over each song's windows.

        Returns
        -------
        vectors : np.ndarray [shape=(n, dimensions)], float32, unit length
            Each network's part standardised (when the card has statistics) and scaled to unit length, then the
            parts side by side, scaled to unit length: the cosine of two songs is the mean of the networks' cosines.
        """
        parts = []
        for name in self.networks:
            part = np.asarray(raw[name], dtype=np.float64)
            if name in self.standardisation:
                part = self.standardisation[name].apply(part)
            parts.append(unit_length(part))
        return unit_length(np.concatenate(parts, axis=-1), dtype=np.float32)

    def split_raw(self, raw_vector: np.ndarray) -> dict[str, np.ndarray]:
        """A stored raw vector [shape=(..., sum of the networks' widths)] back into each network's part."""
        parts, start = {}, 0
        for name in self.networks:
            width = load_spec(name).embedding_dim
            parts[name] = np.asarray(raw_vector)[..., start : start + width]
            start += width
        return parts

    def with_standardisation(self, stats: dict[str, Standardisation], *, version: str) -> EmbedderCard:
        return EmbedderCard(self.name, version, self.networks, self.layer, stats, self.about)


@functools.cache
def load_card(name: str, *, weights_dir: Path = WEIGHTS_DIR) -> EmbedderCard:
    """The card of embedder ``name``: a network's own (no statistics), or ``weights/<name>.json``.

    Read once per process (every request asks for the active model's key): a new card needs a restart.
    """
    if name not in EMBEDDER_NAMES:
        raise ValueError(f"unknown embedder {name!r}; the embedders are {', '.join(EMBEDDER_NAMES)}")
    if name in MODEL_NAMES:
        spec = load_spec(name)
        return EmbedderCard(name, spec.version, (name,), spec.embedding_layer)
    card = json.loads((weights_dir / f"{name}.json").read_text())
    stats = card.get("standardisation", {})
    return EmbedderCard(
        name=card["name"],
        version=card["version"],
        networks=tuple(card["networks"]),
        layer=card["layer"],
        standardisation={net: Standardisation.from_json(stats[net]) for net in card["networks"] if net in stats},
        about={key: card[key] for key in ("description", "fitted_on", "evidence") if key in card},
    )


def tag_key(card: EmbedderCard, network: str, tag: str) -> str:
    """How a network's tag is named among a song's stored tag scores: the primary network's plainly, the others
    after their vocabulary's name (``mtt:guitar``), since the vocabularies overlap (both have "rock")."""
    return tag if network == card.primary else f"{network.split('_')[0]}:{tag}"


class Embedder:
    """An embedder's networks, loaded; one per process through ``get_embedder``."""

    def __init__(self, card: EmbedderCard, taggers: list[Tagger]) -> None:
        specs = {
            (t.spec.sample_rate, t.spec.n_fft, t.spec.hop_length, t.spec.n_mels, t.spec.patch_frames) for t in taggers
        }
        if len(specs) != 1:
            raise ValueError(f"the networks of {card.name} want different inputs; one log-mel must serve them all")
        self.card = card
        self.taggers = taggers
        self.spec: ModelSpec = taggers[0].spec
        self.uses_gpu = taggers[0].uses_gpu
        self.device = taggers[0].device
        self.batch_size = taggers[0].batch_size

    def predict(self, patches: np.ndarray) -> dict[str, Prediction]:
        """Each network's prediction for ``patches`` [shape=(n, patch_frames, n_mels)]; see ``Tagger.predict``."""
        return {tagger.spec.name: tagger.predict(patches) for tagger in self.taggers}


_embedders: dict[str, Embedder] = {}
_loading = threading.Lock()


def get_embedder(name: str) -> Embedder:
    """The process's one ``Embedder`` for ``name``; its networks are shared with ``get_tagger``."""
    with _loading:
        if name not in _embedders:
            card = load_card(name)
            _embedders[name] = Embedder(card, [get_tagger(network) for network in card.networks])
        return _embedders[name]
