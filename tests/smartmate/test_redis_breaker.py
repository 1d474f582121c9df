"""The Redis circuit breaker (smartmate.redis_breaker) against a hung Redis.

The real Redis behind a frozen `tests.faults.FreezableProxy`, which behaves like a SIGSTOPped
redis-server: the kernel accepts connections and data, nothing answers. It counts
connections and bytes, so "the call skipped Redis" is asserted as "no byte arrived", not as
a timing. Thawed, it forwards to the real Redis again.
"""

import threading
import time
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import cache
from django_redis import get_redis_connection
from prometheus_client import REGISTRY

from smartmate import redis_breaker
from smartmate.health import probe_parts
from tests.faults import FreezableProxy

pytestmark = pytest.mark.redis

SOCKET_TIMEOUT = 0.2


@pytest.fixture(autouse=True)
def fresh_breakers(settings):
    """Each test starts with no breaker (all closed), long cool-downs unless it shortens them."""
    settings.REDIS_BREAKER_FAIL_MAX = 1
    settings.REDIS_BREAKER_RESET_SECONDS = 60
    redis_breaker.reset()
    yield
    redis_breaker.reset()


@pytest.fixture
def hung_redis(settings):
    """A hung Redis, and the default cache (settings.py's OPTIONS, short timeouts) pointed at it."""
    real = urlsplit(settings.REDIS_URL)
    proxy = FreezableProxy(real.hostname or "127.0.0.1", real.port or 6379, frozen=True)
    proxy.server = f"127.0.0.1:{proxy.port}"  # the breaker's name for it
    proxy.url = f"redis://{proxy.server}{real.path or '/0'}"
    default = settings.CACHES["default"]
    options = {**default["OPTIONS"], "SOCKET_TIMEOUT": SOCKET_TIMEOUT, "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT}
    settings.CACHES = {"default": {**default, "LOCATION": proxy.url, "OPTIONS": options}}
    yield proxy
    proxy.close()


def state_of(server):
    return redis_breaker.breaker_for(server).current_state


def gauge(server):
    return REGISTRY.get_sample_value("smartmate_redis_circuit_state", {"server": server})


def test_the_settings_put_the_cache_client_behind_the_breaker():
    assert isinstance(get_redis_connection("default"), redis_breaker.BreakerRedis)


def test_after_one_timeout_calls_skip_a_hung_redis_and_return_defaults(hung_redis, caplog):
    assert cache.get("k", "fallback") == "fallback"  # waited one socket timeout
    connections, sent = hung_redis.counts()
    assert (connections, sent) != (0, 0)
    assert state_of(hung_redis.server) == "open"
    assert gauge(hung_redis.server) == 2

    for _ in range(10):
        assert cache.get("k", "fallback") == "fallback"
        assert cache.get_many(["a", "b"]) == {}
        cache.set("k", "v")
        cache.set_many({"a": 1, "b": 2})  # a pipeline
        cache.delete("k")
    assert hung_redis.counts() == (connections, sent)  # not one byte more

    changes = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "smartmate.redis_breaker"]
    assert len(changes) == 1  # logged once, not per call
    assert changes[0][0] == "WARNING"
    assert changes[0][1].startswith(f"Redis circuit open for {hung_redis.server}: ")
    assert "TimeoutError" in changes[0][1]


def test_an_open_circuit_raises_a_redis_connection_error_that_says_so(hung_redis):
    client = get_redis_connection("default")
    with pytest.raises(redis.exceptions.TimeoutError):
        client.get("k")
    with pytest.raises(redis.exceptions.ConnectionError, match="Redis circuit open") as raised:
        client.get("k")
    assert isinstance(raised.value, redis_breaker.RedisCircuitOpen)


@pytest.mark.django_db
def test_the_throttle_fails_open_while_the_circuit_is_open(hung_redis, settings, auth_api):
    settings.THROTTLE_USER_BURST = 1  # a working bucket would answer 429 from the second request
    settings.THROTTLE_USER_REFILL_PER_SECOND = 0.001
    assert auth_api.get("/api/v1/me/").status_code == 200  # the one that waits and opens the circuit
    before = hung_redis.counts()
    assert [auth_api.get("/api/v1/me/").status_code for _ in range(5)] == [200] * 5
    assert hung_redis.counts() == before


def test_after_the_cool_down_one_trial_call_goes_through_and_a_failed_trial_reopens(hung_redis, settings):
    settings.REDIS_BREAKER_RESET_SECONDS = 0.3
    assert cache.get("k") is None
    connections, _ = hung_redis.counts()
    assert state_of(hung_redis.server) == "open"
    time.sleep(0.4)  # the cool-down passes

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", "fallback"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["fallback"] * 6
    assert hung_redis.counts()[0] == connections + 1  # one trial reached Redis; the others skipped it
    assert state_of(hung_redis.server) == "open"
    after_trial = hung_redis.counts()
    assert cache.get("k", "fallback") == "fallback"
    assert hung_redis.counts() == after_trial


def test_a_trial_against_a_redis_that_answers_again_closes_the_circuit(hung_redis, settings):
    settings.REDIS_BREAKER_RESET_SECONDS = 0.3
    assert cache.get("k") is None
    assert state_of(hung_redis.server) == "open"
    hung_redis.thaw()
    cache.set("k", "during the cool-down")  # skipped: the circuit is still open
    assert cache.get("k") is None
    time.sleep(0.4)

    cache.set("k", "v")  # the trial
    assert state_of(hung_redis.server) == "closed"
    assert gauge(hung_redis.server) == 0
    assert cache.get("k") == "v"
    cache.set_many({"a": 1, "b": 2})
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    # It really is in the real Redis, behind the proxy.
    real = redis.Redis.from_url(settings.REDIS_URL)
    assert real.exists(cache.make_and_validate_key("k")) == 1
    real.close()


def test_a_lua_error_is_an_answer_and_does_not_open_the_circuit():
    client = get_redis_connection("default")
    server = client.server
    for _ in range(3):
        with pytest.raises(redis.exceptions.ResponseError):
            client.eval("return redis.error_reply('boom')", 0)
        with pytest.raises(redis.exceptions.ResponseError):
            client.eval("this is not lua", 0)
    assert state_of(server) == "closed"
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_calls_to_a_hung_redis_are_not_queued_behind_one_another(hung_redis, settings):
    # pybreaker's own call() holds a lock around the call; guard() must not: three calls are
    # at the server together, all still waiting for their answer.
    settings.REDIS_BREAKER_FAIL_MAX = 10
    default = settings.CACHES["default"]
    settings.CACHES = {"default": {**default, "OPTIONS": {**default["OPTIONS"], "SOCKET_TIMEOUT": 2}}}
    client = get_redis_connection("default")
    errors = []

    def call():
        try:
            client.get("k")
        except redis.exceptions.RedisError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    while hung_redis.connections < 3 and any(thread.is_alive() for thread in threads):
        time.sleep(0.01)
    in_flight = sum(thread.is_alive() for thread in threads)
    assert (hung_redis.connections, in_flight) == (3, 3)
    for thread in threads:
        thread.join()
    assert [type(exc) for exc in errors] == [redis.exceptions.TimeoutError] * 3


@pytest.mark.django_db
def test_the_health_probe_is_outside_the_circuit(hung_redis, settings):
    settings.REDIS_URL = hung_redis.url
    assert cache.get("k") is None
    assert state_of(hung_redis.server) == "open"
    connections, _ = hung_redis.counts()
    assert probe_parts(deadline=SOCKET_TIMEOUT * 2, parts=("cache",))["cache"] != "ok"
    assert hung_redis.counts()[0] > connections  # it asked the hung Redis itself
    hung_redis.thaw()
    assert probe_parts(parts=("cache",))["cache"] == "ok"  # while the circuit is still open
    assert state_of(hung_redis.server) == "open"
