from django.urls import path

from recommender import (
    views,
    views_catalogue,
    views_describe,
    views_home,
    views_map,
    views_personal,
    views_photo,
    views_radio,
)

app_name = "recommender"

urlpatterns = [
    path("", views_home.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("upload/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("upload/<int:pk>/delete", views.upload_delete, name="upload_delete"),
    path("upload/<int:pk>/share", views.upload_share, name="upload_share"),
    path("upload/<int:pk>/tags", views.upload_tags, name="upload_tags"),
    path("songs/<int:pk>/spectrogram.png", views.spectrogram, name="spectrogram"),
    path("songs/<int:pk>/similar/", views.more_like_this, name="more_like_this"),
    path("songs/<int:pk>/listeners-also-played/", views.listeners_also_played, name="listeners_also_played"),
    path("songs/<int:pk>/save-playlist", views.save_playlist, name="save_playlist"),
    path("analysis/progress", views.analysis_progress, name="analysis_progress"),
    # --- Artists, albums and covers (recommender/views_catalogue.py) ---
    path("artists/<int:pk>/", views_catalogue.artist_detail, name="artist"),
    path("artists/<int:pk>/queue.json", views_catalogue.artist_queue, name="artist_queue"),
    path("artists/<int:pk>/similar/", views_catalogue.artist_songs_like, name="artist_songs_like"),
    path("albums/<int:pk>/", views_catalogue.album_detail, name="album"),
    path("albums/<int:pk>/queue.json", views_catalogue.album_queue, name="album_queue"),
    path("albums/<int:pk>/similar/", views_catalogue.album_songs_like, name="album_songs_like"),
    path("songs/<int:pk>/cover/<int:size>.jpg", views_catalogue.song_cover, name="song_cover_now"),
    path("songs/<int:pk>/cover/<int:size>/<slug:token>.jpg", views_catalogue.song_cover, name="song_cover"),
    # --- Personal recommendations: for you, start, extend, path (recommender/views_personal.py) ---
    path("for-you/", views_personal.for_you, name="for_you"),
    path("for-you/start", views_personal.for_you_start, name="for_you_start"),
    path("for-you/save", views_personal.for_you_save, name="for_you_save"),
    path("playlists/<int:pk>/extend", views_personal.extend_playlist, name="extend_playlist"),
    path("path/", views_personal.path_between_songs, name="path"),
    path("path/save", views_personal.save_path, name="save_path"),
    # --- Sounds like…: songs found from a description in words (recommender/views_describe.py) ---
    path("sounds-like/", views_describe.sounds_like, name="sounds_like"),
    # --- A photo → music: songs that match a photo's mood (recommender/views_photo.py) ---
    path("photo/", views_photo.photo, name="photo"),
    path("photo/<int:pk>/", views_photo.photo_detail, name="photo_detail"),
    path("photo/<int:pk>/thumbnail.jpg", views_photo.photo_thumbnail, name="photo_thumbnail"),
    path("photo/<int:pk>/save", views_photo.photo_save, name="photo_save"),
    path("photo/<int:pk>/delete", views_photo.photo_delete, name="photo_delete"),
    # --- The map of the catalogue (recommender/views_map.py) ---
    path("map/", views_map.catalogue_map, name="map"),
    path("map/points.json", views_map.map_points, name="map_points"),
    path("map/songs.json", views_map.map_tracks, name="map_tracks"),
    path("map/playlist", views_map.map_playlist, name="map_playlist"),
    # --- Radio: the next songs, as the player asks (recommender/views_radio.py) ---
    path("radio/next", views_radio.radio_next, name="radio_next"),
]
