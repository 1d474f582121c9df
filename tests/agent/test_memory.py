# ruff: noqa: RUF001
"""Memory items: CRUD, dedupe, soft delete + restore, settings, prompt prefetch, extraction."""

import pytest
from django.core.cache import cache

from agent.memory import extract, memory_cache_key, memory_for_prompt
from agent.models import MemoryItem
from tests.agent.conftest import relay

pytestmark = pytest.mark.django_db(transaction=True)
ITEMS = "/api/v1/agent/memory/items/"


def test_create_dedupes_by_normalised_content(auth_api):
    first = auth_api.post(ITEMS, {"kind": "preference", "content": "I study best  in the MORNING"}, format="json")
    assert first.status_code == 201
    again = auth_api.post(ITEMS, {"kind": "preference", "content": "i study best in the morning."}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert set(first.json()) == {"id", "kind", "content", "source", "conversation_id", "importance", "created_at"}
    assert first.json()["source"] == "user"


def test_validation_of_kind_and_content(auth_api):
    assert auth_api.post(ITEMS, {"kind": "habit", "content": "x"}, format="json").status_code == 400
    assert auth_api.post(ITEMS, {"kind": "fact", "content": ""}, format="json").status_code == 400
    assert auth_api.post(ITEMS, {"kind": "fact", "content": "x" * 501}, format="json").status_code == 400


def test_delete_is_soft_and_restore_brings_it_back(auth_api, user, make_user, client_for):
    item = auth_api.post(ITEMS, {"kind": "fact", "content": "我是计算机专业大二学生"}, format="json").json()
    assert auth_api.delete(f"{ITEMS}{item['id']}/").status_code == 204
    assert auth_api.get(ITEMS).json()["count"] == 0
    assert MemoryItem.objects.get(pk=item["id"]).deleted_at is not None
    assert client_for(make_user("bob")).post(f"{ITEMS}{item['id']}/restore/").status_code == 404
    restored = auth_api.post(f"{ITEMS}{item['id']}/restore/")
    assert restored.status_code == 200 and restored.json()["id"] == item["id"]
    assert auth_api.get(ITEMS).json()["count"] == 1


def test_patch_changes_content_and_importance(auth_api):
    item = auth_api.post(ITEMS, {"kind": "fact", "content": "lives on campus"}, format="json").json()
    changed = auth_api.patch(f"{ITEMS}{item['id']}/", {"importance": 5, "content": "lives off campus"}, format="json")
    assert changed.status_code == 200 and changed.json()["importance"] == 5
    assert auth_api.patch(f"{ITEMS}{item['id']}/", {"importance": 9}, format="json").status_code == 400


def test_settings_get_and_put(auth_api):
    defaults = {"enabled": True, "auto_extract": True, "confirm_writes": False}
    assert auth_api.get("/api/v1/agent/memory/settings/").json() == defaults
    put = auth_api.put("/api/v1/agent/memory/settings/", {"enabled": True, "auto_extract": False}, format="json")
    assert put.json() == {**defaults, "auto_extract": False}


def test_prompt_gets_the_top_items_by_importance_then_recency_and_the_cache_is_cleared_on_write(
    auth_api, user, settings
):
    settings.AGENT_MEMORY_PROMPT_ITEMS = 2
    for i, importance in enumerate((1, 5, 3)):
        auth_api.post(ITEMS, {"kind": "fact", "content": f"fact {i}", "importance": importance}, format="json")
    assert [i["content"] for i in memory_for_prompt(user=user)] == ["fact 1", "fact 2"]
    assert cache.get(memory_cache_key(user.pk)) is not None
    auth_api.post(ITEMS, {"kind": "fact", "content": "fact new", "importance": 5}, format="json")
    assert cache.get(memory_cache_key(user.pk)) is None
    assert [i["content"] for i in memory_for_prompt(user=user)] == ["fact new", "fact 1"]
    auth_api.put("/api/v1/agent/memory/settings/", {"enabled": False}, format="json")
    assert memory_for_prompt(user=user) == []


def test_rule_extraction():
    kinds = {k for k, _c, _i in extract("我喜欢晚上学习，我每周三下午有课")}
    assert kinds == {"preference", "constraint"}
    assert [k for k, _c, _i in extract("I prefer studying in the library")] == ["preference"]
    assert [k for k, _c, _i in extract("I'm a second-year physics student")] == ["fact"]
    assert extract("提醒我明天交作业") == []
    assert extract("what is due this week?") == []


def test_chat_turn_extracts_memory_through_the_outbox(auth_api, user):
    body = auth_api.post("/api/v1/agent/chat/", {"message": "我喜欢晚上学习"}, format="json").json()
    assert MemoryItem.objects.filter(user=user).count() == 0
    relay()
    item = MemoryItem.objects.get(user=user)
    assert item.kind == "preference" and item.source == "extracted" and item.conversation_id == body["conversation_id"]
    # the same statement again is the same item
    auth_api.post(
        f"/api/v1/agent/conversations/{body['conversation_id']}/chat/", {"message": "我喜欢晚上学习"}, format="json"
    )
    relay()
    assert MemoryItem.objects.filter(user=user).count() == 1
    # and it reaches the next prompt
    stats = auth_api.get(f"/api/v1/agent/conversations/{body['conversation_id']}/context-stats/").json()
    assert stats["tokens"]["memory"] > 0


def test_no_extraction_when_auto_extract_is_off(auth_api, user):
    auth_api.put("/api/v1/agent/memory/settings/", {"auto_extract": False}, format="json")
    auth_api.post("/api/v1/agent/chat/", {"message": "我喜欢晚上学习"}, format="json")
    relay()
    assert MemoryItem.objects.filter(user=user).count() == 0
