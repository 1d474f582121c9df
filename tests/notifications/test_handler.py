"""The `notification.requested` handler, called directly with an Envelope as the outbox will."""

import pytest

from notifications.handlers import on_notification_requested
from notifications.messages import InvalidEvent
from notifications.models import NotificationRecord
from notifications.services import channel_upsert
from outbox.registry import handler_for
from tests.notifications.conftest import envelope, event_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

Status = NotificationRecord.Status


def test_the_handler_is_registered_for_the_event_type():
    owner, handler = handler_for("notification.requested")
    assert owner == "notifications"
    assert handler is on_notification_requested


def test_one_pending_record_per_enabled_channel(user, hook):
    channel_upsert(user=user, kind="feishu", webhook_url=hook.url_for("/f"))
    channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/w"), enabled=False)
    data = event_data(user)
    on_notification_requested(envelope(data))
    (record,) = NotificationRecord.objects.filter(user=user)
    assert (record.channel, record.status, record.attempts) == ("feishu", Status.PENDING, 0)
    assert record.next_retry_at is not None
    assert record.dedupe_key == data["dedupe_key"]
    assert record.preview_id == data["preview_id"]
    assert record.trigger_id == data["trigger_id"]
    assert record.payload["task_title"] == "Linear algebra problem set"
    assert record.message["action_url"].endswith(f"/api/v1/active-schedule/previews/{data['preview_id']}/")
    assert len(record.message["summary"]) <= 180


def test_user_without_an_enabled_channel_gets_one_skipped_record(user):
    on_notification_requested(envelope(event_data(user)))
    (record,) = NotificationRecord.objects.filter(user=user)
    assert (record.channel, record.status) == ("none", Status.SKIPPED)


def test_a_second_event_with_the_same_dedupe_key_creates_nothing(user, hook):
    data = event_data(user)
    on_notification_requested(envelope(data))
    channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/w"))
    on_notification_requested(envelope(data))  # redelivery, even after a channel appeared
    assert NotificationRecord.objects.filter(user=user).count() == 1

    other = event_data(user)
    on_notification_requested(envelope(other))
    on_notification_requested(envelope(other))
    assert NotificationRecord.objects.filter(user=user, dedupe_key=other["dedupe_key"]).count() == 1


def test_no_free_slot_links_to_the_trigger(user, hook):
    channel_upsert(user=user, kind="webhook", webhook_url=hook.url_for("/w"))
    data = event_data(
        user, kind="no_free_slot", preview_id=None, slots=[], dedupe_key="trigger:abc:no_free_slot", trigger_id="abc"
    )
    on_notification_requested(envelope(data))
    (record,) = NotificationRecord.objects.filter(user=user)
    assert record.event == "no_free_slot" and record.preview_id is None
    assert "No free time before the deadline" in record.message["summary"]
    assert record.message["action_url"].endswith("/api/v1/active-schedule/triggers/abc/")


def test_unknown_user_is_dropped_without_error(user):
    on_notification_requested(envelope(event_data(user, user_id=user.pk + 1000)))
    assert not NotificationRecord.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "birthday"},
        {"user_id": "7"},
        {"dedupe_key": ""},
        {"kind": "preview_ready", "preview_id": None},
        {"slots": [{"start_at": "tomorrow", "end_at": "later"}]},
        {"slots": [{"start_at": "2026-11-24T06:00:00", "end_at": "2026-11-24T07:00:00"}]},
        {"slots": [{"start_at": "2026-11-24T06:00:00+00:00", "end_at": "2026-11-24T07:00:00+00:00"}] * 4},
    ],
)
def test_malformed_event_raises_so_the_outbox_retries_then_dead_letters_it(user, bad):
    with pytest.raises(InvalidEvent):
        on_notification_requested(envelope(event_data(user, **bad)))
    assert not NotificationRecord.objects.exists()
