"""The analysis side of the song admin ("Analyse again" on the catalogue's song list) and the collaborative model's
trainings."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.admin import SongAdmin
from catalog.models import Song
from recommender.collaborative import CollaborativeModel
from recommender.jobs import queue_analysis


@admin.action(description="Analyse again (retry failed or re-run)")
def analyse_again(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Song]) -> None:
    count = queue_analysis(queryset.values_list("pk", flat=True), retry_failed=True)
    modeladmin.message_user(request, f"{count} song{'s' if count != 1 else ''} queued for analysis.")


# The catalogue registers songs without knowing about analysis; the recommender extends that registration.
admin.site.unregister(Song)


@admin.register(Song)
class AnalysedSongAdmin(SongAdmin):
    actions = [analyse_again]


@admin.register(CollaborativeModel)
class CollaborativeModelAdmin(admin.ModelAdmin):
    """The collaborative model's training (issue 14): when, from how many people, songs and events, how long it took.
    For looking only: the worker trains it (``MUSREC_CF_RETRAIN_*``), and nobody's factor is ever shown."""

    list_display = ("version", "trained_at", "user_count", "song_count", "event_count", "seconds")
    fields = list_display
    readonly_fields = list_display

    @admin.display(description="version")
    def version(self, model: CollaborativeModel) -> str:
        return f"v{model.pk}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CollaborativeModel | None = None) -> bool:
        return False


# The genre models' admin lives beside their registry (issue 10); importing it registers it.
from recommender import genre_admin  # noqa: E402,F401
