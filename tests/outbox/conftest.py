"""Outbox fixtures: the effect table of the test handlers, and a `pipeline` that runs the
relay and (for Kafka) a real consumer group against the session's Tansu broker."""

import uuid

import pytest
from django.db import connection

from outbox.consumer import ConsumerLoop
from outbox.relay import StopFlag, relay_until_idle
from outbox.transports import close_transports, get_transport
from tests.outbox.handlers_for_tests import BATCH_CALLS, FLAKY, SERVICE


@pytest.fixture
def effect_table(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS outbox_test_effect ("
            " id bigserial PRIMARY KEY, key varchar(200) NOT NULL UNIQUE, event_id varchar(64) NOT NULL)"
        )
        cursor.execute("DELETE FROM outbox_test_effect")
    FLAKY.clear()
    BATCH_CALLS.clear()
    yield
    FLAKY.clear()
    BATCH_CALLS.clear()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM outbox_test_effect")


def effects() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, event_id FROM outbox_test_effect ORDER BY id")
        return list(cursor.fetchall())


class Pipeline:
    """Relay + consumer of one transport, on a topic and consumer group of the test's own."""

    def __init__(self, name: str, bootstrap: str | None):
        self.name = name
        self.bootstrap = bootstrap
        self.topic = f"smartmate.test.{uuid.uuid4().hex[:10]}"
        self.group_prefix = f"smartmate.t{uuid.uuid4().hex[:8]}."

    @property
    def transport(self):
        return get_transport()

    def relay(self):
        return relay_until_idle()

    def consume(self, service: str = SERVICE, max_seconds: float = 30.0) -> dict:
        """Kafka: one group member reads the topic to its end. Local: the relay already applied."""
        if self.name != "kafka":
            return {}
        loop = ConsumerLoop(service=service, topics=[self.topic], bootstrap_servers=self.bootstrap)
        return loop.run(stop=StopFlag(), once=True, max_seconds=max_seconds)


@pytest.fixture(params=["local", "kafka"])
def pipeline(request, settings, effect_table):
    if request.param == "kafka":
        request.applymarker(pytest.mark.kafka)
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        settings.KAFKA_BOOTSTRAP_SERVERS = bootstrap
    else:
        bootstrap = None
    settings.OUTBOX_TRANSPORT = request.param
    pipe = Pipeline(request.param, bootstrap)
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = pipe.group_prefix
    yield pipe
    close_transports()


@pytest.fixture
def kafka_settings(settings, kafka_bootstrap, effect_table):
    settings.OUTBOX_TRANSPORT = "kafka"
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    pipe = Pipeline("kafka", kafka_bootstrap)
    settings.OUTBOX_CONSUMER_GROUP_PREFIX = pipe.group_prefix
    yield pipe
    close_transports()
