from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The OpenAPI auth extension; password change / deactivation end every login.
        from accounts import schema, signals  # noqa: F401
