from django.contrib import admin
from django.urls import include, path
from django_rq import stats_views as rq_stats_views

from catalog import views as catalog_views
from catalog import views_account

urlpatterns = [
    path("", include("catalog.urls")),
    path("", include("recommender.urls")),
    path("accounts/signup/", catalog_views.signup, name="signup"),
    path("accounts/data/", views_account.account_data, name="account_data"),
    path("accounts/data/download", views_account.account_data_download, name="account_data_download"),
    path("accounts/delete/", views_account.account_delete, name="account_delete"),
    path("accounts/", include("django.contrib.auth.urls")),
    # django-rq's dashboard checks is_staff itself. Since django-rq 4 its names live in the "django_rq"
    # namespace, so the dashboard's own page also gets the short name the site's templates link to.
    path("admin/rq/", rq_stats_views.stats, name="rq_home"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
