from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications.metrics import BacklogCollector
        from smartmate.observability import register_scrape_collector

        register_scrape_collector(BacklogCollector())
