import pytest

pytestmark = pytest.mark.django_db


def test_a_valid_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_a_missing_or_unsafe_request_id_is_replaced(client):
    assert len(client.get("/healthz")["X-Request-ID"]) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_metrics_count_requests_by_view_and_status(client):
    client.get("/api/v1/me/")
    text = client.get("/metrics").content.decode()
    assert "smartmate_http_requests_total" in text
    assert 'view="api/v1/me/"' in text and 'status="401"' in text


def test_log_lines_are_json_with_the_request_id():
    import io
    import json
    import logging

    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    from smartmate.observability import RequestContextFilter, request_id_var

    spec = settings.LOGGING["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"]))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("smartmate.test")
    logger.addHandler(handler)
    token = request_id_var.set("req-42")
    try:
        logger.warning("hello")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "hello"
    assert line["request_id"] == "req-42"
    assert line["level"] == "WARNING"


def test_metrics_stay_open_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def test_metrics_need_the_token_once_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-123"
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "scrape-secret-123"}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
        assert b"smartmate_http_requests_total" not in response.content
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123")
    assert allowed.status_code == 200 and b"smartmate_http_requests_total" in allowed.content
