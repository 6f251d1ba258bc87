from django.urls import path, re_path

from subsonic import api, views

app_name = "subsonic"

urlpatterns = [
    # Players call /rest/ping.view and /rest/ping alike.
    re_path(r"^rest/(?P<method>[A-Za-z0-9]+(?:\.view)?)$", api.dispatch, name="rest"),
    path("apps/", views.apps, name="apps"),
]
