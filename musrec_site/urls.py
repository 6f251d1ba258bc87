from django.contrib import admin
from django.urls import include, path
from django_rq import stats_views as rq_stats_views

urlpatterns = [
    path("", include("catalog.urls")),
    path("", include("recommender.urls")),
    path("accounts/", include("accounts.urls")),
    # django-rq's dashboard checks is_staff itself. Since django-rq 4 its names live in the "django_rq"
    # namespace, so the dashboard's own page also gets the short name the site's templates link to.
    path("admin/rq/", rq_stats_views.stats, name="rq_home"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
