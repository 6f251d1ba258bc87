from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.importer import ImportResult, Outcome, Provenance, find_audio_files, import_file
from catalog.signals import songs_imported


class Command(BaseCommand):
    help = "Import folders or files of audio (mp3, ogg, flac, wav, opus; m4a with ffmpeg) into the catalogue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files or folders to import")
        parser.add_argument(
            "--min-seconds",
            type=float,
            default=settings.MUSREC_MIN_IMPORT_SECONDS,
            help="skip files shorter than this many seconds",
        )
        parser.add_argument("--source", default="Imported with import_music", help="where the files come from")
        parser.add_argument("--licence", default="", help="licence of the files, e.g. CC-BY-4.0")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: object, **options: object) -> None:
        paths: list[Path] = options["paths"]  # type: ignore[assignment]
        missing = [str(path) for path in paths if not path.exists() and not path.is_symlink()]
        if missing:
            raise CommandError(f"No such file or folder: {', '.join(missing)}")
        provenance = Provenance(source=str(options["source"]), licence=str(options["licence"]))
        files = list(find_audio_files(paths))
        results = import_many(
            files,
            provenances=[provenance] * len(files),
            min_duration=float(options["min_seconds"]),  # type: ignore[arg-type]
            show_progress=not options["no_progress"],
        )
        self.stdout.write(summarise(results))
        queue_imported(self, results)


def queue_imported(command: BaseCommand, results: Sequence[ImportResult]) -> None:
    """Have what was imported analysed: the recommender queues it, and a worker picks it up in the background."""
    imported = [r.song_id for r in results if r.outcome == Outcome.IMPORTED and r.song_id]
    if imported:
        count = sum(queued or 0 for _, queued in songs_imported.send(sender=ImportResult, song_ids=imported))
        command.stdout.write(f"Queued {count} song{'s' if count != 1 else ''} for analysis.")


def import_many(
    files: Sequence[Path], *, provenances: Sequence[Provenance], min_duration: float, show_progress: bool = True
) -> list[ImportResult]:
    results = []
    # A bar redrawn in place suits a terminal; in a log file (`./musrec run` keeps the demo build's in
    # var/log/demo.log) it would be one endless line, so there a plain line marks every 2 %.
    on_terminal = sys.stderr.isatty()
    every = max(1, len(files) // 50)
    with tqdm(total=len(files), unit="file", disable=not (show_progress and on_terminal), dynamic_ncols=True) as bar:
        for done, (path, provenance) in enumerate(zip(files, provenances, strict=True), start=1):
            bar.set_postfix_str(path.name[-40:], refresh=False)
            results.append(import_file(path, provenance=provenance, min_duration=min_duration))
            bar.update()
            if show_progress and not on_terminal and (done % every == 0 or done == len(files)):
                print(f"{done}/{len(files)} files imported", file=sys.stderr, flush=True)
    return results


def summarise(results: Sequence[ImportResult]) -> str:
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in Outcome}
    lines = [
        f"Imported {counts[Outcome.IMPORTED]}, skipped {counts[Outcome.SKIPPED]}, "
        f"broken {counts[Outcome.BROKEN]} (of {len(results)} file{'s' if len(results) != 1 else ''})."
    ]
    for outcome in (Outcome.SKIPPED, Outcome.BROKEN):
        chosen = [r for r in results if r.outcome == outcome]
        if chosen:
            lines.append(f"{outcome.value.capitalize()}:")
            lines.extend(f"  {r.path}: {r.reason}" for r in chosen)
    return "\n".join(lines) + "\n"
