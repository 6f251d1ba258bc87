from django.urls import path

from accounts import views

# No namespace: these sit beside django.contrib.auth's own names ("login", "password_change", ...).
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("data/", views.account_data, name="account_data"),
    path("data/download", views.account_data_download, name="account_data_download"),
    path("delete/", views.account_delete, name="account_delete"),
]
