"""Cache invalidation only (docs/DOMAIN.md §4): memory prefetch and plan drafts, cleared on commit."""

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from agent.memory import memory_cache_key
from agent.models import MemoryItem, MemorySettings, PlanDraft
from agent.services import plan_cache_key

logger = logging.getLogger("smartmate.agent")


def _delete_on_commit(key: str) -> None:
    def delete():
        try:
            cache.delete(key)
        except Exception:
            logger.warning("cache delete failed: %s", key)

    transaction.on_commit(delete)


@receiver((post_save, post_delete), sender=MemoryItem)
@receiver((post_save, post_delete), sender=MemorySettings)
def _memory_changed(sender, instance, **kwargs):
    _delete_on_commit(memory_cache_key(instance.user_id))


@receiver((post_save, post_delete), sender=PlanDraft)
def _plan_changed(sender, instance, **kwargs):
    _delete_on_commit(plan_cache_key(instance.conversation_id))
