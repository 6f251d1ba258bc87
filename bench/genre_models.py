"""Compare the four genre architectures with the two baselines by cross-validation (issue 10, docs/quality.md).

Django-free: it reads a CSV of path,genre[,album,artist] (``manage.py train_genre_model --write-csv`` writes the
catalogue's), decodes every song once as analysis does (cached under ``var/bench/genre-cache/``), and for each
fold trains every architecture and both baselines on the other folds, then scores the pooled predictions: every
song is predicted by models that never saw it.

    .venv/bin/python bench/genre_models.py var/eval/genres.csv --protocol albums --json var/eval/genres.json

``--protocol albums`` holds whole album groups out (``grouped_folds``), the honest test; ``--protocol songs``
splits songs regardless of album (seed 002's protocol), which lets a model recognise an album it has heard.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.harness import machine  # noqa: E402
from recommender.core import genre_report  # noqa: E402
from recommender.core.analysis import WINDOWS_PER_SONG, song_windows  # noqa: E402
from recommender.core.decoding import AudioError  # noqa: E402
from recommender.core.genre_training import (  # noqa: E402
    ARCHITECTURES,
    FOLDS,
    Split,
    TrainingConfig,
    grouped_folds,
    song_groups,
    stack_songs,
    train_classifier,
)
from recommender.core.tagger import get_tagger, load_spec  # noqa: E402

CACHE = BASE_DIR / "var" / "bench" / "genre-cache"
BASELINE_NETWORK = "msd_musicnn"
ROWS = (*ARCHITECTURES, "logistic_regression", "msd_tags")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["path"] = str((path.parent / row["path"]).resolve())
        row["genre"] = row.get("genre") or row["label"]
    return rows


def decoded(rows: list[dict[str, str]], *, windows: int) -> dict[str, np.ndarray | list]:
    """Patches, MSD tag scores and penultimate features of every song, from the cache when it has them."""
    key = hashlib.sha256(json.dumps([[r["path"] for r in rows], windows]).encode()).hexdigest()[:16]
    cached = CACHE / f"{key}.npz"
    if cached.exists():
        data = np.load(cached)
        return {name: data[name] for name in data.files}
    spec = load_spec(BASELINE_NETWORK)
    tagger = get_tagger(BASELINE_NETWORK)
    song_patches, kept, tags, features = [], [], [], []
    started = time.perf_counter()
    for i, row in enumerate(rows):
        try:
            _, mels = song_windows(Path(row["path"]), spec=spec, windows=windows)
        except AudioError as error:
            print(f"skipped {row['path']}: {error}", file=sys.stderr)
            continue
        prediction = tagger.predict(mels)
        song_patches.append(mels.astype(np.float16))  # log-mel values lie in [0, 8]: float16 keeps 3 digits
        tags.append(prediction.tags.mean(axis=0))
        features.append(prediction.features[spec.embedding_layer].mean(axis=0))
        kept.append(i)
        print(f"\rdecoded {i + 1}/{len(rows)} in {time.perf_counter() - started:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    patches, song_of_patch = stack_songs(song_patches)
    data = {
        "patches": patches.astype(np.float16),
        "song_of_patch": song_of_patch,
        "kept": np.array(kept),
        "tags": np.array(tags),
        "features": np.array(features),
        "decode_seconds": np.array(time.perf_counter() - started),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **data)
    return data


def folds_for(protocol: str, labels: np.ndarray, groups: np.ndarray, *, folds: int, seed: int) -> list[Split]:
    if protocol == "albums":
        return grouped_folds(labels, groups, folds=folds, seed=seed)
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [Split(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(len(labels)), labels.astype(str))]


def inner_validation(protocol: str, labels: np.ndarray, groups: np.ndarray, train: np.ndarray, seed: int):
    """Early-stopping songs from the training side, split the same way as the folds; every label kept to fit."""
    try:
        for split in folds_for(protocol, labels[train], groups[train], folds=FOLDS, seed=seed + 1):
            if set(labels[train][split.train]) == set(labels[train]):
                return train[split.train], train[split.test]
    except ValueError:  # too few songs of a label to stratify, or too few groups
        pass
    return train, np.array([], dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--protocol", choices=["albums", "songs"], default="albums")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--arch", nargs="*", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--windows", type=int, default=WINDOWS_PER_SONG)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--transfer-copies", type=int, default=1)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()

    rows = read_csv(options.csv)
    data = decoded(rows, windows=options.windows)
    rows = [rows[i] for i in data["kept"]]
    labels = np.array([row["genre"] for row in rows], dtype=object)
    artists = [row.get("artist") or "" for row in rows]
    groups = song_groups([row.get("album") or "" for row in rows], artists)
    patches = data["patches"].astype(np.float32)
    song_of_patch = data["song_of_patch"]
    folds = folds_for(options.protocol, labels, groups, folds=options.folds, seed=options.seed)
    vocabulary = sorted(set(labels), key=str.casefold)
    print(
        f"{len(rows)} songs, {len(patches)} patches, {len(vocabulary)} genres, {len(set(groups))} album groups, "
        f"{len(folds)} folds ({options.protocol}).",
        file=sys.stderr,
    )

    n = len(rows)
    probabilities = {row: np.full((n, len(vocabulary)), np.nan) for row in ROWS if row != "msd_tags"}
    retrieval: dict[str, list[tuple[dict, int]]] = {row: [] for row in ROWS}
    runs: dict[str, list[dict]] = {arch: [] for arch in options.arch}
    for f, fold in enumerate(folds, start=1):
        train_labels = set(labels[fold.train])
        if train_labels != set(vocabulary):
            print(f"fold {f}: its training side lacks {set(vocabulary) - train_labels}; skipped", file=sys.stderr)
            continue
        fit, validation = inner_validation(options.protocol, labels, groups, fold.train, options.seed)
        test_labels = list(labels[fold.test])
        test_artists = [artists[i] for i in fold.test]
        lr = genre_report.logistic_regression_probabilities(
            data["features"][fold.train], labels[fold.train], data["features"][fold.test], labels=vocabulary
        )
        probabilities["logistic_regression"][fold.test] = lr
        found = genre_report.embedding_retrieval(data["features"][fold.test], test_labels, artists=test_artists)
        retrieval["logistic_regression"].append((found, len(fold.test)))
        for arch in options.arch:
            config = TrainingConfig(
                arch=arch,
                epochs=options.epochs,
                patience=options.patience,
                seed=options.seed,
                transfer_copies=options.transfer_copies,
            )
            started = time.perf_counter()
            result = train_classifier(
                patches, song_of_patch, labels, train_songs=fit, validation_songs=validation, config=config
            )
            seconds = time.perf_counter() - started
            mine = np.isin(song_of_patch, fold.test)
            owner = np.searchsorted(fold.test, song_of_patch[mine])
            predicted = result.classifier.predict_songs(patches[mine], owner, n_songs=len(fold.test))
            probabilities[arch][fold.test] = predicted.probabilities
            found = genre_report.embedding_retrieval(predicted.embeddings, test_labels, artists=test_artists)
            retrieval[arch].append((found, len(fold.test)))
            runs[arch].append(
                {
                    "fold": f,
                    "epochs_run": len(result.history.loss),
                    "best_epoch": result.history.best_epoch,
                    "seconds": round(seconds, 1),
                    "seconds_detail": {k: round(v, 1) for k, v in result.seconds.items()},
                    "fold_accuracy": float(
                        (
                            predicted.probabilities.argmax(axis=1)
                            == genre_report.label_indices(test_labels, vocabulary)
                        ).mean()
                    ),
                }
            )
            print(f"fold {f} {arch}: {runs[arch][-1]}", file=sys.stderr)

    tested = ~np.isnan(probabilities["logistic_regression"][:, 0])
    spec = load_spec(BASELINE_NETWORK)
    tag_names = genre_report.tag_mapping_predictions(
        [dict(zip(spec.tags, row, strict=True)) for row in data["tags"][tested]]
    )
    reports = {
        "msd_tags": genre_report.song_report(list(labels[tested]), labels=vocabulary, predicted_labels=tag_names)
    }
    for row in ROWS:
        if row == "msd_tags" or (row in ARCHITECTURES and row not in options.arch):
            continue
        reports[row] = genre_report.song_report(
            list(labels[tested]), labels=vocabulary, probabilities=probabilities[row][tested]
        )
    for row, found in retrieval.items():
        if row in reports:
            reports[row]["retrieval"] = pooled_retrieval(found)

    table = {row: genre_report.summary_row(report) for row, report in reports.items()}
    summary = {
        "csv": str(options.csv),
        "protocol": options.protocol,
        "songs_tested": int(tested.sum()),
        "songs": n,
        "genres": {label: int((labels == label).sum()) for label in vocabulary},
        "album_groups": len(set(groups)),
        "folds": len(folds),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "decode_and_frozen_seconds": float(data["decode_seconds"]),
        "table": table,
        "reports": reports,
        "runs": runs,
        "machine": machine(),
    }
    print(format_table(summary))
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(summary, indent=1, default=float) + "\n")


def pooled_retrieval(found: list[tuple[dict, int]]) -> dict[str, float | None]:
    """Each fold's leave-one-out precision, averaged over the folds that had enough songs, weighted by queries."""
    usable = [(f, f["queries"]) for f, _ in found if f.get("queries")]
    if not usable:
        return {"p@5": None, "p@10": None, "queries": 0}
    total = sum(q for _, q in usable)
    return {
        "p@5": sum(f["p@5"] * q for f, q in usable) / total,
        "p@10": sum(f["p@10"] * q for f, q in usable) / total,
        "queries": total,
    }


def format_table(summary: dict) -> str:
    columns = ("accuracy", "log_loss", "macro_precision", "macro_recall", "macro_f1", "p@5", "p@10")
    lines = [
        f"{summary['songs_tested']} songs, {len(summary['genres'])} genres, protocol {summary['protocol']}, "
        f"{summary['folds']} folds",
        "| Model | " + " | ".join(columns) + " | seconds a fold |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for row, figures in summary["table"].items():
        runs = summary["runs"].get(row, [])
        seconds = f"{np.mean([r['seconds'] for r in runs]):.0f}" if runs else ""
        cells = " | ".join("" if figures[c] is None else f"{figures[c]:.3f}" for c in columns)
        lines.append(f"| {row} | {cells} | {seconds} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
