"""Settings of bench/outbox_jaiminho.py only: the project's settings plus django-jaiminho
2.2.1 (bench/requirements.txt), never part of SmartMate itself."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")

from smartmate.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "jaiminho"]  # noqa: F405
JAIMINHO_CONFIG = {
    "PUBLISH_STRATEGY": "keep-order",  # every call stored in jaiminho's Event table, sent by its relay
    "DEFAULT_CAPTURE_EXCEPTION": None,  # instead of sentry_sdk.capture_exception
    # SIGN_EVENTS / VERIFY_EVENTS_SIGNATURE left at their defaults (True): events are signed and checked.
}
