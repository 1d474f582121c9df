from django.apps import AppConfig


class PlanSquareConfig(AppConfig):
    """The plan square (docs/DOMAIN.md §10): an app of its own under scheduling, which it builds
    on (task classes, the planner); scheduling never imports it."""

    name = "scheduling.plansquare"
    label = "plansquare"
    verbose_name = "plan square"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from scheduling.plansquare import signals

        signals.connect()
