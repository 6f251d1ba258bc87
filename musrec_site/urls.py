from django.contrib import admin
from django.urls import include, path

from catalog import views as catalog_views

urlpatterns = [
    path("", include("catalog.urls")),
    path("accounts/signup/", catalog_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    # django-rq's dashboard checks is_staff itself.
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
