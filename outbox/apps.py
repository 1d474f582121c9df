from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class OutboxConfig(AppConfig):
    name = "outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from outbox.logs import quiet_idle_relay_ticks
        from outbox.metrics import collector
        from smartmate.observability import register_scrape_collector

        quiet_idle_relay_ticks()
        # Every app's handlers.py registers its @handles functions.
        autodiscover_modules("handlers")
        register_scrape_collector(collector)
