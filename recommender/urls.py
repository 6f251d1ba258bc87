from django.urls import path

from recommender import views

app_name = "recommender"

urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("upload/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("upload/<int:pk>/delete", views.upload_delete, name="upload_delete"),
    path("upload/<int:pk>/share", views.upload_share, name="upload_share"),
    path("songs/<int:pk>/spectrogram.png", views.spectrogram, name="spectrogram"),
    path("songs/<int:pk>/similar/", views.more_like_this, name="more_like_this"),
    path("songs/<int:pk>/save-playlist", views.save_playlist, name="save_playlist"),
    path("analysis/progress", views.analysis_progress, name="analysis_progress"),
    # --- Personal recommendations: for you, start, extend, path (recommender/views_personal.py) ---
]
