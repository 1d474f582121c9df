"""Probes of the configured parts, shared by /healthz, start-up fail-fast and check_services.

Each probe returns "ok", "disabled" (the part is not configured: the embedded
default stands in), or raises; `probe_parts` runs them concurrently under one
deadline so a hanging part cannot hold /healthz past ~1.5 s. Messages name the part
and host, never credentials; the public /healthz body names the part only (hosts go to its log).
"""

import logging
import socket
import struct
import sys
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.http import JsonResponse

from smartmate.db.pool import unpooled_connection

logger = logging.getLogger("smartmate.health")

PARTS = ("database", "cache", "broker", "kafka")  # what /healthz reports (docs/DOMAIN.md §7)
# Start-up also refuses an LLM endpoint that is configured but unreachable (docs/DOMAIN.md §7).
STARTUP_PARTS = (*PARTS, "llm")


def _host_of(url):
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or ''}".rstrip(":")


def describe(part):
    """'PostgreSQL at 127.0.0.1:5432', without credentials."""
    if part == "database":
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            return f"SQLite at {db['NAME']}"
        return f"PostgreSQL at {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    if part == "cache":
        return f"Redis cache at {_host_of(settings.REDIS_URL)} (REDIS_URL)"
    if part == "broker":
        return f"Celery broker at {_host_of(settings.CELERY_BROKER_URL)} (CELERY_BROKER_URL)"
    if part == "kafka":
        return f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS} (KAFKA_BOOTSTRAP_SERVERS)"
    if part == "llm":
        return f"LLM endpoint at {_host_of(settings.LLM_BASE_URL)} (LLM_BASE_URL)"
    return part


def configured(part):
    if part == "database":
        return True
    if part == "cache":
        return bool(settings.REDIS_URL)
    if part == "broker":
        return not settings.CELERY_BROKER_URL.startswith(("filesystem", "memory"))
    if part == "kafka":
        return bool(settings.KAFKA_BOOTSTRAP_SERVERS)
    if part == "llm":
        return bool(getattr(settings, "LLM_BASE_URL", ""))
    return False


def _probe_database(timeout):
    connection = unpooled_connection("default")  # the server itself, not a connection the pool kept
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def _probe_redis(url, timeout):
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _probe_broker(timeout):
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return _probe_redis(url, timeout)
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def _probe_tcp(addresses, timeout):
    """Any of the (host, port) pairs accepts a TCP connection."""
    errors = []
    for host, port in addresses:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except OSError as exc:
            errors.append(exc)
    raise errors[-1] if errors else OSError("no address configured")


def _recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the connection closed without an answer")
        data += chunk
    return data


def _kafka_api_versions(host, port, timeout):
    """One ApiVersions (v0) round trip. A TCP connect alone is not enough: a hung broker's
    kernel still completes the handshake, so /healthz would call it ok (failure injection)."""
    client_id = b"smartmate-health"
    request = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        length, correlation_id = struct.unpack(">ii", _recv_exact(sock, 8))
        if correlation_id != 7 or length < 6:
            raise OSError("not a Kafka answer")


def _probe_kafka(timeout):
    errors = []
    for server in settings.KAFKA_BOOTSTRAP_SERVERS.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            return _kafka_api_versions(host.strip("[]") or "localhost", int(port or 9092), timeout)
        except OSError as exc:
            errors.append(exc)
    raise errors[-1] if errors else OSError("no bootstrap servers")


def _probe_llm(timeout):
    url = urlsplit(settings.LLM_BASE_URL)
    _probe_tcp([(url.hostname or "localhost", url.port or (443 if url.scheme == "https" else 80))], timeout)


_PROBES = {
    "database": _probe_database,
    "cache": lambda timeout: _probe_redis(settings.REDIS_URL, timeout),
    "broker": _probe_broker,
    "kafka": _probe_kafka,
    "llm": _probe_llm,
}


def _reason(exc):
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host"
    return text[:200]


def probe_parts(deadline=None, parts=PARTS):
    """{part: "ok" | "disabled" | error sentence}; every probe runs at once, none past the deadline."""
    deadline = settings.HEALTH_DEADLINE if deadline is None else deadline
    results = {}
    threads = []

    def run(part):
        try:
            _PROBES[part](max(deadline, 0.5))
            results[part] = "ok"
        except Exception as exc:  # any failure is a down part, said in one sentence
            results[part] = f"{describe(part)} is unreachable: {_reason(exc)}"

    for part in parts:
        if not configured(part):
            results[part] = "disabled"
            continue
        thread = threading.Thread(target=run, args=(part,), daemon=True, name=f"probe-{part}")
        thread.start()
        threads.append((part, thread))
    stop_at = time.monotonic() + deadline
    for part, thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()))
        if thread.is_alive():
            results[part] = f"{describe(part)} did not answer within {deadline:g} s"
    return {part: results[part] for part in parts}


def failures(results):
    return {part: value for part, value in results.items() if value not in ("ok", "disabled")}


def exit_unless_parts_reachable(component, parts=STARTUP_PARTS):
    """Fail fast at start-up: one clear line per down part on stderr, then exit 1."""
    down = failures(probe_parts(deadline=settings.PREFLIGHT_TIMEOUT, parts=parts))
    if down:
        for message in down.values():
            print(f"smartmate {component}: cannot start: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1)


def start_or_exit(make_application, component="web"):
    """Build the WSGI/ASGI application, or stop with one line: a configuration mistake
    (ImproperlyConfigured, e.g. no SECRET_KEY) or a configured part that is down."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        application = make_application()
    except ImproperlyConfigured as exc:
        print(f"smartmate {component}: cannot start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    exit_unless_parts_reachable(component)
    return application


def label(part):
    """The part's name without its host or path: what an anonymous caller of /healthz may read."""
    if part == "database":
        return "SQLite" if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else "PostgreSQL"
    return {"cache": "Redis cache", "broker": "Celery broker", "kafka": "Kafka", "llm": "LLM endpoint"}.get(part, part)


def healthz(request):
    """Public: each down part is named, its host only in the log (the body reaches anyone)."""
    checks = probe_parts()
    down = failures(checks)
    ok = not down
    for part, sentence in down.items():
        logger.warning("health check failed: %s", sentence)
        checks[part] = sentence.replace(describe(part), label(part), 1)
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "version": settings.VERSION, "checks": checks},
        status=200 if ok else 503,
    )
