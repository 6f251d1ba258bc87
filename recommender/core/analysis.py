"""From audio files to what Musrec stores about a song (Django-free).

``analyse_files`` decodes a few windows spread over each song, turns them into log-mel
patches, runs all songs' patches through the embedder's networks in one batch (one forward
pass a network on a GPU), and pools each song's patches into one embedding, tag scores and
a predicted genre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.core import decoding, descriptors, mel
from recommender.core.decoding import AudioError

if TYPE_CHECKING:
    from recommender.core.embedders import Embedder, EmbedderCard
    from recommender.core.tagger import ModelSpec

# Windows of 3 s analysed per song, spread across the whole track. Chosen by measuring retrieval
# quality against speed (docs/quality.md): more than 8 move the demo's P@10 by less than its noise
# (4 lose 0.025). With both networks, 8 take 0.17 s of one core for a 4-minute song, 1,400x real
# time (docs/benchmarks.md, "Fast musicnn"); 12 would take 0.25 s, 16 would miss the 800x target.
WINDOWS_PER_SONG = 8

# The MSD tags that name a genre, with the genre name Musrec files them under.
GENRE_TAGS = {
    "rock": "Rock",
    "pop": "Pop",
    "alternative": "Alternative",
    "indie": "Indie",
    "electronic": "Electronic",
    "dance": "Dance",
    "alternative rock": "Alternative rock",
    "jazz": "Jazz",
    "metal": "Metal",
    "classic rock": "Classic rock",
    "soul": "Soul",
    "indie rock": "Indie rock",
    "electronica": "Electronica",
    "folk": "Folk",
    "punk": "Punk",
    "blues": "Blues",
    "hard rock": "Hard rock",
    "ambient": "Ambient",
    "experimental": "Experimental",
    "Hip-Hop": "Hip hop",
    "country": "Country",
    "easy listening": "Easy listening",
    "funk": "Funk",
    "electro": "Electro",
    "heavy metal": "Heavy metal",
    "Progressive rock": "Progressive rock",
    "rnb": "R&B",
    "indie pop": "Indie pop",
    "House": "House",
    "chillout": "Chillout",
    "instrumental": "Instrumental",
    "acoustic": "Acoustic",
}


@dataclass(frozen=True)
class SongAnalysis:
    """What the analysis of one song yields.

    Attributes
    ----------
    embedding : np.ndarray [shape=(d,)]
        The song's unit-length embedding: each network's embedding layer averaged over its patches,
        combined as the embedder's card says (``EmbedderCard.combine``).
    raw_vector : np.ndarray [shape=(d,)]
        The networks' averaged embedding layers side by side, before standardisation and scaling: what
        refitting the card's statistics needs, without running the networks again.
    tag_scores : dict[str, float]
        Every tag of every network with its mean score over the patches, 0 to 1, named by ``embedders.tag_key``.
    predicted_genres : list[str]
        The highest-scoring genre tag of the primary network, as a genre name.
    """

    embedding: np.ndarray
    raw_vector: np.ndarray
    tag_scores: dict[str, float]
    predicted_genres: list[str]
    duration: float
    tempo_bpm: float | None
    loudness_db: float
    energy: float
    spectrogram_png: bytes


def model_key(card: EmbedderCard) -> str:
    """The name under which an embedder's vectors are stored; vectors of different keys are never compared."""
    return f"{card.name}@{card.version}:{card.layer}:w{WINDOWS_PER_SONG}"


@dataclass
class _Prepared:
    patches: np.ndarray  # [shape=(n_windows, patch_frames, n_mels)]
    duration: float
    descriptors: descriptors.Descriptors
    spectrogram_png: bytes


def analyse_files(
    paths: Sequence[Path],
    *,
    model: Embedder,
    max_seconds: float | None = None,
    min_seconds: float = 0.0,
    windows: int = WINDOWS_PER_SONG,
) -> list[SongAnalysis | AudioError]:
    """Analyse each file; a file that cannot be analysed gets the ``AudioError`` saying why, in its place.

    A file longer than ``max_seconds`` or shorter than ``min_seconds`` is refused before it is decoded.
    """
    from recommender.core.pictures import mel_image

    spec = model.spec
    prepared: list[_Prepared | AudioError] = []
    for path in paths:
        try:
            info = decoding.probe(path)
            decoding.check_duration(info, max_seconds=max_seconds, min_seconds=min_seconds)
            clips, mels = song_windows(path, spec=spec, windows=windows, info=info)
            prepared.append(
                _Prepared(
                    patches=mels,
                    duration=info.duration,
                    # The windows serve tempo and loudness too: no second decode.
                    descriptors=descriptors.describe(clips, sample_rate=spec.sample_rate),
                    spectrogram_png=mel_image(mels),
                )
            )
        except AudioError as error:
            prepared.append(error)

    ready = [p for p in prepared if isinstance(p, _Prepared)]
    if not ready:
        return list(prepared)  # type: ignore[arg-type]
    from recommender.core.embedders import tag_key

    card = model.card
    vocabularies = {tagger.spec.name: tagger.spec.tags for tagger in model.taggers}
    predictions = model.predict(np.concatenate([p.patches for p in ready]))
    results: list[SongAnalysis | AudioError] = []
    start = 0
    for item in prepared:
        if isinstance(item, AudioError):
            results.append(item)
            continue
        end = start + len(item.patches)
        raw = {name: p.features[card.layer][start:end].mean(axis=0) for name, p in predictions.items()}
        tag_scores = {
            tag_key(card, name, tag): round(float(score), 4)
            for name, p in predictions.items()
            for tag, score in zip(vocabularies[name], p.tags[start:end].mean(axis=0), strict=True)
        }
        results.append(
            SongAnalysis(
                embedding=card.combine({name: vector[None] for name, vector in raw.items()})[0],
                raw_vector=np.concatenate([raw[name] for name in card.networks]).astype(np.float32),
                tag_scores=tag_scores,
                predicted_genres=predicted_genres(tag_scores),
                duration=item.duration,
                tempo_bpm=item.descriptors.tempo_bpm,
                loudness_db=item.descriptors.loudness_db,
                energy=item.descriptors.energy,
                spectrogram_png=item.spectrogram_png,
            )
        )
        start = end
    return results


def song_windows(
    path: Path, *, spec: ModelSpec, windows: int = WINDOWS_PER_SONG, info: decoding.AudioInfo | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The analysis windows of a song and their log-mel patches, as the network wants them.

    Returns
    -------
    clips : np.ndarray [shape=(k, window_samples)]
        Up to ``windows`` windows of exactly one patch each (no padding), spread across the whole song.
    mels : np.ndarray [shape=(k, spec.patch_frames, spec.n_mels)]

    Raises
    ------
    AudioError
        The file cannot be decoded, or it is silent.
    """
    clips = decoding.load_windows(
        path, sample_rate=spec.sample_rate, n_windows=windows, window_seconds=mel.PATCH_SECONDS, info=info
    )
    if descriptors.is_silent(clips):
        raise AudioError("the file is silent")
    return clips, log_mel_patches(clips, spec=spec)


def log_mel_patches(clips: np.ndarray, *, spec: ModelSpec) -> np.ndarray:
    """``clips`` [shape=(k, window_samples)] as log-mel patches [shape=(k, spec.patch_frames, spec.n_mels)]."""
    return mel.log_mel(
        clips,
        sample_rate=spec.sample_rate,
        n_fft=spec.n_fft,
        hop_length=spec.hop_length,
        n_mels=spec.n_mels,
        center=False,
    )


def predicted_genres(tag_scores: dict[str, float]) -> list[str]:
    """The genre of the best-scoring genre tag (MSD's tags mix genres, moods and decades)."""
    genres = [(score, GENRE_TAGS[tag]) for tag, score in tag_scores.items() if tag in GENRE_TAGS]
    return [max(genres)[1]] if genres else []
