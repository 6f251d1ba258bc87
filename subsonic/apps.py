from django.apps import AppConfig


class SubsonicConfig(AppConfig):
    name = "subsonic"
    verbose_name = "Subsonic API"

    def ready(self) -> None:
        # Importing the endpoint modules registers their endpoints (subsonic.api.endpoint).
        from subsonic import endpoints  # noqa: F401
