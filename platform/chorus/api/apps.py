from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chorus.api"
    label = "api"

    def ready(self) -> None:
        from chorus.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
