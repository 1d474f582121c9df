import os
import sys

from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmate.settings")

try:
    application = get_asgi_application()
except ImproperlyConfigured as exc:  # a configuration mistake is one line, not a traceback
    print(f"smartmate web: cannot start: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

from smartmate.health import exit_unless_parts_reachable

exit_unless_parts_reachable("web")
