from __future__ import annotations

from django.contrib import admin

from catalog.models import Album, Artist, Genre, Song


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["title", "artist"]
    search_fields = ["title", "artist__name"]
    autocomplete_fields = ["artist"]


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "parent"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]


@admin.register(Song)
class SongAdmin(admin.ModelAdmin):
    """Songs in the admin; ``recommender.admin`` adds the analysis actions to it."""

    list_display = ["title", "artist", "album", "duration_label", "analysis_status", "added_at"]
    list_filter = ["analysis_status", "in_catalogue", "genres", "licence"]
    search_fields = ["title", "artist__name", "album__title"]
    autocomplete_fields = ["artist", "album", "genres"]
    readonly_fields = [
        "content_hash",
        "file_size",
        "original_filename",
        "added_at",
        "analysis_error",
        "analysis_progress",
        "analysis_started_at",
        "analysed_at",
        "tempo_bpm",
        "loudness_db",
        "energy",
    ]
    raw_id_fields = ["owner"]
    list_select_related = ["artist", "album"]
