from __future__ import annotations

from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from catalog.models import Song
        from catalog.signals import catalogue_changed, history_cleared, songs_imported
        from catalog.song_filters import use_mood_songs
        from recommender.artwork import forget_drawn_covers
        from recommender.collaborative import forget_listener
        from recommender.jobs import queue_imported_songs
        from recommender.models import Embedding, forget_starter_choices

        songs_imported.connect(queue_imported_songs, dispatch_uid="recommender.queue_imported_songs")
        catalogue_changed.connect(forget_starter_choices, dispatch_uid="recommender.forget_starter_choices")
        post_delete.connect(forget_drawn_covers, sender=Song, dispatch_uid="recommender.forget_drawn_covers")
        history_cleared.connect(forget_listener, dispatch_uid="recommender.forget_listener")
        # A mood is read from the tag scores stored with the embeddings, which the catalogue cannot import.
        use_mood_songs(Embedding.objects.mood_song_ids)
