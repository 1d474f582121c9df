"""Test settings: the real parts on their localhost defaults, overridable by env vars.

A part that does not answer is dropped to its embedded stand-in so the rest of the
suite still runs (tests needing it skip with a reason), except under
SMARTMATE_REQUIRE_SERVICES=1, where a missing part stops the run at once.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

REQUIRE_SERVICES = os.environ.get("SMARTMATE_REQUIRE_SERVICES") == "1"
DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/smartmate",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}
MISSING_PARTS = {}


def _answers(url):
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port), timeout=1).close()
        return True
    except OSError:
        return False


for _name, _default in DEFAULTS.items():
    _url = os.environ.setdefault(_name, _default)
    if _url and not _answers(_url):
        if REQUIRE_SERVICES:
            raise SystemExit(f"SMARTMATE_REQUIRE_SERVICES=1 but {_name} ({urlsplit(_url).netloc}) does not answer")
        MISSING_PARTS[_name] = f"{_name} at {urlsplit(_url).netloc} does not answer"
        os.environ[_name] = ""

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("LOG_FORMAT", "text")
_VAR = Path(__file__).resolve().parent.parent / "var"
os.environ.setdefault("SQLITE_PATH", str(_VAR / f"test-{os.getpid()}.sqlite3"))
# No pool in the test process: the concurrency tests hold 100 connections at once. The pool
# is tested where it runs, in the web process (tests/smartmate/test_db_pool.py).
os.environ.setdefault("DB_POOL_MAX_SIZE", "0")

from smartmate.settings import *  # noqa: E402,F403
from smartmate.settings import CACHES, VAR_DIR  # noqa: E402

# Keys of concurrent test runs (and of a developer's `make run`) never meet.
CACHES["default"]["KEY_PREFIX"] = f"test{os.getpid()}"
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    CACHES["default"]["LOCATION"] = str(VAR_DIR / f"test-cache-{os.getpid()}")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Rate limits are exercised by their own tests, which set them back down.
THROTTLE_AUTH_RATE = "100000/min"
THROTTLE_CHAT_RATE = "100000/min"
THROTTLE_LOGIN_USERNAME_RATE = "100000/min"
THROTTLE_PASSWORD_RESET_RATE = "100000/min"
THROTTLE_CALENDAR_RATE = "100000/min"
THROTTLE_CALENDAR_SECRET_RATE = "100000/min"
THROTTLE_USER_BURST = 0
