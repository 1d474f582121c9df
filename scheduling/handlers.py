"""Outbox handlers of the scheduling service."""

from outbox.registry import Envelope, handles, publish_only
from scheduling.services.active import TRIGGER_CREATED, preview_build

# Announced for subscribers; nothing in SmartMate consumes it.
publish_only("schedule.changed")


@handles(TRIGGER_CREATED, service="scheduling")
def build_preview(event: Envelope) -> None:
    """Build the trigger's preview; a redelivered event finds the trigger done and does nothing."""
    preview_build(trigger_id=event.data["trigger_id"])
