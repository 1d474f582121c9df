"""Operations: Prometheus metrics, the admin (masked, secret-free, "retry now"), the schema."""

import pytest

from notifications import services
from notifications.models import NotificationRecord
from tests.notifications.conftest import event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SECRET = "admin-must-not-see-this"


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "Correct-Horse-9")
    client.force_login(staff)
    return client


def test_metrics_count_results_by_channel_and_outcome_and_show_the_backlog(client, user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("", status=500)
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"))
    services.notifications_request(event_id="e", data=event_data(user), now=t0)
    services.notifications_deliver(now=t0)
    text = client.get("/metrics").content.decode()
    assert 'smartmate_notification_deliveries_total{channel="webhook",outcome="retry"}' in text
    assert 'smartmate_notification_records{status="failed"} 1.0' in text
    assert "smartmate_notification_oldest_due_seconds" in text


def test_admin_shows_masked_urls_and_never_the_secret(staff_client, user, hook):
    channel = services.channel_upsert(
        user=user, kind="feishu", webhook_url=hook.url_for("/open-apis/bot/v2/hook/tok-777"), secret=SECRET
    )
    for url in (
        "/admin/notifications/notificationchannel/",
        f"/admin/notifications/notificationchannel/{channel.pk}/change/",
    ):
        page = staff_client.get(url).content.decode()
        assert f"127.0.0.1:{hook.port}/***" in page
        assert SECRET not in page
        assert "tok-777" not in page


def test_admin_retry_now_action_requeues_dead_records(staff_client, user, hook, t0):
    hook.expect_request("/hook", method="POST").respond_with_data("", status=400)
    services.channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/hook"))
    services.notifications_request(event_id="e", data=event_data(user), now=t0)
    services.notifications_deliver(now=t0)
    record = NotificationRecord.objects.get(user=user)
    assert record.status == "dead"

    listing = staff_client.get("/admin/notifications/notificationrecord/?status__exact=dead")
    assert listing.status_code == 200 and str(record.pk) in listing.content.decode()
    response = staff_client.post(
        "/admin/notifications/notificationrecord/",
        {"action": "retry_now", "_selected_action": [record.pk]},
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.status, record.attempts) == ("pending", 0)


def test_schema_documents_the_notification_endpoints(client):
    doc = client.get("/api/schema/?format=json").json()
    paths = doc["paths"]
    assert set(paths["/api/v1/notification-channels/"]) >= {"get"}
    assert set(paths["/api/v1/notification-channels/{kind}/"]) >= {"put", "delete"}
    assert "get" not in paths["/api/v1/notification-channels/{kind}/"]
    assert "post" in paths["/api/v1/notification-channels/{kind}/test/"]
    listing = paths["/api/v1/notifications/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "page", "page_size"}
    kind = next(p for p in paths["/api/v1/notification-channels/{kind}/"]["put"]["parameters"] if p["name"] == "kind")
    assert sorted(kind["schema"]["enum"]) == ["email", "feishu", "webhook"]
    body = paths["/api/v1/notification-channels/{kind}/"]["put"]["requestBody"]["content"]["application/json"]
    union = doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    branches = {ref["$ref"].rsplit("/", 1)[1] for ref in union["oneOf"]}
    assert branches == {"WebhookChannelInputRequest", "EmailChannelInputRequest"}


def test_beat_runs_the_sweep_every_minute_and_the_task_is_registered(settings):
    from smartmate.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["notifications-sweep"]
    assert entry["schedule"] == 60
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert "notifications.deliver" in app.tasks
