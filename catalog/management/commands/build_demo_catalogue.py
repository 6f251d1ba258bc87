from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.demo import DemoUnavailable, fetch_demo_tracks
from catalog.importer import Outcome, Provenance
from catalog.management.commands.import_music import import_many, queue_imported, summarise
from catalog.models import Song

# Jingles and stingers are not songs anyone would want recommended.
DEMO_MIN_SECONDS = 30.0


class Command(BaseCommand):
    help = "Build the demo catalogue from Debian's freely licensed game-music packages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the catalogue has songs")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        if options["if_empty"] and Song.objects.exists():
            return
        started = time.monotonic()
        self.stdout.write("Building the demo catalogue from Debian's game-music packages (first run only)…")
        try:
            tracks = fetch_demo_tracks(settings.VAR_DIR, log=self.stdout.write)
        except DemoUnavailable as error:
            raise CommandError(str(error)) from error
        provenances = [
            Provenance(
                source=f"Debian package {track.package}",
                licence=track.licence,
                attribution=track.attribution,
                licence_file=track.copyright_file,
                album=track.album,
                title=track.title_hint,
                artist=track.artist_hint,
            )
            for track in tracks
        ]
        results = import_many(
            [track.path for track in tracks],
            provenances=provenances,
            min_duration=DEMO_MIN_SECONDS,
            show_progress=not options["no_progress"],
        )
        imported = sum(result.outcome == Outcome.IMPORTED for result in results)
        self.stdout.write(summarise(results))
        queue_imported(self, results)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalogue: {imported} songs imported in {time.monotonic() - started:.0f} s "
                f"({Song.objects.count()} in the catalogue)."
            )
        )
