"""Settings of the week-view bench: the project's settings, plus a bare JSON view on the
URLconf, no per-user rate limit, and BENCH_CACHE=dummy for the uncached run."""

import os

from smartmate.settings import *  # noqa: F403

ROOT_URLCONF = "week_view_urls"
THROTTLE_USER_BURST = 0  # the bench measures serving, not the rate limiter
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
if os.environ.get("BENCH_CACHE") == "dummy":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
