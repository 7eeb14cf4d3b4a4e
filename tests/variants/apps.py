from django.apps import AppConfig


class VariantsConfig(AppConfig):
    """Host models shaped unlike the demo's, one per way a real project differs (tests only)."""

    name = "tests.variants"
    label = "variants"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import models  # noqa: F401 (connects the post_save counter)
