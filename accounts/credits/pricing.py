"""Prices of model calls in credits per 1,000 tokens (CREDIT_PRICES, docs/DOMAIN.md §9). Pure:
no models, no database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.conf import settings

OFFLINE = "offline"  # the embedded rule-based provider: free, whatever CREDIT_PRICES says
DEFAULT = "default"  # the CREDIT_PRICES row for every model it does not name


@dataclass(frozen=True)
class Price:
    model: str
    prompt_per_1k: Decimal
    completion_per_1k: Decimal

    @property
    def free(self) -> bool:
        return not (self.prompt_per_1k or self.completion_per_1k)

    def cost(self, *, prompt_tokens: int, completion_tokens: int) -> int:
        """Whole credits, rounded up: a call is never charged less than it used."""
        exact = (prompt_tokens * self.prompt_per_1k + completion_tokens * self.completion_per_1k) / 1000
        return int(exact.to_integral_value(rounding=ROUND_CEILING))


def price_of(model: str) -> Price:
    if model == OFFLINE:
        return Price(OFFLINE, Decimal(0), Decimal(0))
    row = settings.CREDIT_PRICES.get(model) or settings.CREDIT_PRICES[DEFAULT]
    return Price(model, Decimal(row["prompt_per_1k"]), Decimal(row["completion_per_1k"]))


def price_list() -> list[Price]:
    """Every named model, then `offline`, then the `default` row for any other model."""
    named = sorted(m for m in settings.CREDIT_PRICES if m not in (DEFAULT, OFFLINE))
    return [*(price_of(m) for m in named), price_of(OFFLINE), Price(DEFAULT, *_default())]


def _default() -> tuple[Decimal, Decimal]:
    row = settings.CREDIT_PRICES[DEFAULT]
    return Decimal(row["prompt_per_1k"]), Decimal(row["completion_per_1k"])


def parse_prices(text: str) -> dict:
    """CREDIT_PRICES as settings.py reads it: a JSON {model: {prompt_per_1k, completion_per_1k}}
    with non-negative numbers (empty: none); a `default` row is added when missing. Raises ValueError."""
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}")
    if not isinstance(raw, dict):
        raise ValueError("CREDIT_PRICES must be a JSON object of model -> {prompt_per_1k, completion_per_1k}")
    prices = {DEFAULT: {"prompt_per_1k": "1", "completion_per_1k": "2"}}
    for model, row in raw.items():
        if model == OFFLINE:
            raise ValueError("CREDIT_PRICES cannot price 'offline': the offline provider is free")
        if not isinstance(row, dict) or set(row) != {"prompt_per_1k", "completion_per_1k"}:
            raise ValueError(f"CREDIT_PRICES[{model!r}] must be {{prompt_per_1k, completion_per_1k}}")
        clean = {}
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"CREDIT_PRICES[{model!r}][{key!r}] must be a number")
            try:
                number = Decimal(str(value))
            except ArithmeticError:
                raise ValueError(f"CREDIT_PRICES[{model!r}][{key!r}] must be a number")
            if not number.is_finite() or number < 0:
                raise ValueError(f"CREDIT_PRICES[{model!r}][{key!r}] must be a finite number >= 0")
            clean[key] = str(number)
        prices[model] = clean
    return prices
