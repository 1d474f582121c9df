import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

application = get_asgi_application()

from smartmate.health import exit_unless_parts_reachable  # noqa: E402  (needs settings loaded)

exit_unless_parts_reachable("web")
