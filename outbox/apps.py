from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class OutboxConfig(AppConfig):
    name = "outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Every app's handlers.py registers its @handles functions.
        autodiscover_modules("handlers")
