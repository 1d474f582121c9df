"""LLM_MODELS and the models a chat may choose (agent.providers.choices)."""

import subprocess
import sys

import pytest

from agent.providers import get_provider
from agent.providers.choices import model_choices, model_default, parse_models
from tests.conftest import production_env


def test_a_comma_list_of_ids_with_optional_labels():
    assert parse_models(" gpt-4o-mini=GPT-4o mini , qwen2.5:7b ") == [
        {"id": "gpt-4o-mini", "label": "GPT-4o mini", "default": False},
        {"id": "qwen2.5:7b", "label": "qwen2.5:7b", "default": False},
    ]
    assert parse_models("") == []


def test_a_json_list_with_a_default():
    assert parse_models('[{"id": "a"}, {"id": "b", "label": "B", "default": true}]') == [
        {"id": "a", "label": "a", "default": False},
        {"id": "b", "label": "B", "default": True},
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "[oops",
        '[{"id": "a", "default": true}, {"id": "b", "default": true}]',
        "a,a",
        "offline",
        '[{"id": "a", "price": 3}]',
        '[{"id": ""}]',
        '[{"id": "a", "default": "yes"}]',
        "x" * 101,
    ],
)
def test_malformed_model_lists_are_refused(raw):
    with pytest.raises(ValueError):
        parse_models(raw)


def test_without_an_endpoint_offline_is_the_only_choice(settings):
    settings.AGENT_PROVIDER = "offline"
    settings.LLM_MODELS = [{"id": "a", "label": "A", "default": True}]
    assert [(c.id, c.default) for c in model_choices()] == [("offline", True)]
    assert get_provider().name == "offline"


def test_with_an_endpoint_the_default_is_the_marked_one_else_llm_model_else_the_first(settings):
    settings.AGENT_PROVIDER, settings.LLM_MODEL = "openai", "b"
    settings.LLM_MODELS = [{"id": "a", "label": "A", "default": False}, {"id": "b", "label": "B", "default": False}]
    assert model_default() == "b"
    settings.LLM_MODELS[0]["default"] = True
    assert model_default() == "a"
    settings.LLM_MODELS, settings.LLM_MODEL = [{"id": "c", "label": "C", "default": False}], "zzz"
    assert [(c.id, c.default) for c in model_choices()] == [("c", True), ("offline", False)]
    settings.LLM_MODELS = []
    assert [c.id for c in model_choices()] == ["zzz", "offline"]


def test_the_provider_of_a_chosen_model(settings):
    settings.AGENT_PROVIDER, settings.LLM_BASE_URL = "openai", "http://127.0.0.1:9/v1"
    assert (get_provider("big").name, get_provider("big").model) == ("openai", "big")
    assert get_provider("offline").name == "offline"


def test_a_bad_llm_models_variable_stops_start_up():
    env = production_env(LLM_MODELS="a,a")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "LLM_MODELS" in result.stderr
