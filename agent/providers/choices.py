"""The models a chat may choose (LLM_MODELS): parsed once by settings.py, listed by
`GET agent/models/`, validated on chat. Pure: no Django models, nothing but settings."""

from __future__ import annotations

import json
from dataclasses import dataclass

OFFLINE = "offline"  # the embedded rule-based provider, always offered
OFFLINE_LABEL = "SmartMate offline (rules, free)"
ID_MAX = 100


@dataclass(frozen=True)
class ModelChoice:
    id: str
    label: str
    default: bool = False


def parse_models(raw: str) -> list[dict]:
    """LLM_MODELS as a JSON list of {"id", "label"?, "default"?} or a comma list of `id` /
    `id=label`; [] when empty. Raises ValueError on a malformed value, a duplicate id, more than
    one default, or `offline` (always offered, never configured)."""
    raw = (raw or "").strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            rows = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}")
    else:
        rows = []
        for part in raw.split(","):
            model_id, _, label = part.strip().partition("=")
            rows.append({"id": model_id.strip(), "label": label.strip()})
    models, seen = [], set()
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or set(row) - {"id", "label", "default"}:
            raise ValueError(f"each model is {{id, label?, default?}}, got {row!r}")
        model_id = row["id"].strip()
        if not model_id or len(model_id) > ID_MAX or model_id in seen or model_id == OFFLINE:
            raise ValueError(f"model id {model_id!r} is empty, too long, repeated or reserved")
        seen.add(model_id)
        label = row.get("label") or model_id
        if not isinstance(label, str) or not isinstance(row.get("default", False), bool):
            raise ValueError(f"model {model_id!r}: label is a string, default a boolean")
        models.append({"id": model_id, "label": label, "default": row.get("default", False)})
    if sum(m["default"] for m in models) > 1:
        raise ValueError("at most one model is the default")
    return models


def model_choices() -> list[ModelChoice]:
    """Offline alone when no model endpoint is configured; else LLM_MODELS (or LLM_MODEL) and
    offline. Exactly one is the default: the one marked so, else LLM_MODEL, else the first."""
    from django.conf import settings

    offline = ModelChoice(OFFLINE, OFFLINE_LABEL)
    if settings.AGENT_PROVIDER != "openai":
        return [ModelChoice(OFFLINE, OFFLINE_LABEL, True)]
    rows = settings.LLM_MODELS or [{"id": settings.LLM_MODEL, "label": settings.LLM_MODEL, "default": False}]
    default = next((r["id"] for r in rows if r["default"]), None)
    if default is None:
        default = settings.LLM_MODEL if any(r["id"] == settings.LLM_MODEL for r in rows) else rows[0]["id"]
    return [*(ModelChoice(r["id"], r["label"], r["id"] == default) for r in rows), offline]


def model_default() -> str:
    return next(choice.id for choice in model_choices() if choice.default)
