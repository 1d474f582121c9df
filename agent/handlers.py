"""Outbox consumers of the agent: history (agent.chat.message) and memory extraction."""

from django.contrib.auth import get_user_model

from agent.memory import memory_extract_from_message, memory_settings_get
from agent.services import history_store
from outbox.registry import Envelope, handles


@handles("agent.chat.message")
def store_history(event: Envelope) -> None:
    """Idempotent: rows are keyed by (conversation, seq) reserved at enqueue time."""
    history_store(event.data)


@handles("agent.memory.extract")
def extract_memory(event: Envelope) -> None:
    user = get_user_model().objects.filter(pk=event.data["user_id"]).first()
    if user is None:
        return
    prefs = memory_settings_get(user=user)
    if not (prefs.enabled and prefs.auto_extract):
        return
    memory_extract_from_message(user=user, conversation_id=event.data.get("conversation_id"), text=event.data["text"])
