from __future__ import annotations

from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from catalog.signals import songs_imported
        from recommender.jobs import queue_imported_songs

        songs_imported.connect(queue_imported_songs, dispatch_uid="recommender.queue_imported_songs")
