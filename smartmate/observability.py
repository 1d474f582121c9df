"""Request ids, JSON log context, and Prometheus metrics for the HTTP layer.

`/metrics` merges the process (or multiprocess) registry with scrape-time
collectors that apps register (`register_scrape_collector`): gauges such as the
outbox backlog are read from the database when Prometheus asks, not kept in memory.
"""

import contextvars
import hmac
import logging
import logging.config
import os
import re
import time
import uuid

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY

from smartmate import request_reads

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_REQUESTS = Counter(
    "smartmate_http_requests_total", "HTTP requests by view, method and status", ["view", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "smartmate_http_request_duration_seconds",
    "HTTP request latency by view",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_scrape_collectors = []


def register_scrape_collector(collector):
    """Add a collector (an object with collect()) evaluated on every /metrics scrape."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)


# Path segments that are credentials (the calendar feed's secret), masked in access logs.
_SECRET_IN_PATH = re.compile(r"(/api/v1/calendar/)[^/\s?\"]+?(?=\.ics|[/\s?\"]|$)")
# The loggers that write request paths: gunicorn's access log and uvicorn's (under gunicorn's
# UvicornWorker it writes through gunicorn's access handlers), runserver's, and Django's 4xx/5xx lines.
ACCESS_LOGGERS = ("gunicorn.access", "uvicorn.access", "django.server", "django.request")


def mask_secrets(text):
    return _SECRET_IN_PATH.sub(r"\1***", text) if isinstance(text, str) else text


class AccessLogSecretFilter(logging.Filter):
    """Masks secrets in a record's message and arguments, keeping their shape: gunicorn passes
    its atoms as a dict, uvicorn a tuple that its own formatter unpacks."""

    def filter(self, record):
        record.msg = mask_secrets(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: mask_secrets(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(mask_secrets(value) for value in record.args)
        return True


_ACCESS_LOG_FILTER = AccessLogSecretFilter()


def logging_configure(config):
    """LOGGING_CONFIG: Django's dictConfig, then the secret mask on the access loggers. A filter
    added to the logger keeps whatever handlers the server gave it (a LOGGING entry for it would
    replace them)."""
    logging.config.dictConfig(config)
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(_ACCESS_LOG_FILTER)


class RequestContextFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class RequestContextMiddleware:
    """Takes X-Request-ID (or makes one), echoes it, puts it on every log line, counts the request."""

    # Sync only, stated: under WSGI nothing adapts it; under ASGI (the SSE process) Django adapts
    # the chain of sync middleware at its ends only, as for any sync middleware.
    sync_capable, async_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        timezone.deactivate()  # the user's zone is activated per request after authentication
        token = request_id_var.set(request_id)
        reads = request_reads.begin()  # a thread serves many requests: nothing carried over
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_reads.end(reads)
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        view = (match.route or match.view_name) if match else "unmatched"
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view, request.method).observe(time.perf_counter() - started)
        return response


def metrics_view(request):
    """Prometheus scrape. With METRICS_TOKEN set it takes `Authorization: Bearer <token>` only
    (Prometheus: `authorization: {credentials: ...}`); unset, it is open, for a loopback or
    firewalled scrape."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            from smartmate.errors import error_response

            response = error_response(401, "not_authenticated", "This endpoint needs the metrics token.")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in list(PROCESS_REGISTRY._collector_to_names):
            registry.register(collector)
    for collector in _scrape_collectors:
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
