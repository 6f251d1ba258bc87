from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.song_list, name="song_list"),
    path("songs/<int:pk>/", views.song_detail, name="song_detail"),
    path("songs/<int:pk>/audio", views.song_audio, name="song_audio"),
    path("songs/<int:pk>/licence", views.song_licence, name="song_licence"),
    path("playlists/", views.playlist_list, name="playlist_list"),
    path("playlists/<int:pk>/", views.playlist_detail, name="playlist_detail"),
    path("playlists/<int:pk>/rename", views.playlist_rename, name="playlist_rename"),
    path("playlists/<int:pk>/delete", views.playlist_delete, name="playlist_delete"),
    # --- Listening: player, plays, history, likes (catalog/views_listening.py) ---
    # --- Playlists: edit, reorder, share, export, import (catalog/views_playlists.py) ---
]
