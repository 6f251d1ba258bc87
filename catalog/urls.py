from django.urls import path

from catalog import views, views_artwork, views_listening, views_playlist_files, views_playlists

app_name = "catalog"

urlpatterns = [
    # "/" is the home page (recommender/views_home.py); the catalogue is Browse.
    path("songs/", views.song_list, name="song_list"),
    path("songs/<int:pk>/", views.song_detail, name="song_detail"),
    path("songs/<int:pk>/audio", views.song_audio, name="song_audio"),
    path("songs/<int:pk>/licence", views.song_licence, name="song_licence"),
    path("covers/<int:pk>/<int:size>/<slug:token>.jpg", views_artwork.cover, name="cover"),
    # --- Listening: player, plays, history, likes (catalog/views_listening.py) ---
    path("plays/", views_listening.play_record, name="play_record"),
    path("history/", views_listening.history, name="history"),
    path("history/<int:pk>/remove", views_listening.history_remove, name="history_remove"),
    path("history/clear", views_listening.history_clear, name="history_clear"),
    path("songs/<int:pk>/rate", views_listening.song_rate, name="song_rate"),
    path("songs/<int:pk>/rating", views_listening.song_rating_buttons, name="song_rating_buttons"),
    path("liked/", views_listening.liked, name="liked"),
    # --- Playlists: edit, reorder, share (catalog/views_playlists.py); files (catalog/views_playlist_files.py) ---
    path("playlists/", views_playlists.playlist_list, name="playlist_list"),
    path("playlists/new", views_playlists.playlist_create, name="playlist_create"),
    path("playlists/import", views_playlist_files.playlist_import, name="playlist_import"),
    path("playlists/add/<int:song_pk>/", views_playlists.playlist_add_song, name="playlist_add_song"),
    path("playlists/<int:pk>/", views_playlists.playlist_detail, name="playlist_detail"),
    path("playlists/<int:pk>/rename", views_playlists.playlist_rename, name="playlist_rename"),
    path("playlists/<int:pk>/delete", views_playlists.playlist_delete, name="playlist_delete"),
    path("playlists/<int:pk>/duplicate", views_playlists.playlist_duplicate, name="playlist_duplicate"),
    path("playlists/<int:pk>/visibility", views_playlists.playlist_visibility, name="playlist_visibility"),
    path("playlists/<int:pk>/reorder", views_playlists.playlist_reorder, name="playlist_reorder"),
    path("playlists/<int:pk>/queue.json", views_playlists.playlist_queue, name="playlist_queue"),
    path("playlists/<int:pk>/items/<int:item_pk>/move", views_playlists.playlist_move_item, name="playlist_move_item"),
    path(
        "playlists/<int:pk>/items/<int:item_pk>/remove",
        views_playlists.playlist_remove_item,
        name="playlist_remove_item",
    ),
    path("playlists/<int:pk>/export.<slug:fmt>", views_playlist_files.playlist_export, name="playlist_export"),
    path("shared/<uuid:token>/", views_playlists.playlist_shared, name="playlist_shared"),
    path("shared/<uuid:token>/copy", views_playlists.playlist_shared_copy, name="playlist_shared_copy"),
    path("shared/<uuid:token>/songs/<int:pk>/audio", views.shared_song_audio, name="shared_song_audio"),
    path(
        "shared/<uuid:token>/export.<slug:fmt>",
        views_playlist_files.playlist_shared_export,
        name="playlist_shared_export",
    ),
]
