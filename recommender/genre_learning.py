"""Training genre models on the library's own genre tags (or a CSV), and predicting songs' genres with them.

``catalogue_songs`` and ``csv_songs`` gather labelled songs; ``train_and_register`` decodes them, holds whole albums
out, trains (``recommender.core.genre_training``), scores the model and both baselines on the held-out albums
(``recommender.core.genre_report``) and writes the model, its labels, its model card and its charts to the
registry (``MUSREC_MODEL_DIR``). ``predict_genres`` is what activating a model runs; ``restore_tag_genres`` what
deactivating it runs. ``manage.py train_genre_model`` and the admin's training job (``genre_jobs``) share them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.genre_tree import broader_genre, is_genre
from catalog.models import UNKNOWN_ARTIST, Genre, Song
from recommender.core import charts, genre_report
from recommender.core.analysis import WINDOWS_PER_SONG, predicted_genres, song_windows
from recommender.core.decoding import AudioError
from recommender.core.genre_training import (
    FOLDS,
    GenreClassifier,
    GenreDataError,
    Progress,
    TrainingConfig,
    check_trainable,
    grouped_folds,
    grouped_split,
    song_groups,
    stack_songs,
    train_classifier,
    unsplittable_labels,
)
from recommender.core.tagger import load_spec
from recommender.genre_registry import GenreModel, GenrePrediction
from recommender.models import Embedding

logger = logging.getLogger(__name__)

# The baselines: the network whose tags analysis maps to genres, and whose penultimate layer is the frozen feature.
BASELINE_NETWORK = "msd_musicnn"
CARD_FILE = "card.json"
CONFUSION_FILE = "confusion.png"
CURVES_FILE = "curves.png"
PREDICTION_BATCH_SONGS = 16

CATALOGUE_RULE = (
    "Catalogue songs with exactly one genre tag are labelled with it; songs with several tags (ambiguous) or none "
    "(what the model is for) are left out. With --top-level each tag is first replaced by its top-level genre in "
    "the genre tree (Death metal → Metal), and songs whose tags all roll up to one genre are labelled with it. "
    "Genres with one song, or with all their songs in one album (or one artist's albums), cannot be held out and "
    "are left out too."
)
CSV_RULE = "Every row of the CSV: path, genre, and album and artist (from the file's tags when the CSV has none)."


@dataclass(frozen=True)
class LabelledSong:
    """A song to learn from: its file, genre, and the album and artist that decide its side of a split."""

    path: Path
    label: str
    # Its title, "" when unknown. Two artists' albums of one title ("Greatest Hits") are taken for one: a split
    # then keeps both on one side, which costs a little evenness and never lets an album leak into the test.
    album: str
    artist: str  # "" when unknown
    name: str  # for messages
    song_id: int | None = None


@dataclass
class LabelledSet:
    songs: list[LabelledSong]
    source: str
    rule: str
    left_out: dict[str, str] = field(default_factory=dict)  # genre → why it was left out


# Gathering labelled songs -------------------------------------------------------------------------------------


def top_level_genre(name: str) -> str:
    """The genre at the top of ``name``'s branch of the genre tree (the admin's, else the import's default)."""
    genre = Genre.objects.existing(name)
    if genre is not None:
        seen = {genre.pk}
        while genre.parent_id is not None and genre.parent_id not in seen:
            seen.add(genre.parent_id)
            genre = genre.parent
        return genre.name
    seen_names = {name.casefold()}
    while (parent := broader_genre(name)) and parent.casefold() not in seen_names:
        seen_names.add(parent.casefold())
        name = parent
    return name


def catalogue_songs(*, top_level: bool = False) -> LabelledSet:
    """The catalogue's songs labelled by their own genre tags, under ``CATALOGUE_RULE``."""
    candidates = []
    songs = Song.objects.catalogue().select_related("artist", "album").prefetch_related("genres").order_by("pk")
    for song in songs:
        names = {genre.name for genre in song.genres.all() if is_genre(genre.name)}
        if top_level:
            names = {top_level_genre(name) for name in names}
        if len(names) != 1:
            continue
        try:
            path = Path(song.audio.path)
        except NotImplementedError:  # remote storage: not supported for training
            continue
        artist = "" if song.artist.name == UNKNOWN_ARTIST else song.artist.name
        candidates.append(
            LabelledSong(
                path=path,
                label=names.pop(),
                album=song.album.title if song.album_id else "",
                artist=artist,
                name=str(song),
                song_id=song.pk,
            )
        )
    labels = [song.label for song in candidates]
    left_out = unsplittable_labels(labels, song_groups([s.album for s in candidates], [s.artist for s in candidates]))
    kept = [song for song in candidates if song.label not in left_out]
    return LabelledSet(songs=kept, source="catalogue", rule=CATALOGUE_RULE, left_out=left_out)


def csv_songs(csv_path: Path) -> LabelledSet:
    """The rows of a CSV with ``path`` and ``genre`` columns (``label`` is accepted too), ``album`` and ``artist``
    optional. Paths are absolute or relative to the CSV's folder.

    Raises
    ------
    GenreDataError
        The file cannot be read, lacks a column, names files that do not exist, or its genres cannot be split.
    """
    from catalog.tags import read_tags

    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
            genre_column = columns.get("genre") or columns.get("label")
            if "path" not in columns or genre_column is None:
                found = ", ".join(f"`{name}`" for name in columns) or "none"
                raise GenreDataError(
                    f"{csv_path} needs a header with `path` and `genre` columns (and optionally `album` and "
                    f"`artist`); its columns: {found}"
                )
            rows = [(reader.line_num, record) for record in reader]
    except FileNotFoundError:
        raise GenreDataError(f"no such file: {csv_path}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise GenreDataError(f"{csv_path} is not a readable UTF-8 CSV file ({error})") from error

    def cell(record: dict[str, str], name: str) -> str:
        key = columns.get(name)
        return " ".join((record.get(key) or "").split()) if key else ""

    songs, missing, unlabelled = [], [], []
    for line, record in rows:
        raw_path, label = cell(record, "path"), " ".join((record.get(genre_column) or "").split())
        if not raw_path and not label:
            continue
        path = (csv_path.parent / Path(raw_path).expanduser()).resolve()
        if not raw_path or not path.is_file():
            missing.append(f"line {line}: {raw_path or '(no path)'}")
            continue
        if not label:
            unlabelled.append(f"line {line}: {raw_path}")
            continue
        album, artist = cell(record, "album"), cell(record, "artist")
        if "album" not in columns and "artist" not in columns:
            tags = read_tags(path)
            album, artist = tags.album, tags.album_artist or tags.artist
        songs.append(
            LabelledSong(
                path=path,
                label=label,
                album=album,
                artist=artist,
                name=path.name,
            )
        )
    for problems, what in ((missing, "names files that do not exist"), (unlabelled, "has rows without a genre")):
        if problems:
            shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
            raise GenreDataError(f"{csv_path} {what} ({len(problems)}): {shown}")
    labels = [song.label for song in songs]
    check_trainable(labels, song_groups([s.album for s in songs], [s.artist for s in songs]))
    return LabelledSet(songs=songs, source=str(csv_path), rule=CSV_RULE)


# Training ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingOptions:
    arch: str = "cnn"
    epochs: int = 30
    patience: int = 5
    seed: int = 0
    windows: int = WINDOWS_PER_SONG
    top_level: bool = False
    batch_size: int = 32

    def config(self) -> TrainingConfig:
        return TrainingConfig(
            arch=self.arch, epochs=self.epochs, patience=self.patience, seed=self.seed, batch_size=self.batch_size
        )


ProgressCallback = Callable[[Progress], None]


@dataclass
class Decoded:
    songs: list[LabelledSong]
    patches: list[np.ndarray]  # each [shape=(k, 187, 96)]
    failed: list[tuple[str, str]]  # (name, reason)


def decode_songs(songs: Iterable[LabelledSong], *, windows: int, on_progress: ProgressCallback | None) -> Decoded:
    """Each song's log-mel patches, as analysis makes them; songs that cannot be decoded are listed with why."""
    spec = load_spec(BASELINE_NETWORK)
    songs = list(songs)
    decoded = Decoded(songs=[], patches=[], failed=[])
    for i, song in enumerate(songs, start=1):
        try:
            _, mels = song_windows(song.path, spec=spec, windows=windows)
            decoded.songs.append(song)
            decoded.patches.append(mels)
        except AudioError as error:
            decoded.failed.append((song.name, str(error)))
        if on_progress:
            on_progress(Progress("decoding", 0, 0, i, len(songs)))
    return decoded


def validation_split(labels: np.ndarray, groups: np.ndarray, train: np.ndarray, *, seed: int) -> tuple:
    """The training songs split again by album groups: (fit, validation) for early stopping.

    The fit side must keep every label; when no fold allows that, there is no validation set and the training
    loss decides when to stop.
    """
    try:
        for split in grouped_folds(labels[train], groups[train], folds=FOLDS, seed=seed + 1):
            if set(labels[train][split.train]) == set(labels[train]):
                return train[split.train], train[split.test]
    except GenreDataError:
        pass
    return train, np.array([], dtype=np.int64)


def train_and_register(
    labelled: LabelledSet,
    options: TrainingOptions,
    *,
    genre_model: GenreModel,
    on_progress: ProgressCallback | None = None,
) -> GenreModel:
    """Train on ``labelled``, evaluate on held-out albums beside the baselines, write the registry folder, and
    record it all on ``genre_model`` (status done).

    Raises
    ------
    GenreDataError
        Too few songs could be decoded to hold whole albums out for every genre.
    """
    from recommender.core.tagger import get_tagger

    timings: dict[str, float] = {}
    started = time.perf_counter()
    decoded = decode_songs(labelled.songs, windows=options.windows, on_progress=on_progress)
    timings["decoding"] = time.perf_counter() - started
    songs = decoded.songs
    labels = np.array([song.label for song in songs], dtype=object)
    albums = [song.album for song in songs]
    artists = [song.artist for song in songs]
    groups = song_groups(albums, artists)
    check_trainable(list(labels), groups)
    split = grouped_split(labels, groups, seed=options.seed)
    fit, validation = validation_split(labels, groups, split.train, seed=options.seed)
    patches, song_of_patch = stack_songs(decoded.patches)

    clock = time.perf_counter()
    # The baselines' inputs, from the same patches: the MSD tags analysis maps to genres, and the stored embedding.
    if on_progress:
        on_progress(Progress("baselines", 0, 0, 0, 1))
    frozen = get_tagger(BASELINE_NETWORK).predict(patches)
    counts = np.bincount(song_of_patch, minlength=len(songs))[:, None]
    song_tags = np.zeros((len(songs), frozen.tags.shape[1]))
    np.add.at(song_tags, song_of_patch, frozen.tags)
    song_tags /= counts
    embedding_layer = load_spec(BASELINE_NETWORK).embedding_layer
    song_features = np.zeros((len(songs), frozen.features[embedding_layer].shape[1]))
    np.add.at(song_features, song_of_patch, frozen.features[embedding_layer])
    song_features /= counts
    timings["baseline_features"] = time.perf_counter() - clock

    clock = time.perf_counter()
    config = options.config()
    result = train_classifier(
        patches,
        song_of_patch,
        labels,
        train_songs=fit,
        validation_songs=validation,
        config=config,
        on_progress=on_progress,
    )
    timings["training"] = time.perf_counter() - clock
    classifier = result.classifier

    clock = time.perf_counter()
    test = split.test
    test_patches = np.isin(song_of_patch, test)
    position = {song: i for i, song in enumerate(test)}
    owner = np.array([position[s] for s in song_of_patch[test_patches]])
    predictions = classifier.predict_songs(patches[test_patches], owner, n_songs=len(test))
    test_labels = list(labels[test])
    test_artists = [artists[i] for i in test]
    model_report = genre_report.song_report(
        test_labels,
        labels=classifier.labels,
        probabilities=predictions.probabilities,
        embeddings=predictions.embeddings,
        artists=test_artists,
    )
    tag_names = genre_report.tag_mapping_predictions(
        [dict(zip(load_spec(BASELINE_NETWORK).tags, row, strict=True)) for row in song_tags[test]]
    )
    if options.top_level:
        tag_names = [top_level_genre(name) if name else None for name in tag_names]
    baselines = {
        "msd_tags": genre_report.song_report(test_labels, labels=classifier.labels, predicted_labels=tag_names),
        "logistic_regression": genre_report.song_report(
            test_labels,
            labels=classifier.labels,
            probabilities=genre_report.logistic_regression_probabilities(
                song_features[split.train],
                labels[split.train],
                song_features[test],
                labels=classifier.labels,
                seed=options.seed,
            ),
            embeddings=song_features[test],
            artists=test_artists,
        ),
    }
    timings["evaluation"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started

    card = {
        "format": 1,
        "name": genre_model.name,
        "arch": options.arch,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(classifier.labels),
        "seed": options.seed,
        "data": {
            "source": labelled.source,
            "rule": labelled.rule,
            "left_out_genres": labelled.left_out,
            "songs": len(songs),
            "not_decoded": [{"song": name, "reason": reason} for name, reason in decoded.failed],
            "windows": options.windows,
            "patches": len(patches),
            "songs_per_genre": _counts(labels),
            "albums": len({a for a in albums if a}),
            "songs_without_album": sum(not a for a in albums),
        },
        "split": {
            "method": (
                "StratifiedGroupKFold (scikit-learn), 5 folds, over groups of songs linked by album or artist; "
                "one fold held out for testing, one fold of the rest for early stopping"
            ),
            "train_songs": len(fit),
            "validation_songs": len(validation),
            "test_songs": len(test),
            "test_songs_per_genre": _counts(labels[test]),
            "test_albums": sorted({albums[i] for i in test if albums[i]}, key=str.casefold),
            "albums_in_train_and_test": len({albums[i] for i in split.train if albums[i]} & {albums[i] for i in test}),
        },
        "training": {
            "config": asdict(config),
            "epochs_run": len(result.history.loss),
            "best_epoch": result.history.best_epoch,
            "stopped_early": result.history.stopped_early,
            "device": result.device,
            "precision": result.precision,
            "history": asdict(result.history),
        },
        "metrics": model_report,
        "baselines": baselines,
        "table": {
            "model": genre_report.summary_row(model_report),
            "msd_tags": genre_report.summary_row(baselines["msd_tags"]),
            "logistic_regression": genre_report.summary_row(baselines["logistic_regression"]),
        },
        "timings_seconds": {key: round(value, 2) for key, value in (timings | result.seconds).items()},
        "machine": {"cpus_usable": len(os.sched_getaffinity(0)), "python": platform.python_version()},
    }
    directory = _write_folder(genre_model, classifier, card, options)
    genre_model.directory = str(directory.relative_to(settings.MUSREC_MODEL_DIR))
    genre_model.labels = list(classifier.labels)
    genre_model.card = json.loads(json.dumps(card))  # numpy-free, as the JSON field stores it
    genre_model.accuracy = model_report["accuracy"]
    genre_model.macro_f1 = model_report["macro_f1"]
    genre_model.status = GenreModel.Status.DONE
    genre_model.trained_at = timezone.now()
    genre_model.stage = ""
    genre_model.error = ""
    # Not the progress fields: the last epoch and loss the job wrote stay on the row.
    genre_model.save(
        update_fields=["directory", "labels", "card", "accuracy", "macro_f1", "status", "trained_at", "stage", "error"]
    )
    return genre_model


def _counts(labels: Iterable[str]) -> dict[str, int]:
    values, counts = np.unique(np.asarray(list(labels), dtype=str), return_counts=True)
    return {str(v): int(c) for v, c in sorted(zip(values, counts, strict=True), key=lambda vc: -vc[1])}


def _write_folder(
    genre_model: GenreModel, classifier: GenreClassifier, card: dict[str, Any], options: TrainingOptions
) -> Path:
    """Write the model's folder whole, under a temporary name renamed into place, so it is never half there."""
    root = Path(settings.MUSREC_MODEL_DIR) / "genre"
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    directory = root / f"{genre_model.pk}-{options.arch}-{stamp}"
    partial = root / f".{directory.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    classifier.save(partial, extra={"windows": options.windows})
    (partial / CARD_FILE).write_text(json.dumps(card, indent=1, ensure_ascii=False, default=float) + "\n")
    metrics = card["metrics"]
    (partial / CONFUSION_FILE).write_bytes(
        charts.confusion_png(
            np.array(metrics["confusion"]),
            card["labels"],
            title=f"{card['arch']} on held-out albums: accuracy {metrics['accuracy']:.2f}",
        )
    )
    history = card["training"]["history"]
    (partial / CURVES_FILE).write_bytes(
        charts.curves_png(
            {
                "loss": {"training": history["loss"], "validation": history["val_loss"]},
                "accuracy": {"training": history["accuracy"], "validation": history["val_accuracy"]},
            },
            title=f"{card['arch']}: training curves (patches; best epoch {history['best_epoch']})",
            marker=history["best_epoch"],
        )
    )
    partial.rename(directory)
    return directory


# Progress on the registry row ---------------------------------------------------------------------------------

PROGRESS_SECONDS = 2.0


class RowProgress:
    """A ``Progress`` callback that writes the latest progress to the model's row, at most every 2 seconds."""

    def __init__(self, genre_model: GenreModel) -> None:
        self.genre_model = genre_model
        self.written = 0.0
        self.stage = ""
        self.lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.written < PROGRESS_SECONDS and progress.stage == self.stage:
                return
            self.written, self.stage = now, progress.stage
        GenreModel.objects.filter(pk=self.genre_model.pk, claim=self.genre_model.claim).update(
            stage=progress.stage,
            epoch=progress.epoch,
            step=progress.step,
            steps=progress.steps,
            loss=progress.loss,
            progress_at=timezone.now(),
        )


# Predicting the catalogue's genres ----------------------------------------------------------------------------

_loaded: dict[tuple[int, str], GenreClassifier] = {}
_loading = threading.Lock()


def load_classifier(genre_model: GenreModel) -> GenreClassifier:
    """The model's classifier, loaded once per process (a worker keeps it for every song that follows)."""
    key = (genre_model.pk, genre_model.directory)
    with _loading:
        if key not in _loaded:
            _loaded.clear()  # one model is active at a time: the previous one is not needed again
            _loaded[key] = GenreClassifier.load(genre_model.path)
        return _loaded[key]


def predict_genres(genre_model: GenreModel, *, song_ids: list[int] | None = None) -> int:
    """Predict the genre of analysed songs without genre tags with ``genre_model``, while it stays active.

    Each song gets a ``GenrePrediction`` with the model's probability (its confidence), and the genre becomes its
    ``predicted_genres``, replacing the MSD-tag mapping's. Songs go in batches; each batch is stored only if the
    model is still the active one, so a deactivation meanwhile is never overwritten. Without ``song_ids``, every
    such song, with the count kept on the row for the admin page.

    Returns
    -------
    int
        Songs whose genre was stored.
    """
    from recommender.jobs import local_audio_path

    classifier = load_classifier(genre_model)
    windows = int(GenreClassifier.saved_info(genre_model.path).get("windows", WINDOWS_PER_SONG))
    spec = load_spec(BASELINE_NETWORK)
    songs = Song.objects.analysed().filter(genres__isnull=True).order_by("pk")
    whole = song_ids is None
    if not whole:
        songs = songs.filter(pk__in=song_ids)
    ids = list(songs.values_list("pk", flat=True))
    if whole:
        GenreModel.objects.filter(pk=genre_model.pk).update(predicted_songs=0, songs_to_predict=len(ids))
    stored = 0
    for start in range(0, len(ids), PREDICTION_BATCH_SONGS):
        batch = list(Song.objects.filter(pk__in=ids[start : start + PREDICTION_BATCH_SONGS]).order_by("pk"))
        kept, patches = [], []
        for song in batch:
            try:
                with local_audio_path(song) as path:
                    _, mels = song_windows(path, spec=spec, windows=windows)
            except (OSError, AudioError) as error:
                logger.warning("Song %s cannot be decoded for its genre: %s", song.pk, error)
                continue
            kept.append(song)
            patches.append(mels)
        best = []
        if kept:
            stacked, owner = stack_songs(patches)
            best = classifier.predict_songs(stacked, owner, n_songs=len(kept)).best(classifier.labels)
        with transaction.atomic():
            # The row lock orders this batch against a deactivation: before it (and undone by its restore), or after
            # it (and not stored).
            if GenreModel.objects.select_for_update().filter(pk=genre_model.pk, is_active=True).first() is None:
                logger.info("Genre model %s is no longer active; its predictions stop", genre_model.pk)
                return stored
            for song, (label, confidence) in zip(kept, best, strict=True):
                if song.genres.exists():  # tagged meanwhile: its own tags are shown
                    continue
                genre = Genre.objects.named(label)
                GenrePrediction.objects.update_or_create(
                    genre_model=genre_model, song=song, defaults={"genre": genre, "confidence": confidence}
                )
                song.predicted_genres.set([genre])
                stored += 1
            if whole:
                GenreModel.objects.filter(pk=genre_model.pk).update(predicted_songs=F("predicted_songs") + len(batch))
    return stored


def restore_tag_genres(*, song_ids: list[int] | None = None, batch_size: int = 500) -> int:
    """Give analysed songs without genre tags the MSD-tag mapping's genre again (analysis's own, from the stored
    tag scores of the active embedding), unless a genre model has been activated meanwhile.

    Returns
    -------
    int
        Songs whose predicted genres were set.
    """
    from recommender.models import active_model_key

    songs = Song.objects.analysed().filter(genres__isnull=True).order_by("pk")
    if song_ids is not None:
        songs = songs.filter(pk__in=song_ids)
    ids = list(songs.values_list("pk", flat=True))
    model = active_model_key()
    restored = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        scores = dict(Embedding.objects.filter(song_id__in=chunk, model=model).values_list("song_id", "tag_scores"))
        with transaction.atomic():
            if GenreModel.objects.select_for_update().filter(is_active=True).first() is not None:
                return restored  # a model activated meanwhile re-predicts these itself
            for song in Song.objects.filter(pk__in=chunk):
                names = predicted_genres(scores.get(song.pk) or {})
                song.predicted_genres.set([Genre.objects.named(name) for name in names])
                restored += 1
    return restored
