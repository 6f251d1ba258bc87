from __future__ import annotations

from django.conf import settings
from django.db import models
from pgvector.django import HnswIndex, VectorField

from catalog.models import Song

# The width of the stored song embeddings. A model with another width needs a migration.
EMBEDDING_DIMENSIONS = 200


def active_model_key() -> str:
    """The key of the embeddings recommendations use now (``MUSREC_MODEL``); reads no weights."""
    from recommender.analysis import model_key
    from recommender.model import load_spec

    return model_key(load_spec(settings.MUSREC_MODEL))


class EmbeddingQuerySet(models.QuerySet["Embedding"]):
    def active(self) -> EmbeddingQuerySet:
        return self.filter(model=active_model_key())


class Embedding(models.Model):
    """A song's position in one model's embedding space, with that model's tag scores."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=64, help_text="name@version of the network that made it")
    vector = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    tag_scores = models.JSONField(default=dict, help_text="Tag → score (0 to 1)")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EmbeddingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["song", "model"], name="embedding_song_model_unique")]
        indexes = [
            HnswIndex(
                name="embedding_vector_hnsw",
                fields=["vector"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["model"], name="embedding_model"),
        ]

    def __str__(self) -> str:
        return f"{self.song} ({self.model})"

    def top_tags(self, n: int = 8) -> list[tuple[str, float]]:
        return sorted(self.tag_scores.items(), key=lambda item: item[1], reverse=True)[:n]
