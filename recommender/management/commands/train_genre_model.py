"""``manage.py train_genre_model``: learn the library's genres from its own tags (or a CSV), issue 10.

The work is ``recommender.genre_learning.train_and_register``; this command gathers the songs, shows a progress
bar and prints the model card's table. docs/quality.md, "Trained genre models", has the protocol and results.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from recommender.core.analysis import WINDOWS_PER_SONG
from recommender.core.genre_training import ARCHITECTURES, GenreDataError, Progress, check_trainable, song_groups
from recommender.genre_learning import (
    CATALOGUE_RULE,
    LabelledSet,
    TrainingOptions,
    catalogue_songs,
    csv_songs,
    train_and_register,
)
from recommender.genre_registry import GenreModel

COLUMNS = ("accuracy", "log_loss", "macro_precision", "macro_recall", "macro_f1", "p@5", "p@10")
HEADINGS = ("accuracy", "log loss", "macro P", "macro R", "macro F1", "P@5", "P@10")
ROWS = {"model": "the trained model", "logistic_regression": "logistic regression", "msd_tags": "MSD-tag mapping"}


class Command(BaseCommand):
    help = (
        "Train a genre model on the catalogue's own genre tags, or on a CSV of path,genre[,album,artist], hold "
        "whole albums out to test it beside the MSD-tag mapping and a logistic regression, and record it in the "
        f"model registry (MUSREC_MODEL_DIR). {CATALOGUE_RULE}"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", type=Path, help="learn the genres of this CSV instead of the catalogue's tags")
        parser.add_argument("--arch", choices=ARCHITECTURES, default="cnn", help="the architecture (default cnn)")
        parser.add_argument("--epochs", type=int, default=30, help="the most epochs (default 30)")
        parser.add_argument("--patience", type=int, default=5, help="epochs without improvement before stopping")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split, weights, batches, augmentation")
        parser.add_argument(
            "--windows", type=int, default=WINDOWS_PER_SONG, help=f"3-s windows a song (default {WINDOWS_PER_SONG})"
        )
        parser.add_argument("--batch-size", type=int, default=32, help="patches a training batch (default 32)")
        parser.add_argument(
            "--top-level", action="store_true", help="label songs by their top-level genre (Death metal → Metal)"
        )
        parser.add_argument("--name", help="the model's name in the registry (default: architecture and date)")
        parser.add_argument("--activate", action="store_true", help="make it the active genre model once trained")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument(
            "--write-csv",
            type=Path,
            metavar="PATH",
            help="write the catalogue's labelled songs (the rule above) as a CSV for --csv and stop",
        )

    def handle(self, *args: object, **options: object) -> None:
        for name in ("epochs", "patience", "windows", "batch_size"):
            if options[name] < 1:  # type: ignore[operator]
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        training = TrainingOptions(
            arch=options["arch"],  # type: ignore[arg-type]
            epochs=options["epochs"],  # type: ignore[arg-type]
            patience=options["patience"],  # type: ignore[arg-type]
            seed=options["seed"],  # type: ignore[arg-type]
            windows=options["windows"],  # type: ignore[arg-type]
            top_level=options["top_level"],  # type: ignore[arg-type]
            batch_size=options["batch_size"],  # type: ignore[arg-type]
        )
        csv_path: Path | None = options["csv"]  # type: ignore[assignment]
        try:
            labelled = csv_songs(csv_path) if csv_path else catalogue_songs(top_level=training.top_level)
        except GenreDataError as error:
            raise CommandError(f"Cannot train a genre model: {error}.") from error
        if options["write_csv"] is not None:
            self.stdout.write(write_csv(labelled, options["write_csv"]))  # type: ignore[arg-type]
            return
        try:
            check_trainable(
                [song.label for song in labelled.songs],
                song_groups([song.album for song in labelled.songs], [song.artist for song in labelled.songs]),
            )
        except GenreDataError as error:
            left_out = f" Left out: {self._left_out(labelled)}." if labelled.left_out else ""
            raise CommandError(
                f"Cannot train a genre model on {labelled.source}: {error}.{left_out} Tag more songs, or give --csv."
            ) from error
        self.stdout.write(self._describe(labelled))

        from django.utils import timezone

        name = options["name"] or f"{training.arch} {timezone.localtime():%Y-%m-%d %H:%M}"
        genre_model = GenreModel.objects.create(
            name=name[:100],
            arch=training.arch,
            source=labelled.source[:500],
            options=asdict(training),
            status=GenreModel.Status.TRAINING,
        )
        bars = ProgressBars(disable=bool(options["no_progress"]))
        try:
            train_and_register(labelled, training, genre_model=genre_model, on_progress=bars)
        except GenreDataError as error:
            self._fail(genre_model, str(error))
            raise CommandError(f"Cannot train a genre model: {error}.") from error
        except BaseException as error:
            self._fail(genre_model, f"Training failed: {error!r}")
            raise
        finally:
            bars.close()
        self.stdout.write(format_card(genre_model.card))
        self.stdout.write(f"Model {genre_model.pk} written to {genre_model.path}\n")
        if options["activate"]:
            from recommender.genre_jobs import activate

            activate(genre_model)
            self.stdout.write("It is now the active genre model; the worker re-predicts the catalogue's genres.\n")

    @staticmethod
    def _fail(genre_model: GenreModel, reason: str) -> None:
        GenreModel.objects.filter(pk=genre_model.pk).update(status=GenreModel.Status.FAILED, error=reason[:2000])

    @staticmethod
    def _left_out(labelled: LabelledSet) -> str:
        return "; ".join(f"{label!r} {reason}" for label, reason in labelled.left_out.items())

    def _describe(self, labelled: LabelledSet) -> str:
        genres: dict[str, int] = {}
        for song in labelled.songs:
            genres[song.label] = genres.get(song.label, 0) + 1
        listed = ", ".join(f"{label} ({count})" for label, count in sorted(genres.items(), key=lambda lc: -lc[1]))
        lines = [f"{len(labelled.songs)} songs from {labelled.source}: {listed}."]
        if labelled.left_out:
            lines.append(f"Left out: {self._left_out(labelled)}.")
        return "\n".join(lines) + "\n"


class ProgressBars:
    """A tqdm bar per stage (decoding, baselines, frozen features, training), fed by ``Progress`` callbacks."""

    NAMES = {
        "decoding": ("Decoding", "song"),
        "baselines": ("Baseline features", "pass"),
        "features": ("Frozen features", "batch"),
        "training": ("Training", "batch"),
    }

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, progress: Progress) -> None:
        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            description, unit = self.NAMES.get(progress.stage, (progress.stage, "step"))
            total = progress.steps * progress.epochs if progress.stage == "training" else progress.steps
            self.bar = tqdm(total=total, desc=description, unit=unit, disable=self.disable, dynamic_ncols=True)
        assert self.bar is not None
        if progress.stage == "training":
            done = (progress.epoch - 1) * progress.steps + progress.step
            self.bar.set_description(f"Training, epoch {progress.epoch}/{progress.epochs}", refresh=False)
            postfix = f"loss {progress.loss:.3f}" if progress.loss is not None else ""
            if progress.val_loss is not None:
                postfix += f", validation {progress.val_loss:.3f}"
            self.bar.set_postfix_str(postfix, refresh=False)
        else:
            done = progress.step
        self.bar.update(max(0, done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def write_csv(labelled: LabelledSet, path: Path) -> str:
    """``labelled`` as a CSV that ``--csv`` reads back: path (relative to the CSV), genre, album, artist."""
    if not labelled.songs:
        raise CommandError("No catalogue song has a genre tag a held-out album could test; nothing to write.")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "genre", "album", "artist"])
        for song in labelled.songs:
            writer.writerow([os.path.relpath(song.path, path.parent.resolve()), song.label, song.album, song.artist])
    return f"Wrote {len(labelled.songs)} songs to {path}.\n"


def format_card(card: dict) -> str:
    """The model card's comparison table, and how it was made, as text."""
    data, split, training = card["data"], card["split"], card["training"]
    lines = [
        "",
        f"{card['arch']} on {split['test_songs']} songs of {len(split['test_albums'])} held-out albums "
        f"({', '.join(split['test_albums'])}); trained on {split['train_songs']}, stopped on "
        f"{split['validation_songs']}; {len(card['labels'])} genres, {data['windows']} windows a song.",
        f"{training['epochs_run']} epochs (best {training['best_epoch']}) on the {training['device']} in "
        f"{card['timings_seconds']['training']:.0f} s; {card['timings_seconds']['total']:.0f} s in all.",
        "",
        f"{'':<22}" + "".join(f"{heading:>10}" for heading in HEADINGS),
    ]
    for key, label in ROWS.items():
        row = card["table"][key]
        cells = "".join(f"{row[c]:>10.3f}" if row[c] is not None else f"{'–':>10}" for c in COLUMNS)
        lines.append(f"{label:<22}{cells}")
    lines.append("")
    lines.append("Per genre (precision / recall / F1, held-out songs):")
    for label, figures in card["metrics"]["per_label"].items():
        lines.append(
            f"  {label}: {figures['precision']:.2f} / {figures['recall']:.2f} / {figures['f1']:.2f} "
            f"({figures['support']} songs)"
        )
    return "\n".join(lines) + "\n"
