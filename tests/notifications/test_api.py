"""The HTTP API: channels (PUT/GET/DELETE/test) and the notification list."""

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest

from notifications import services
from notifications.models import NotificationChannel, NotificationRecord
from tests.notifications.conftest import event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHANNELS = "/api/v1/notification-channels/"
SECRET = "topsecret-hmac-key-77"


def put(client, kind, **body):
    return client.put(f"{CHANNELS}{kind}/", body, format="json")


def app_log(caplog) -> str:
    """What the application logged (the loopback test server's own access log excluded)."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "werkzeug")


def field_error(response, field):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    return error


def test_put_creates_the_channel_and_never_returns_the_secret_or_the_url_path(auth_api, hook, caplog):
    caplog.set_level(logging.DEBUG)
    url = hook.url_for("/open-apis/bot/v2/hook/0a1b2c3d-token")
    response = put(auth_api, "feishu", webhook_url=url, secret=SECRET, enabled=True)
    assert response.status_code == 200, response.content
    body = response.json()
    port = hook.port
    assert body == {
        "kind": "feishu",
        "enabled": True,
        "webhook_url": f"http://127.0.0.1:{port}/***",
        "address": None,
        "has_secret": True,
        "last_test_status": None,
        "last_test_error": None,
        "last_test_at": None,
    }
    listed = auth_api.get(CHANNELS)
    assert listed.status_code == 200
    assert listed.json() == [body]
    for text in (response.content.decode(), listed.content.decode(), app_log(caplog)):
        assert SECRET not in text
        assert "0a1b2c3d-token" not in text


def test_secret_never_reaches_responses_or_logs_during_delivery_and_test(auth_api, user, hook, caplog, t0):
    caplog.set_level(logging.DEBUG)
    hook.expect_request("/hook/tok-xyz", method="POST").respond_with_data("nope", status=500)
    assert put(auth_api, "webhook", webhook_url=hook.url_for("/hook/tok-xyz"), secret=SECRET).status_code == 200
    services.notifications_request(event_id="e", data=event_data(user), now=t0)
    services.notifications_deliver(now=t0)
    test = auth_api.post(f"{CHANNELS}webhook/test/")
    assert test.status_code == 502
    records = auth_api.get("/api/v1/notifications/")
    for text in (test.content.decode(), records.content.decode(), app_log(caplog)):
        assert SECRET not in text
        assert "tok-xyz" not in text
    assert "notification retry" in caplog.text  # the delivery was logged, masked


def test_put_keeps_the_secret_when_left_out_and_removes_it_when_empty(auth_api, user, hook):
    url = hook.url_for("/hook")
    put(auth_api, "webhook", webhook_url=url, secret=SECRET)
    assert put(auth_api, "webhook", webhook_url=url, enabled=False).json()["has_secret"] is True
    channel = NotificationChannel.objects.get(user=user, kind="webhook")
    assert channel.secret == SECRET and channel.enabled is False
    assert put(auth_api, "webhook", webhook_url=url, secret="").json()["has_secret"] is False


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://token@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/" + "a" * 2000, "2000"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "private"),
        ("https://[::1]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "private"),
        ("https://localhost/hook", "private"),
        ("https://0x7f000001/hook", "private"),
        ("not a url", "whitespace"),
        ("hooks.example.com/x", "host"),
        ("https:///nohost", "host"),
    ],
)
def test_put_refuses_unsafe_urls_naming_the_field(auth_api, url, why):
    error = field_error(put(auth_api, "webhook", webhook_url=url), "webhook_url")
    assert why in error["fields"]["webhook_url"][0]
    assert not NotificationChannel.objects.exists()


def test_put_refuses_a_host_that_resolves_to_a_private_address(auth_api, public_dns):
    public_dns["intranet.example.org"] = ["93.184.216.34", "172.16.5.5"]
    field_error(put(auth_api, "webhook", webhook_url="https://intranet.example.org/h"), "webhook_url")
    public_dns["intranet.example.org"] = ["93.184.216.34"]
    assert put(auth_api, "webhook", webhook_url="https://intranet.example.org/h").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "webhook_url"),
        ({"webhook_url": 5}, "webhook_url"),
        ({"webhook_url": "https://hooks.example.com/x", "enabled": "maybe"}, "enabled"),
        ({"webhook_url": "https://hooks.example.com/x", "colour": "red"}, "colour"),
        ({"webhook_url": "https://hooks.example.com/x", "secret": "x" * 513}, "secret"),
    ],
)
def test_put_bad_body_is_400(auth_api, body, field, public_dns):
    public_dns["hooks.example.com"] = ["93.184.216.34"]
    field_error(auth_api.put(f"{CHANNELS}webhook/", body, format="json"), field)


def test_malformed_json_is_400(auth_api):
    response = auth_api.generic("PUT", f"{CHANNELS}webhook/", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_unknown_kind_is_404(auth_api, hook):
    for response in (
        put(auth_api, "sms", webhook_url=hook.url_for("/h")),
        auth_api.delete(f"{CHANNELS}sms/"),
        auth_api.post(f"{CHANNELS}sms/test/"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_delete_removes_the_channel(auth_api, hook):
    put(auth_api, "webhook", webhook_url=hook.url_for("/h"))
    assert auth_api.delete(f"{CHANNELS}webhook/").status_code == 204
    assert auth_api.get(CHANNELS).json() == []
    assert auth_api.delete(f"{CHANNELS}webhook/").status_code == 404


def test_test_endpoint_delivers_synchronously_and_records_the_result(auth_api, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    put(auth_api, "webhook", webhook_url=hook.url_for("/hook"), secret=SECRET)
    response = auth_api.post(f"{CHANNELS}webhook/test/")
    assert response.status_code == 200, response.content
    assert response.json() == {"delivered": True}
    (request, _), *_ = hook.log
    raw = request.get_data()
    assert (
        request.headers["X-SmartMate-Signature"]
        == "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    )
    assert json.loads(raw)["event"] == "test"
    channel = auth_api.get(CHANNELS).json()[0]
    assert channel["last_test_status"] == "delivered" and channel["last_test_at"]


def test_test_endpoint_reports_the_endpoint_error_as_502(auth_api, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("forbidden", status=403)
    put(auth_api, "webhook", webhook_url=hook.url_for("/hook"))
    response = auth_api.post(f"{CHANNELS}webhook/test/")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert error["details"]["status"] == 403
    # The PUT answer shape carries the last test result.
    body = put(auth_api, "webhook", webhook_url=hook.url_for("/hook")).json()
    assert body["last_test_status"] == "failed"
    assert "HTTP 403" in body["last_test_error"]
    assert body["last_test_at"]


def test_test_endpoint_reports_feishu_error_codes(auth_api, hook):
    hook.expect_request("/f", method="POST").respond_with_json({"code": 19021, "msg": "sign match fail"})
    put(auth_api, "feishu", webhook_url=hook.url_for("/f"), secret="bad")
    response = auth_api.post(f"{CHANNELS}feishu/test/")
    assert response.status_code == 502
    assert response.json()["error"]["details"] == {"status": 200, "code": 19021}


def test_test_endpoint_without_a_channel_is_404(auth_api):
    assert auth_api.post(f"{CHANNELS}feishu/test/").status_code == 404


def test_notification_list_is_paginated_filtered_and_in_the_users_time_zone(auth_api, user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    put(auth_api, "webhook", webhook_url=hook.url_for("/hook"))
    services.notifications_request(event_id="e1", data=event_data(user), now=t0)
    services.notifications_deliver(now=t0)
    data = event_data(user)
    services.notifications_request(event_id="e2", data=data, now=t0 + timedelta(minutes=1))

    response = auth_api.get("/api/v1/notifications/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    first = body["results"][0]
    assert set(first) == {
        "id",
        "channel",
        "event",
        "status",
        "attempts",
        "next_retry_at",
        "last_error",
        "preview_id",
        "created_at",
        "sent_at",
    }
    assert first["channel"] == "webhook" and first["event"] == "preview_ready"
    assert first["preview_id"] == data["preview_id"]

    sent = auth_api.get("/api/v1/notifications/?status=sent").json()
    assert sent["count"] == 1
    assert sent["results"][0]["sent_at"].endswith("+08:00")  # alice lives in Asia/Shanghai
    assert auth_api.get("/api/v1/notifications/?status=pending").json()["count"] == 1
    bad = auth_api.get("/api/v1/notifications/?status=lost")
    assert bad.status_code == 400
    assert "status" in bad.json()["error"]["fields"]


def test_other_users_records_and_channels_are_invisible(auth_api, user, make_user, client_for, hook, t0):
    bob = make_user("bob")
    bob_api = client_for(bob)
    assert put(bob_api, "webhook", webhook_url=hook.url_for("/bob"), secret="bobs-secret").status_code == 200
    services.notifications_request(event_id="b", data=event_data(bob), now=t0)
    services.notifications_request(event_id="a", data=event_data(user), now=t0)

    mine = auth_api.get("/api/v1/notifications/").json()
    assert mine["count"] == 1
    assert mine["results"][0]["channel"] == "none"
    assert auth_api.get(CHANNELS).json() == []
    assert auth_api.post(f"{CHANNELS}webhook/test/").status_code == 404
    assert auth_api.delete(f"{CHANNELS}webhook/").status_code == 404
    assert NotificationChannel.objects.filter(user=bob).exists()
    assert bob_api.get("/api/v1/notifications/").json()["count"] == 1
    assert NotificationRecord.objects.count() == 2


def test_endpoints_need_a_token(api_client):
    for response in (
        api_client.get(CHANNELS),
        api_client.get("/api/v1/notifications/"),
        api_client.put(f"{CHANNELS}webhook/", {}, format="json"),
    ):
        assert response.status_code == 401


def test_test_endpoint_honours_idempotency_key(auth_api, hook):
    hook.expect_request("/hook", method="POST").respond_with_data("ok")
    put(auth_api, "webhook", webhook_url=hook.url_for("/hook"))
    first = auth_api.post(f"{CHANNELS}webhook/test/", HTTP_IDEMPOTENCY_KEY="k-1")
    again = auth_api.post(f"{CHANNELS}webhook/test/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(hook.log) == 1
