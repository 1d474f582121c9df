"""CREDIT_PRICES as settings.py reads it: a bad value stops start-up with a line naming it."""

import json
import subprocess
import sys

import pytest

from accounts.credits.pricing import parse_prices
from tests.conftest import production_env


def test_prices_keep_what_is_given_and_add_the_default_row():
    prices = parse_prices('{"gpt-4o": {"prompt_per_1k": 2.5, "completion_per_1k": "10"}}')
    assert prices == {
        "default": {"prompt_per_1k": "1", "completion_per_1k": "2"},
        "gpt-4o": {"prompt_per_1k": "2.5", "completion_per_1k": "10"},
    }
    assert parse_prices('{"default": {"prompt_per_1k": 0, "completion_per_1k": 0}}')["default"]["prompt_per_1k"] == "0"
    assert parse_prices("  ") == {"default": {"prompt_per_1k": "1", "completion_per_1k": "2"}}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"m": {"prompt_per_1k": 1}},
        {"m": {"prompt_per_1k": 1, "completion_per_1k": -1}},
        {"m": {"prompt_per_1k": "abc", "completion_per_1k": 1}},
        {"m": {"prompt_per_1k": True, "completion_per_1k": 1}},
        {"m": {"prompt_per_1k": "Infinity", "completion_per_1k": 1}},
        {"offline": {"prompt_per_1k": 1, "completion_per_1k": 1}},
    ],
)
def test_malformed_prices_are_refused(raw):
    with pytest.raises(ValueError):
        parse_prices(json.dumps(raw))
    with pytest.raises(ValueError):
        parse_prices("{oops")


def test_a_bad_credit_prices_variable_stops_start_up():
    env = production_env(CREDIT_PRICES='{"m": {"prompt_per_1k": -1, "completion_per_1k": 1}}')
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "CREDIT_PRICES" in result.stderr
