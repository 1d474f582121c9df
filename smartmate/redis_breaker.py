"""A circuit breaker (pybreaker) in front of the cache's Redis: a hung Redis costs one timeout, not one per call.

A SIGSTOPped redis-server still accepts connections and data, so without this every cache
and throttle call waits the full SOCKET_TIMEOUT. After REDIS_BREAKER_FAIL_MAX consecutive
connection errors or timeouts to one server the circuit opens: for REDIS_BREAKER_RESET_SECONDS
every call fails at once with `RedisCircuitOpen`, a `redis.exceptions.ConnectionError`, so the
existing outage paths run instantly (django-redis IGNORE_EXCEPTIONS → uncached database reads,
throttling fails open). Then one trial call (half-open) closes it or opens it again; the calls
made while that trial is under way fail at once too. Only outages count: an answer from Redis,
even an error (a Lua error, a ResponseError), is a success.

Plugged in through CACHES OPTIONS "REDIS_CLIENT_CLASS": `BreakerRedis` sends `execute_command`,
pipeline `execute` and pipeline immediate commands (WATCH, script loads) through the breaker.
Anything else that builds its own client — the /healthz probe (health.py), Celery's broker —
stays outside, so health keeps probing Redis for real while the circuit is open.

One breaker per Redis server (host:port) and process, made on first use from settings;
`reset()` forgets them all (tests). State changes are logged once each and exported as the
gauge `smartmate_redis_circuit_state` (0 closed, 1 half-open, 2 open).

pybreaker's own `CircuitBreaker.call` holds the breaker's lock for the whole guarded call,
which would queue every Redis call of the process behind one another; `guard` uses its
`calling()` context manager instead, which takes the lock only to check and update the state.
"""

import logging
import threading

import pybreaker
import redis
from django.conf import settings
from prometheus_client import Gauge
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("smartmate.redis_breaker")

# What counts as Redis being unreachable. Anything else (ResponseError, a Lua error) is an answer.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)

CIRCUIT_STATE = Gauge(
    "smartmate_redis_circuit_state",
    "Circuit breaker in front of the cache's Redis, per server: 0 closed, 1 half-open, 2 open",
    ["server"],
    multiprocess_mode="livemax",
)
_STATE_VALUES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}


class RedisCircuitOpen(RedisConnectionError):
    """Redis was not called: its circuit is open. Callers treat it as an outage."""


def _is_not_an_outage(exc):
    return not isinstance(exc, OUTAGE_ERRORS)


class _StateChanges(pybreaker.CircuitBreakerListener):
    """Logs each state change once (not each call) and keeps the gauge current."""

    def failure(self, cb, exc):
        cb.last_error = exc  # named in the "open" line

    def state_change(self, cb, old_state, new_state):
        if old_state is None or old_state.name == new_state.name:
            return
        CIRCUIT_STATE.labels(cb.name).set(_STATE_VALUES[new_state.name])
        if new_state.name == pybreaker.STATE_OPEN:
            error = cb.last_error
            logger.warning(
                "Redis circuit open for %s: calls skip Redis for %g s after %s: %s",
                cb.name,
                cb.reset_timeout,
                type(error).__name__,
                error,
            )
        elif new_state.name == pybreaker.STATE_HALF_OPEN:
            logger.info("Redis circuit half-open for %s: one trial call", cb.name)
        else:
            logger.info("Redis circuit closed for %s: Redis answers again", cb.name)


_listener = _StateChanges()
_nesting = threading.local()  # a guarded call made inside another (a pipeline loading its scripts)


class RedisBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker for one Redis server, with `guard` as the way in."""

    def __init__(self, server, *, fail_max, reset_timeout):
        super().__init__(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=[_is_not_an_outage],
            listeners=[_listener],
            name=server,
            throw_new_error_on_trip=False,  # the tripping call raises its own timeout / connection error
        )
        self.last_error = None
        self._trial = threading.Lock()
        CIRCUIT_STATE.labels(server).set(0)

    def guard(self, func, *args, **kwargs):
        """func(*args, **kwargs) under the breaker; RedisCircuitOpen instead of calling Redis while open."""
        if getattr(_nesting, "active", False):
            return func(*args, **kwargs)
        _nesting.active = True
        try:
            if self.current_state == pybreaker.STATE_CLOSED:
                return self._call(func, args, kwargs)
            # Open or half-open: one caller at a time may try Redis (the trial); the others fail fast.
            if not self._trial.acquire(blocking=False):
                raise self._open_error()
            try:
                return self._call(func, args, kwargs)
            finally:
                self._trial.release()
        finally:
            _nesting.active = False

    def _call(self, func, args, kwargs):
        try:
            with self.calling():
                return func(*args, **kwargs)
        except pybreaker.CircuitBreakerError:
            raise self._open_error() from None

    def _open_error(self):
        return RedisCircuitOpen(
            f"Redis circuit open for {self.name}: not calling Redis for up to {self.reset_timeout:g} s "
            f"after a connection error or timeout (REDIS_BREAKER_RESET_SECONDS)"
        )


_breakers: dict[str, RedisBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(server):
    """The process's breaker for a Redis server ("host:port"), made from settings on first use."""
    breaker = _breakers.get(server)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.get(server)
            if breaker is None:
                breaker = _breakers[server] = RedisBreaker(
                    server,
                    fail_max=settings.REDIS_BREAKER_FAIL_MAX,
                    reset_timeout=settings.REDIS_BREAKER_RESET_SECONDS,
                )
    return breaker


def reset():
    """Forget every breaker: the next call starts closed, with the current settings."""
    with _breakers_lock:
        _breakers.clear()
        CIRCUIT_STATE.clear()


def _server_of(connection_pool):
    kwargs = connection_pool.connection_kwargs
    if kwargs.get("path"):
        return kwargs["path"]  # a unix socket
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class BreakerRedis(redis.Redis):
    """redis.Redis whose commands go through the breaker of its server (django-redis REDIS_CLIENT_CLASS)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.server = _server_of(self.connection_pool)

    @property
    def breaker(self):
        return breaker_for(self.server)  # looked up per call, so reset() also reaches clients already made

    def execute_command(self, *args, **options):
        return self.breaker.guard(super().execute_command, *args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        return BreakerPipeline(self.server, self.connection_pool, self.response_callbacks, transaction, shard_hint)


class BreakerPipeline(Pipeline):
    """A pipeline (django-redis set_many, delete_pattern) whose round trips go through the breaker."""

    def __init__(self, server, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.server = server

    def execute(self, raise_on_error=True):
        return breaker_for(self.server).guard(super().execute, raise_on_error)

    def immediate_execute_command(self, *args, **options):
        return breaker_for(self.server).guard(super().immediate_execute_command, *args, **options)
