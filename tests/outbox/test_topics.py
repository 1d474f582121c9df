"""Topic names live in one place (outbox.topics, docs/DOMAIN.md §1): the registry's topics and
every producer's are built from it, and no module of the product spells a topic itself."""

import re
import subprocess
from pathlib import Path

from outbox import topics
from outbox.registry import topics_for

ROOT = Path(__file__).resolve().parents[2]


def test_a_services_consumer_reads_its_own_topic_and_the_ones_its_handlers_name():
    assert topics_for("notifications") >= {topics.NOTIFICATIONS}
    assert topics_for("accounts") >= {topics.topic_of("accounts"), topics.PLAN_SQUARE}


def test_no_module_but_outbox_topics_spells_a_topic_name():
    names = "|".join(
        re.escape(t.removeprefix(topics.PREFIX))
        for t in (topics.SCHEDULING, topics.NOTIFICATIONS, topics.AGENT, topics.PLAN_SQUARE)
    )
    found = subprocess.run(
        [
            "git",
            "grep",
            "-nE",
            rf"['\"]smartmate\.({names})['\"]",
            "--",
            "*.py",
            ":!tests",
            ":!bench",
            ":!outbox/topics.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert [line for line in found.splitlines() if "getLogger(" not in line] == []  # loggers share the names
