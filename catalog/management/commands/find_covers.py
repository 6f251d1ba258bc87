from __future__ import annotations

from django.core.management.base import BaseCommand

from catalog.importer import find_embedded_cover
from catalog.models import Song


class Command(BaseCommand):
    help = (
        "Read the pictures embedded in the stored files of songs that have no cover yet (songs imported before "
        "Musrec read covers). Songs without one show a cover drawn from their sound."
    )

    def handle(self, *args: object, **options: object) -> None:
        songs = Song.objects.filter(cover__isnull=True).order_by("pk")
        without = songs.count()
        found = sum(find_embedded_cover(song) for song in songs.iterator(chunk_size=500))
        self.stdout.write(f"Found a cover picture in {found} of {without} songs without one.")
