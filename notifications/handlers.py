"""Outbox handlers of the notifications service."""

from outbox.registry import Envelope, handles


@handles("notification.requested")
def on_notification_requested(event: Envelope) -> None:
    """Record one notification per enabled channel of the user (or a `skipped` one).

    Runs inside the outbox consumer's transaction and only writes rows; the sends
    happen after commit (a Celery task, and the beat sweep as the guarantee).
    Redelivery of the same event, or another event with the same dedupe_key, creates
    nothing. A malformed event raises InvalidEvent (the outbox retries, then
    dead-letters it with the reason)."""
    from notifications.services import notifications_request

    notifications_request(event_id=event.event_id, data=event.data)
