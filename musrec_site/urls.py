from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView, TemplateView
from django_rq import stats_views as rq_stats_views

urlpatterns = [
    path("", include("catalog.urls")),
    path("", include("recommender.urls")),
    path("accounts/", include("accounts.urls")),
    # The Subsonic API (/rest/…) for music players, and the Apps page that sets them up.
    path("", include("subsonic.urls")),
    # django-rq's dashboard checks is_staff itself. Since django-rq 4 its names live in the "django_rq"
    # namespace, so the dashboard's own page also gets the short name the site's templates link to.
    path("admin/rq/", rq_stats_views.stats, name="rq_home"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    # What a phone needs to add Musrec to its home screen; the colours are the stylesheet's.
    path(
        "manifest.webmanifest",
        TemplateView.as_view(template_name="manifest.webmanifest", content_type="application/manifest+json"),
        name="web_app_manifest",
    ),
    # Browsers ask for /favicon.ico wherever a page names no icon of its own (the admin, an audio file). Lazy: with
    # the manifest storage, the icon's address is known only once the app's static files are collected.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("icons/favicon.ico")), name="favicon"),
]
