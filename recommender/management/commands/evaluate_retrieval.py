"""``manage.py evaluate_retrieval``: leave-one-out retrieval quality of the embeddings on a labelled CSV.

Each file is decoded once, as analysis decodes it; both networks, every layer and the MFCC baseline come from the
same windows. One table compares the active embedder, the embedding before it, the candidates and the baselines.
With ``--group-by album``, whatever is fitted on the songs (the two-network embedder's standardisation) is fitted
afresh for each album on the other albums' songs and scored on that album only (leave-albums-out), so that a fitted
step is never scored on the songs it was fitted on. The metrics live in ``recommender.core.evaluation``;
docs/quality.md has the protocol and results.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from recommender.core import analysis, decoding, evaluation, mel
from recommender.core.analysis import WINDOWS_PER_SONG
from recommender.core.decoding import AudioError
from recommender.core.embedders import PAIR, Embedder, EmbedderCard, Standardisation

PRIMARY = "msd_musicnn"  # the network whose every layer --layer all compares
LAYERS = ("penultimate", "max_pool", "mean_pool", "taggram")
RANDOM = "random"
SPECTRAL = "mfcc_mel_stats"
NAMES = {
    PAIR: "MSD + MTT, standardised (card)",
    f"{PAIR}+csls": "MSD + MTT, standardised, CSLS",
    f"{PAIR}:refitted": "MSD + MTT, standardised (refitted per fold)",
    f"{PAIR}:refitted+csls": "MSD + MTT, refitted per fold, CSLS",
    f"{PAIR}:raw": "MSD + MTT, not standardised",
    "msd_musicnn": "MSD penultimate (before issue 10)",
    "msd_musicnn+csls": "MSD penultimate, CSLS",
    "mtt_musicnn": "MTT penultimate",
    **{f"{PRIMARY}:{layer}": f"MSD {layer}" for layer in LAYERS if layer != "penultimate"},
    RANDOM: "random vectors",
    SPECTRAL: "MFCC + log-mel stats",
}
GROUPS = ("album", "artist", "label")
K = 10


class Command(BaseCommand):
    help = (
        "Leave-one-out retrieval quality of the embeddings on a labelled folder: P@1, P@5, P@10, mAP@10, "
        "artist-filtered P@10 and hubness of the two-network embedder, each network alone and CSLS, beside "
        "random vectors and MFCC/log-mel statistics. The CSV has a `path` column (absolute, or relative to the "
        "CSV's folder), a `label` column and optionally `artist` and `album`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", nargs="?", type=Path, help="the labelled files to evaluate")
        parser.add_argument("--json", type=Path, help="also write the full results to this file")
        parser.add_argument(
            "--windows",
            type=int,
            default=WINDOWS_PER_SONG,
            help=f"windows of 3 s analysed per song (default {WINDOWS_PER_SONG}, what analysis uses)",
        )
        parser.add_argument(
            "--layer",
            choices=[*LAYERS, "all"],
            help="also compare this layer of the MSD network (`all`: every layer); the penultimate is always there",
        )
        parser.add_argument(
            "--group-by",
            choices=GROUPS,
            help="fit the standardisation leaving each album (artist, label) out and score on it: leave-groups-out "
            "cross-validation. An `album` column is used when there is one, else the label stands for the album",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the random-vector baseline")
        parser.add_argument(
            "--make-demo-csv",
            type=Path,
            metavar="PATH",
            help="write the CSV for the demo catalogue (label = album, i.e. the game) instead of evaluating",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: object, **options: object) -> None:
        csv_path: Path | None = options["csv"]  # type: ignore[assignment]
        demo_csv: Path | None = options["make_demo_csv"]  # type: ignore[assignment]
        if demo_csv is not None:
            if csv_path is not None:
                raise CommandError("Give either a CSV to evaluate or --make-demo-csv PATH, not both.")
            self.stdout.write(write_demo_csv(demo_csv))
            return
        if csv_path is None:
            raise CommandError("Give the CSV of labelled files to evaluate, or --make-demo-csv PATH to make one.")
        windows: int = options["windows"]  # type: ignore[assignment]
        if windows < 1:
            raise CommandError("--windows must be at least 1.")

        rows, skipped = read_rows(csv_path)
        from recommender.core.embedders import get_embedder

        embedder = get_embedder(PAIR)
        layer = options["layer"]
        layers = [name for name in LAYERS if name != "penultimate"] if layer == "all" else [layer] if layer else []
        layers = [name for name in layers if name != "penultimate"]

        warm_up(embedder)
        songs: list[EmbeddedSong] = []
        with tqdm(total=len(rows), unit="song", disable=options["no_progress"], dynamic_ncols=True) as bar:
            for row in rows:
                bar.set_postfix_str(row.path.name[-40:], refresh=False)
                try:
                    songs.append(embed_song(row, model=embedder, windows=windows))
                except AudioError as error:
                    skipped.append(Skipped(row.line, str(row.path), str(error)))
                bar.update()
        if len(songs) <= K:
            raise CommandError(
                f"Only {len(songs)} of the files could be embedded; leave-one-out P@{K} needs at least {K + 1}."
                + "".join(f"\n  {s}" for s in skipped)
            )

        labels = [song.row.label for song in songs]
        artists = [song.row.artist for song in songs]
        group_by: str | None = options["group_by"]  # type: ignore[assignment]
        groups = [song.row.group(group_by) for song in songs] if group_by else None
        card = embedder.card
        raw = {name: np.stack([song.layers[f"{name}:penultimate"] for song in songs]) for name in card.networks}
        fixed: dict[str, tuple[np.ndarray, bool]] = {
            PAIR: (card.combine(raw), False),
            f"{PAIR}+csls": (card.combine(raw), True),
            f"{PAIR}:raw": (card.with_standardisation({}, version="raw").combine(raw), False),
            "msd_musicnn": (raw["msd_musicnn"], False),
            "msd_musicnn+csls": (raw["msd_musicnn"], True),
            "mtt_musicnn": (raw["mtt_musicnn"], False),
            **{
                f"{PRIMARY}:{name}": (np.stack([s.layers[f"{PRIMARY}:{name}"] for s in songs]), False)
                for name in layers
            },
            RANDOM: (evaluation.random_vectors(len(songs), card.dimensions, seed=options["seed"]), False),  # type: ignore[arg-type]
            SPECTRAL: (evaluation.standardise(np.stack([song.statistics for song in songs])), False),
        }
        try:
            results = {
                name: {"width": int(vectors.shape[1]), "protocol": "leave-one-out"}
                | evaluation.leave_one_out_metrics(vectors, labels, artists=artists, k=K, csls=csls)
                for name, (vectors, csls) in fixed.items()
            }
            if groups is not None:
                refit = _refitted(card, raw)
                for name, csls in ((f"{PAIR}:refitted", False), (f"{PAIR}:refitted+csls", True)):
                    results[name] = {"width": card.dimensions, "protocol": f"leave-{group_by}s-out"} | (
                        evaluation.grouped_metrics(refit, labels, groups, artists=artists, k=K, csls=csls)
                    )
        except ValueError as error:
            raise CommandError(f"Cannot evaluate {csv_path}: {error}.") from error
        neighbours = {
            name: evaluation.nearest_neighbours(vectors, k=K).tolist() for name, (vectors, _) in fixed.items()
        }
        timing = summarise_timing(songs)
        summary = {
            "csv": str(csv_path),
            "model": f"{card.name}@{card.version}",
            "active": settings.MUSREC_MODEL,
            "statistics_fitted_on": card.about.get("fitted_on"),
            "group_by": group_by,
            "layers": ["penultimate", *layers],
            "windows": windows,
            "k": K,
            "songs": len(songs),
            "labels": evaluation.label_counts(labels),
            "artists_known": sum(bool(a) for a in artists),
            "skipped": [vars(s) for s in skipped],
            "results": results,
            "timing": timing,
            "machine": {
                "cpu": _cpu_name(),
                "cpus_usable": len(os.sched_getaffinity(0)),
                "network_device": embedder.device,
                "python": platform.python_version(),
            },
            "items": [
                {"path": str(s.row.path), "label": s.row.label, "artist": s.row.artist, "duration": s.duration}
                for s in songs
            ],
            "neighbours": neighbours,
        }
        self.stdout.write(format_report(summary))
        json_path: Path | None = options["json"]  # type: ignore[assignment]
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
            self.stdout.write(f"Full results: {json_path}\n")


def _refitted(card: EmbedderCard, raw: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """The pair's vectors with its statistics fitted on the songs a fold may see."""

    def make_vectors(fit_on: np.ndarray) -> np.ndarray:
        stats = {name: Standardisation.fit(vectors[fit_on]) for name, vectors in raw.items()}
        return card.with_standardisation(stats, version="refitted").combine(raw)

    return make_vectors


@dataclass(frozen=True)
class Row:
    line: int
    path: Path
    label: str
    artist: str
    album: str = ""

    def group(self, by: str) -> str:
        """What this song is held out with under ``--group-by``; a song of unknown artist is a group of its own."""
        if by == "artist":
            return self.artist or f"line {self.line}"
        if by == "album":
            return self.album or self.label
        return self.label


@dataclass(frozen=True)
class Skipped:
    line: int
    path: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path or '(no path)'}: {self.reason}"


@dataclass
class EmbeddedSong:
    row: Row
    duration: float
    windows: int
    layers: dict[str, np.ndarray]  # "network:layer" → [shape=(width,)], the mean over the song's patches
    statistics: np.ndarray  # [shape=(2 * 20 + 2 * n_mels,)], see evaluation.spectral_statistics
    seconds: dict[str, float] = field(default_factory=dict)


def read_rows(csv_path: Path) -> tuple[list[Row], list[Skipped]]:
    """The CSV's usable rows, and the ones without a path or a label (with why)."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
            missing = [name for name in ("path", "label") if name not in columns]
            if missing:
                found = ", ".join(f"`{name}`" for name in columns) or "none"
                raise CommandError(
                    f"{csv_path} has no {' or '.join(f'`{name}`' for name in missing)} column. "
                    f"The CSV needs a header with `path` and `label` (and optionally `artist`); its columns: {found}."
                )
            rows, skipped = [], []
            for record in reader:
                line = reader.line_num
                path = (record.get(columns["path"]) or "").strip()
                label = (record.get(columns["label"]) or "").strip()
                artist = (record.get(columns["artist"]) or "").strip() if "artist" in columns else ""
                album = (record.get(columns["album"]) or "").strip() if "album" in columns else ""
                if not path or not label:
                    skipped.append(Skipped(line, path, "no path" if not path else "no label"))
                    continue
                rows.append(Row(line, (csv_path.parent / Path(path).expanduser()).resolve(), label, artist, album))
    except FileNotFoundError:
        raise CommandError(f"No such file: {csv_path}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"{csv_path} is not a readable UTF-8 CSV file ({error}).") from error
    return rows, skipped


def embed_song(row: Row, *, model: Embedder, windows: int) -> EmbeddedSong:
    """Decode the song's windows once, as analysis does, and make every vector the evaluation compares."""
    if not row.path.is_file():
        raise AudioError("no such file")
    wall, cpu = time.perf_counter(), time.process_time()
    info = decoding.probe(row.path)
    _, mels = analysis.song_windows(row.path, spec=model.spec, windows=windows, info=info)
    decoded_wall, decoded_cpu = time.perf_counter(), time.process_time()
    predictions = model.predict(mels)
    seconds = {
        "decode_mel_wall": decoded_wall - wall,
        "decode_mel_cpu": decoded_cpu - cpu,
        "network_wall": time.perf_counter() - decoded_wall,
        "network_cpu": time.process_time() - decoded_cpu,
    }
    layers = {}
    for name, prediction in predictions.items():
        outputs = {"taggram": prediction.tags, **prediction.features}
        layers |= {f"{name}:{layer}": outputs[layer].mean(axis=0) for layer in LAYERS}
    return EmbeddedSong(
        row=row,
        duration=info.duration,
        windows=len(mels),
        layers=layers,
        statistics=evaluation.spectral_statistics(mels),
        seconds=seconds,
    )


def warm_up(model: Embedder) -> None:
    """Trace the networks' graphs and build the mel filters now, so that the first song's timing is like the rest."""
    clip = np.zeros((1, round(mel.PATCH_SECONDS * model.spec.sample_rate)), dtype=np.float32)
    mels = analysis.log_mel_patches(clip, spec=model.spec)
    model.predict(mels)
    evaluation.spectral_statistics(mels)


def summarise_timing(songs: list[EmbeddedSong]) -> dict[str, float]:
    """Mean seconds a song for decoding + log-mel and for the network, and the real-time factor they give."""
    totals = {key: sum(song.seconds[key] for song in songs) for key in songs[0].seconds}
    audio_seconds = sum(song.duration for song in songs)
    timing = {f"{key}_per_song": value / len(songs) for key, value in totals.items()}
    timing["patches_per_song"] = sum(song.windows for song in songs) / len(songs)
    timing["audio_seconds_per_song"] = audio_seconds / len(songs)
    cpu = totals["decode_mel_cpu"] + totals["network_cpu"]
    timing["real_time_factor_per_cpu_second"] = audio_seconds / cpu if cpu > 0 else float("inf")
    return timing


def format_report(summary: dict) -> str:
    k = summary["k"]
    columns = ["width", "P@1", "P@5", f"P@{k}", f"mAP@{k}", f"P@{k} artist-filtered", f"hubness@{k}"]
    keys = ["width", "p@1", "p@5", f"p@{k}", f"map@{k}", f"artist_filtered_p@{k}", f"hubness@{k}"]
    active = summary["active"]
    name_width = max(len(NAMES[name]) + 4 for name in summary["results"])
    lines = [
        f"Retrieval on {summary['songs']} songs with {len(summary['labels'])} labels: "
        f"{summary['windows']} windows a song, cosine similarity (CSLS where named).",
        "",
        " " * name_width + "  ".join(f"{c:>{max(len(c), 5)}}" for c in columns),
    ]
    chance = None
    for name, metrics in summary["results"].items():
        marker = " *" if name == active else " †" if metrics["protocol"] != "leave-one-out" else ""
        cells = [
            f"{metrics[key]:>{max(len(c), 5)}}" if key == "width" else f"{metrics[key]:>{max(len(c), 5)}.3f}"
            for c, key in zip(columns, keys, strict=True)
        ]
        lines.append(f"{NAMES[name] + marker:<{name_width}}" + "  ".join(cells))
        chance = metrics["chance"]
    lines.append(
        f"{'chance':<{name_width}}{'':>5}  " + "  ".join(f"{chance:>{max(len(c), 5)}.3f}" for c in columns[1:4])
    )
    lines.append("")
    if active in summary["results"]:
        lines.append(f"* the active embedder (MUSREC_MODEL={active})")
    if summary["group_by"]:
        lines.append(
            f"† the standardisation fitted afresh for each {summary['group_by']} on the others' songs and scored on "
            f"that {summary['group_by']}'s songs only (leave-{summary['group_by']}s-out)"
        )
    fitted_on = summary.get("statistics_fitted_on") or {}
    if fitted_on:
        lines.append(
            f"The card's statistics were fitted on {fitted_on.get('what', 'another catalogue')}: on that catalogue "
            "its rows are scored on the songs they were fitted on; --group-by album gives the honest figure."
        )
    timing = summary["timing"]
    lines.append(
        f"Per song ({timing['patches_per_song']:.1f} patches of 3 s): decoding + log-mel "
        f"{1000 * timing['decode_mel_wall_per_song']:.0f} ms, network {1000 * timing['network_wall_per_song']:.0f} ms "
        f"(wall clock); {timing['real_time_factor_per_cpu_second']:.0f}× real time per CPU second."
    )
    if summary["skipped"]:
        lines.append(f"Skipped {len(summary['skipped'])} row{'s' if len(summary['skipped']) != 1 else ''}:")
        lines.extend(f"  {Skipped(**s)}" for s in summary["skipped"])
    return "\n".join(lines) + "\n"


def write_demo_csv(csv_path: Path) -> str:
    """Write the demo catalogue's songs as an evaluation CSV: label = album (the game), artist, title."""
    from catalog.importer import UNKNOWN_ARTIST
    from catalog.models import Song

    songs = Song.objects.catalogue().select_related("artist", "album").order_by("album__title", "artist__name", "title")
    written, without_album = 0, 0
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "artist", "title"])
        for song in songs:
            if song.album is None:
                without_album += 1
                continue
            # "Unknown artist" is many people, not one: it must not filter a game's other unattributed tracks.
            artist = "" if song.artist.name == UNKNOWN_ARTIST else song.artist.name
            path = os.path.relpath(song.audio.path, csv_path.parent.resolve())
            writer.writerow([path, song.album.title, artist, song.title])
            written += 1
    if not written:
        csv_path.unlink()
        raise CommandError("The catalogue has no songs with an album; import the demo first (build_demo_catalogue).")
    note = f" ({without_album} without an album left out)" if without_album else ""
    return (
        f"Wrote {written} songs to {csv_path}{note}.\n"
        f"Evaluate them with: ./musrec manage evaluate_retrieval {csv_path} --layer all --json "
        f"{csv_path.with_suffix('.json')}\n"
    )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
