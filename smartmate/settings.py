"""SmartMate settings: one module, driven by environment variables.

With no variables set the project runs on the embedded default (SQLite, a file
cache, a filesystem Celery broker, the local outbox transport, the offline LLM).
Each *_URL variable switches one part to the real service. `.env.example` lists
every variable with its default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VERSION = "0.1.0"

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: refusing to start outside DEBUG (make run writes one to .env)"
        )
    SECRET_KEY = "insecure-debug-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else ["localhost", "127.0.0.1", "[::1]"])
# Where clients reach this deployment (links in notifications, the calendar URL, calendar UIDs).
# By default the port this process serves on, so `make run PORT=8123` hands out working URLs.
PUBLIC_BASE_URL = (
    env.str("PUBLIC_BASE_URL", default="") or f"http://127.0.0.1:{env.int('PORT', default=8000)}"
).rstrip("/")

INSTALLED_APPS = [
    "smartmate.apps.SmartMateAdminConfig",  # django.contrib.admin with the SmartMate site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc files (static)
    "smartmate",  # project-wide ops commands (check_services, welcome, seed_demo)
    "accounts",
    "outbox",
    "scheduling",
    "scheduling.plansquare",  # label "plansquare"; depends on scheduling, never the reverse
    "notifications",
    "agent",
]

MIDDLEWARE = [
    "smartmate.observability.RequestContextMiddleware",
    "smartmate.errors.JsonErrorMiddleware",
    "smartmate.db.deadline.QueryDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "smartmate.urls"
WSGI_APPLICATION = "smartmate.wsgi.application"
ASGI_APPLICATION = "smartmate.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- database ---------------------------------------------------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # 0: under ASGI every request runs in a fresh thread, so kept connections would pile up
    # unused until PostgreSQL refuses clients. The pool below reuses them instead.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "smartmate.db"  # Django's, plus the query deadline
        # Per process; 0 turns it off (a connection per request, e.g. behind pgbouncer).
        DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
        if DB_POOL_MAX_SIZE:
            from smartmate.db.pool import pool_options

            if DATABASES["default"]["CONN_MAX_AGE"]:
                raise ImproperlyConfigured("DB_CONN_MAX_AGE needs DB_POOL_MAX_SIZE=0: the pool keeps connections")
            DATABASES["default"]["OPTIONS"]["pool"] = pool_options(
                max_size=DB_POOL_MAX_SIZE,
                min_size=env.int("DB_POOL_MIN_SIZE", default=2),
                timeout=env.float("DB_POOL_TIMEOUT_SECONDS", default=3.0),
            )
else:
    # Embedded default. IMMEDIATE transactions take the write lock up front, so two
    # writers queue on the busy timeout instead of failing with "database is locked".
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "var" / "smartmate.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

# A statement or commit made while serving a request that gets no answer within this many
# seconds has its connection cut (503): a frozen server never fires its own statement_timeout.
DB_QUERY_DEADLINE_SECONDS = env.float("DB_QUERY_DEADLINE_SECONDS", default=5.0)

# --- cache ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": 600,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Every command through a circuit breaker: a hung Redis costs one timeout, not one per call.
                "REDIS_CLIENT_CLASS": "smartmate.redis_breaker.BreakerRedis",
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 600,
        }
    }
# The cache is a copy: a Redis outage must degrade to database reads, never fail a request.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
# Not per call: the circuit breaker below opens on the first failure and logs each state change.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
DJANGO_REDIS_LOGGER = "smartmate.cache"
# The circuit breaker (smartmate.redis_breaker): after this many consecutive connection errors or
# timeouts, Redis is skipped for REDIS_BREAKER_RESET_SECONDS, then one trial call decides. 1 by
# default: a single timeout has already cost SOCKET_TIMEOUT, 1000 times a normal round trip.
REDIS_BREAKER_FAIL_MAX = env.int("REDIS_BREAKER_FAIL_MAX", default=1)
REDIS_BREAKER_RESET_SECONDS = env.float("REDIS_BREAKER_RESET_SECONDS", default=5.0)

# --- email ------------------------------------------------------------------
# EMAIL_URL (smtp://user:password@host:587, smtp+tls://…, smtp+ssl://…) → SMTP. Unset: the embedded
# default writes each mail as a file under var/mail (nothing leaves the machine).
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST, EMAIL_PORT = _email["EMAIL_HOST"], _email["EMAIL_PORT"]
    EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_USER"], _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS, EMAIL_USE_SSL = _email.get("EMAIL_USE_TLS", False), _email.get("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SmartMate <noreply@localhost>")

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL) or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        # exchange tables (kombu's `control/` in the working directory by default): under var/ too
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"socket_connect_timeout": 2, "socket_timeout": 5}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Filled by the apps' schedules below; declared statically so beat needs no database table.
CELERY_BEAT_SCHEDULE: dict = {}

# --- outbox -------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = env.str("KAFKA_BOOTSTRAP_SERVERS", default="")
OUTBOX_TRANSPORT = "kafka" if KAFKA_BOOTSTRAP_SERVERS else "local"

# --- time, language ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- request limits, errors ---------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_BODY_BYTES", default=1024 * 1024)
# The file uploads (multipart) and the bodies they may have: the file's cap plus room for the
# multipart framing. Every other body has MAX_BODY_BYTES (smartmate.body_limit.body_cap).
UPLOAD_BODY_CAPS = {"/api/v1/courses/parse-image/": 5 * 1024 * 1024 + 64 * 1024}
APPEND_SLASH = False  # a POST must never be redirected; a missing slash gets a JSON 404 instead
CSRF_FAILURE_VIEW = "smartmate.errors.csrf_failure"

# --- auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("ACCESS_TOKEN_SECONDS", default=15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("REFRESH_TOKEN_SECONDS", default=7 * 24 * 3600)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "ROTATE_REFRESH_TOKENS": True,
    "UPDATE_LAST_LOGIN": False,
}
REFRESH_REUSE_GRACE_SECONDS = env.int("REFRESH_REUSE_GRACE_SECONDS", default=0)

LLM_TOKEN_QUOTA = env.int("LLM_TOKEN_QUOTA", default=100_000)
LLM_QUOTA_WINDOW_DAYS = env.int("LLM_QUOTA_WINDOW_DAYS", default=7)
# The most one LLM answer may cost (its max_tokens), and so what a turn holds of the quota beyond its prompt.
LLM_MAX_COMPLETION_TOKENS = env.int("LLM_MAX_COMPLETION_TOKENS", default=1024)
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# An in-flight record older than this is taken as abandoned (its process died).
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=60)

# --- REST framework -------------------------------------------------------------
THROTTLE_AUTH_RATE = env.str("THROTTLE_AUTH_RATE", default="10/min")
THROTTLE_CHAT_RATE = env.str("THROTTLE_CHAT_RATE", default="10/min")
THROTTLE_USER_BURST = env.int("THROTTLE_USER_BURST", default=20)
THROTTLE_USER_REFILL_PER_SECOND = env.float("THROTTLE_USER_REFILL_PER_SECOND", default=1.0)
# Failed password checks per account (login, password change), from any address.
THROTTLE_LOGIN_USERNAME_RATE = env.str("THROTTLE_LOGIN_USERNAME_RATE", default="10/hour")
# Password-reset mails asked for one address.
THROTTLE_PASSWORD_RESET_RATE = env.str("THROTTLE_PASSWORD_RESET_RATE", default="3/hour")
# The public calendar feed: per client address, and per secret.
THROTTLE_CALENDAR_RATE = env.str("THROTTLE_CALENDAR_RATE", default="60/min")
THROTTLE_CALENDAR_SECRET_RATE = env.str("THROTTLE_CALENDAR_SECRET_RATE", default="30/min")
# Addresses or networks of the reverse proxies in front of the web process. Only a request whose
# peer is one of them has its X-Forwarded-For read (throttles key on the client address); the
# default trusts none, so the address is the TCP peer's. smartmate/gunicorn_conf.py gives the
# same list to the server (forwarded_allow_ips).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.FamilyJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["smartmate.parsers.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "smartmate.pagination.PageNumberPagination",
    "DEFAULT_THROTTLE_CLASSES": ["smartmate.throttling.UserTokenBucketThrottle"],
    # DRF's own get_ident never trusts X-Forwarded-For; ours reads it from TRUSTED_PROXIES only.
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "smartmate.schema.AutoSchema",  # tags, summaries, security, headers by default
    "EXCEPTION_HANDLER": "smartmate.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 20,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SmartMate API",
    "DESCRIPTION": "Study and schedule planning assistant. See README.md for an overview.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",  # operation ids without v1_
    "SERVERS": [{"url": "/", "description": "this deployment"}],
    # Swagger UI and ReDoc from drf-spectacular-sidecar's pinned copies, served by us: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A nullable choice is "X or null" (smartmate.schema), not a separate NullEnum component.
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    # Named enums where two choice sets share a field name (else drf_spectacular.W001 warns and
    # invents names such as Status4a0Enum; `check --deploy` must be clean).
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "scheduling.models.tasks.Status",
        "TriggerSourceEnum": "scheduling.models.active.TriggerSource",
        "EventSourceEnum": "scheduling.models.timetable.EventSource",
        "EventKindEnum": "scheduling.models.timetable.EventKind",
        "ChunkObjectEnum": ["chat.completion.chunk"],
        "StudyPlanStatusEnum": "scheduling.models.planning.PlanStatus",
        "DraftPlanStatusEnum": "agent.models.PlanStatus",
        "ChangeKindEnum": ["task", "task_item"],  # a candidate's change and its edited form
        "TimetablePhotoStatusEnum": ["success", "partial", "rejected"],
        "TimetablePhotoWarningCodeEnum": "scheduling.photo.WARNING_CODES",
        "AgentActionKindEnum": "agent.models.ActionKind",
        "AgentActionStatusEnum": "agent.models.ActionStatus",
        "AgentActionReasonEnum": "agent.models.ActionReason",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smartmate.schema.postprocess",  # shared errors, x-enum-varnames, nullables, /healthz
    ],
}

# --- logging ------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json (the default: what a log shipper reads) | text (a person at a terminal: `make run` sets it
# when its output is one, docs/ARCHITECTURE.md §9).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
# dictConfig, then calendar secrets masked in the servers' access logs (smartmate.observability).
LOGGING_CONFIG = "smartmate.observability.logging_configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "smartmate.observability.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC, whatever TIME_ZONE says
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "kafka": {"level": "WARNING"},
        # SQL with its parameters (webhook and calendar secrets, password hashes) only on request:
        # LOG_LEVEL=DEBUG alone, with DEBUG=1, must not write secrets to the logs.
        "django.db.backends": {"level": "DEBUG" if env.bool("LOG_SQL", default=False) else "INFO"},
    },
}

# --- security -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if env.bool("HTTPS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Fail-fast probing of configured parts (smartmate.health, docs/DOMAIN.md §7), seconds per part.
PREFLIGHT_TIMEOUT = env.float("PREFLIGHT_TIMEOUT", default=3.0)
HEALTH_DEADLINE = env.float("HEALTH_DEADLINE", default=1.5)

# --- app settings (one block per app; each app reads only its own) -----------------
# [accounts]
# `POST auth/register/` answers 403 registration_closed when false; logins keep working.
REGISTRATION_OPEN = env.bool("REGISTRATION_OPEN", default=True)
# A login (its token family) ends this many days after the password was typed, however often refreshed.
LOGIN_MAX_AGE_DAYS = env.int("LOGIN_MAX_AGE_DAYS", default=30)
# How long the cache's copy of a user and their live logins serves requests (accounts.logins);
# it is renewed at once by every revocation, so this only bounds a revocation made while the
# cache was down (docs/DOMAIN.md §13). 0: every request asks the database.
LOGIN_SNAPSHOT_SECONDS = env.int("LOGIN_SNAPSHOT_SECONDS", default=60)
# A password-reset token's life in seconds (Django's token generator reads it).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# The link in the reset mail: {base} is PUBLIC_BASE_URL; the page posts uid and token to
# auth/password-reset/confirm/.
PASSWORD_RESET_URL = env.str("PASSWORD_RESET_URL", default="{base}/password-reset/?uid={uid}&token={token}")
# Credits (docs/DOMAIN.md §9): credits per 1,000 tokens by model, JSON
# {"<model>": {"prompt_per_1k": n, "completion_per_1k": n}, "default": {...}}; "default" prices every
# model not named (1 and 2 unless given). The offline provider is always free.
try:
    from accounts.credits.pricing import parse_prices

    CREDIT_PRICES = parse_prices(env.str("CREDIT_PRICES", default=""))
except ValueError as exc:
    raise ImproperlyConfigured(f"CREDIT_PRICES: {exc}")
# How long a call in flight holds credits: a hold its process never settled (it died) stops
# counting against the balance after this.
CREDITS_HOLD_SECONDS = env.int("CREDITS_HOLD_SECONDS", default=900)
CELERY_BEAT_SCHEDULE.update(
    {
        "accounts-flush-expired-tokens": {"task": "accounts.flush_expired_tokens", "schedule": 24 * 3600},
        "accounts-purge-idempotency-records": {"task": "accounts.purge_idempotency_records", "schedule": 3600},
        "accounts-credits-check": {"task": "accounts.credits_check", "schedule": 24 * 3600},
    }
)
# [scheduling]
from scheduling import timetable  # noqa: E402 (pure: the timetable's defaults and section count)

# Section times of a day (docs/DOMAIN.md §6): "HH:MM-HH:MM" comma list. Their number is fixed (scheduling.timetable
# SECTIONS, the API's 1-12); the defaults are the timetable's own.
SCHEDULING_SECTION_TIMES = [
    tuple(pair.split("-"))
    for pair in env.list("SCHEDULING_SECTION_TIMES", default=[f"{a}-{b}" for a, b in timetable.DEFAULT_SECTION_TIMES])
]
try:
    timetable.parse_sections(SCHEDULING_SECTION_TIMES, count=timetable.SECTIONS)
except ValueError as exc:
    raise ImproperlyConfigured(f"SCHEDULING_SECTION_TIMES: {exc}") from None
SCHEDULING_CACHE_TTL = env.int("SCHEDULING_CACHE_TTL", default=600)  # seconds, a backstop
SCHEDULING_RECENT_LIMIT_MAX = 50
# Active scheduling (docs/DOMAIN.md §2).
ACTIVE_SCHEDULE_SCAN_BATCH = env.int("ACTIVE_SCHEDULE_SCAN_BATCH", default=50)
ACTIVE_SCHEDULE_DEDUPE_MINUTES = env.int("ACTIVE_SCHEDULE_DEDUPE_MINUTES", default=30)
ACTIVE_SCHEDULE_HORIZON_DAYS = env.int("ACTIVE_SCHEDULE_HORIZON_DAYS", default=7)
ACTIVE_SCHEDULE_PREVIEW_TTL_SECONDS = env.int("ACTIVE_SCHEDULE_PREVIEW_TTL_SECONDS", default=3600)
# A timetable from a photo (courses/parse-image/): a vision-capable model at the OpenAI-compatible
# endpoint of LLM_BASE_URL / LLM_API_KEY (the agent's); unset → 501 not_configured.
LLM_VISION_MODEL = env.str("LLM_VISION_MODEL", default="")
LLM_VISION_TIMEOUT_SECONDS = env.float("LLM_VISION_TIMEOUT_SECONDS", default=60.0)
SCHEDULING_PHOTO_MAX_BYTES = 5 * 1024 * 1024  # fixed by the contract
# Study plans (docs/DOMAIN.md §2, "Study plans"): how long a plan may be applied.
STUDY_PLAN_TTL_SECONDS = env.int("STUDY_PLAN_TTL_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE.update(
    {
        "scheduling-scan-due-jobs": {"task": "scheduling.scan_due_jobs", "schedule": 60.0, "options": {"expires": 55}},
        "scheduling-expire-previews": {"task": "scheduling.expire_previews", "schedule": 300.0},
    }
)
# [plansquare] (docs/DOMAIN.md §10)
# Credits paid to a post's author for the first like / import of each other user (via the outbox).
PLAN_SQUARE_LIKE_REWARD = env.int("PLAN_SQUARE_LIKE_REWARD", default=1)
PLAN_SQUARE_IMPORT_REWARD = env.int("PLAN_SQUARE_IMPORT_REWARD", default=5)
# Per-user limits on what others read (DRF rate strings: N/second|minute|hour|day).
PLAN_SQUARE_POST_RATE = env.str("PLAN_SQUARE_POST_RATE", default="10/hour")
PLAN_SQUARE_COMMENT_RATE = env.str("PLAN_SQUARE_COMMENT_RATE", default="30/hour")
PLAN_SQUARE_REPORT_RATE = env.str("PLAN_SQUARE_REPORT_RATE", default="10/hour")
PLAN_SQUARE_MAX_ITEMS = env.int("PLAN_SQUARE_MAX_ITEMS", default=500)  # items a published plan may hold
# [outbox]
OUTBOX_TRANSPORT = env.str("OUTBOX_TRANSPORT", default=OUTBOX_TRANSPORT)  # "kafka" | "local"
# Relay batch: the best point of the measured curve (docs/BENCHMARKS.md).
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=1000)
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=30)
OUTBOX_MAX_RETRY = env.int("OUTBOX_MAX_RETRY", default=20)
OUTBOX_BACKOFF_CAP_SECONDS = env.int("OUTBOX_BACKOFF_CAP_SECONDS", default=32)
# Published rows their consumer has not settled within this are sent again (at-least-once).
OUTBOX_REDELIVER_AFTER_SECONDS = env.int("OUTBOX_REDELIVER_AFTER_SECONDS", default=300)
OUTBOX_PURGE_AFTER_DAYS = env.int("OUTBOX_PURGE_AFTER_DAYS", default=7)
# The relay's poll when nothing wakes it (SQLite, or OUTBOX_RELAY_LISTEN off).
OUTBOX_RELAY_IDLE_SECONDS = env.float("OUTBOX_RELAY_IDLE_SECONDS", default=0.5)
# PostgreSQL: `outbox_relay --loop` waits on LISTEN for commits of new rows, polling only
# every OUTBOX_RELAY_FALLBACK_SECONDS (or when a retry falls due).
OUTBOX_RELAY_LISTEN = env.bool("OUTBOX_RELAY_LISTEN", default=True)
OUTBOX_RELAY_FALLBACK_SECONDS = env.float("OUTBOX_RELAY_FALLBACK_SECONDS", default=5.0)
OUTBOX_KAFKA_LINGER_MS = env.int("OUTBOX_KAFKA_LINGER_MS", default=5)
OUTBOX_KAFKA_SEND_TIMEOUT_MS = env.int("OUTBOX_KAFKA_SEND_TIMEOUT_MS", default=10_000)
OUTBOX_CONSUMER_GROUP_PREFIX = env.str("OUTBOX_CONSUMER_GROUP_PREFIX", default="smartmate.")
OUTBOX_CONSUMER_MAX_POLL_INTERVAL_MS = env.int("OUTBOX_CONSUMER_MAX_POLL_INTERVAL_MS", default=8_000)
OUTBOX_CONSUMER_SESSION_TIMEOUT_MS = env.int("OUTBOX_CONSUMER_SESSION_TIMEOUT_MS", default=6_000)
# A poll's records are applied as one batch (one transaction).
OUTBOX_CONSUMER_MAX_POLL_RECORDS = env.int("OUTBOX_CONSUMER_MAX_POLL_RECORDS", default=500)
OUTBOX_CONSUMER_FETCH_MAX_WAIT_MS = env.int("OUTBOX_CONSUMER_FETCH_MAX_WAIT_MS", default=20)
CELERY_BEAT_SCHEDULE.update(
    {
        "outbox-relay": {"task": "outbox.tasks.relay", "schedule": 1.0, "options": {"expires": 1}},
        "outbox-recover-leases": {"task": "outbox.tasks.recover_leases", "schedule": 30.0},
        "outbox-purge": {"task": "outbox.tasks.purge", "schedule": timedelta(days=1)},
    }
)
# [notifications]
# Hosts that may be called over http and may resolve to private addresses (e.g. an
# internal relay); everything else must be https to a public address.
NOTIFICATIONS_ALLOWED_HOSTS = env.list("NOTIFICATIONS_ALLOWED_HOSTS", default=[])
# Ports other than 443 that channel URLs may use on public hosts (the allowed hosts above take any).
NOTIFICATIONS_ALLOWED_PORTS = env.list("NOTIFICATIONS_ALLOWED_PORTS", cast=int, default=[])
# The hosts a Feishu channel may call (its custom-bot webhooks live there).
NOTIFICATIONS_FEISHU_HOSTS = env.list("NOTIFICATIONS_FEISHU_HOSTS", default=["open.feishu.cn", "open.larksuite.com"])
NOTIFICATIONS_HTTP_TIMEOUT = env.float("NOTIFICATIONS_HTTP_TIMEOUT", default=5.0)
# A channel URL's host lookup (done while saving the channel, in the request, and before each send).
NOTIFICATIONS_DNS_TIMEOUT = env.float("NOTIFICATIONS_DNS_TIMEOUT", default=2.0)
NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=600)
NOTIFICATIONS_RETRY_DELAYS_MINUTES = env.list("NOTIFICATIONS_RETRY_DELAYS_MINUTES", cast=int, default=[5, 10, 20, 30])
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
NOTIFICATIONS_BATCH_SIZE = env.int("NOTIFICATIONS_BATCH_SIZE", default=100)
NOTIFICATIONS_SEND_CONCURRENCY = env.int("NOTIFICATIONS_SEND_CONCURRENCY", default=8)
NOTIFICATIONS_SWEEP_SECONDS = env.float("NOTIFICATIONS_SWEEP_SECONDS", default=60.0)
# A rate-limited (Feishu 9499/11232, HTTP 429) or 5xx answer is retried this many times inside
# the send, after Retry-After or base * 2^n seconds (capped); then the row's retry schedule.
NOTIFICATIONS_QUICK_RETRIES = env.int("NOTIFICATIONS_QUICK_RETRIES", default=2)
NOTIFICATIONS_QUICK_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_QUICK_RETRY_BASE_SECONDS", default=0.5)
NOTIFICATIONS_QUICK_RETRY_CAP_SECONDS = env.float("NOTIFICATIONS_QUICK_RETRY_CAP_SECONDS", default=5.0)
# A webhook secret replaced by a PUT keeps signing beside the new one this long (key rotation).
NOTIFICATIONS_SECRET_ROTATION_HOURS = env.int("NOTIFICATIONS_SECRET_ROTATION_HOURS", default=24)
CELERY_BEAT_SCHEDULE.update(
    {
        "notifications-sweep": {
            "task": "notifications.sweep",
            "schedule": NOTIFICATIONS_SWEEP_SECONDS,
            "options": {"expires": NOTIFICATIONS_SWEEP_SECONDS},
        }
    }
)
# [agent]
# Embedded default: the offline rule-based provider. LLM_BASE_URL set → any OpenAI-compatible endpoint.
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="") or "gpt-4o-mini"  # an empty value (.env.example) means the default
# The models a chat may choose (GET agent/models/, `model` on chat): a JSON list of
# {"id", "label"?, "default"?}, or a comma list of `id` or `id=label`. Empty: LLM_MODEL alone.
# The offline provider is always offered too, as "offline".
try:
    from agent.providers.choices import parse_models

    LLM_MODELS = parse_models(env.str("LLM_MODELS", default=""))
except ValueError as exc:
    raise ImproperlyConfigured(f"LLM_MODELS: {exc}")
AGENT_PROVIDER = env.str("AGENT_PROVIDER", default="openai" if LLM_BASE_URL else "offline")  # offline | openai
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=30.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=3)  # on 429 / 5xx, exponential backoff
LLM_BACKOFF_SECONDS = env.float("LLM_BACKOFF_SECONDS", default=0.5)
AGENT_SSE_PING_SECONDS = env.float("AGENT_SSE_PING_SECONDS", default=5.0)
AGENT_SSE_RETRY_MS = env.int("AGENT_SSE_RETRY_MS", default=3000)  # the stream's `retry:` for reconnecting clients
AGENT_MESSAGE_MAX_CHARS = 4000  # fixed by the contract
AGENT_CONTEXT_TOKEN_BUDGET = env.int("AGENT_CONTEXT_TOKEN_BUDGET", default=6000)
AGENT_MEMORY_PROMPT_ITEMS = min(env.int("AGENT_MEMORY_PROMPT_ITEMS", default=5), 20)
AGENT_URGENCY_LEAD_HOURS = env.int("AGENT_URGENCY_LEAD_HOURS", default=48)
AGENT_PLAN_DAYS_AHEAD = env.int("AGENT_PLAN_DAYS_AHEAD", default=7)
AGENT_CACHE_TTL = env.int("AGENT_CACHE_TTL", default=600)
# A write the agent asks about (a pending action) waits this long for a confirm, then expires.
AGENT_ACTION_TTL_SECONDS = env.int("AGENT_ACTION_TTL_SECONDS", default=600)
CELERY_BEAT_SCHEDULE.update({"agent-expire-actions": {"task": "agent.expire_actions", "schedule": 300.0}})
