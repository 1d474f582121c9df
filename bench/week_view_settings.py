"""Settings of the week-view bench: the project's settings, plus a bare JSON view on the
URLconf, a per-user rate limit no run reaches (its Redis call is still paid, as in production),
and BENCH_CACHE=dummy for the uncached run."""

import os

from smartmate.settings import *  # noqa: F403

ROOT_URLCONF = "week_view_urls"
# The bench measures serving, rate limiter included, never a refusal.
THROTTLE_USER_BURST = 10**9
THROTTLE_USER_REFILL_PER_SECOND = 10.0**6
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
if os.environ.get("BENCH_CACHE") == "dummy":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    THROTTLE_USER_BURST = 0  # no Redis to keep a bucket in (it would log a warning per request)
