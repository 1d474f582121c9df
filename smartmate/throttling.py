"""Rate limits (docs/RELIABILITY.md, "Security and abuse review"): per client address on the
anonymous auth endpoints, per username on login, a token bucket per authenticated user, and a
per-user limit on agent chat.

Rates are read from settings on every request (not frozen at import), so each is an env var and
tests can change them. On Redis every check is one Lua script, so N concurrent requests can never
all read "under the limit" before any of them writes (DRF's SimpleRateThrottle reads, then
writes). On the embedded file cache the same rules run as a best-effort read-modify-write: one
process, one developer, no attacker in the loop.

The client address is REMOTE_ADDR, unless the peer is one of TRUSTED_PROXIES: only then is
X-Forwarded-For read (see `client_address`).
"""

import hashlib
import ipaddress
import logging
import math
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("smartmate.throttling")

_BUCKET_LUA = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * refill)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', key, math.ceil(capacity / refill) + 1)
return {allowed, tostring(tokens)}
"""

# A sliding log of hits (a sorted set scored by time), checked and appended in one step:
# the same rule as SimpleRateThrottle's history, without its read-then-write race.
_WINDOW_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window) + 1)
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""


def _redis_client():
    if not settings.REDIS_URL:
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def parse_rate(rate):
    """'10/min' → (10, 60.0); None or '' → (None, None): no limit."""
    return SimpleRateThrottle.parse_rate(None, rate or None)


def _networks(entries):
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("TRUSTED_PROXIES: %r is not an address or network; ignored", entry)
    return networks


def _is_trusted(address, networks):
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request):
    """The address limits are keyed on. X-Forwarded-For is read only when the peer itself is a
    trusted proxy, from the right, skipping trusted hops: anyone else can write that header."""
    remote = request.META.get("REMOTE_ADDR") or ""
    networks = _networks(settings.TRUSTED_PROXIES)
    if not networks or not _is_trusted(remote, networks):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else remote


@dataclass
class Hit:
    """One counted request in a sliding window; `refund` takes it back (a login that succeeded)."""

    key: str
    member: str

    def refund(self):
        try:
            client = _redis_client()
            if client is not None:
                client.zrem(self.key, self.member)
            else:
                history = cache.get(self.key) or []
                cache.set(self.key, [h for h in history if h[1] != self.member], _ttl(history))
        except Exception:
            logger.warning("throttle store unavailable; refund skipped")


def _ttl(history):
    return max(1, math.ceil(max((h[2] for h in history), default=1))) + 1


def window_hit(*, scope, ident, rate, now=None):
    """Count one request of `ident` against `rate`; raise Throttled when the window is full.

    Returns the Hit (or None when there is no limit or the store is down: fail open, a cache
    outage must never turn into refusals or 500s)."""
    limit, duration = parse_rate(rate)
    if limit is None or ident is None:
        return None
    # hashed: an ident may be a username, an address or a calendar secret, none of them for a key
    key = f"sm:throttle:{scope}:{hashlib.sha256(str(ident).encode()).hexdigest()[:32]}"
    member = uuid.uuid4().hex
    now = time.time() if now is None else now
    try:
        client = _redis_client()
        if client is not None:
            key = cache.make_key(key)  # the cache's KEY_PREFIX, like every other key of ours
            allowed, wait = client.eval(_WINDOW_LUA, 1, key, limit, duration, now, member)
            allowed, wait = bool(int(allowed)), float(wait)
        else:
            allowed, wait = _cache_window(key, limit, duration, now, member)
    except Exception:
        logger.warning("throttle store unavailable; allowing request")
        return None
    if not allowed:
        raise Throttled(wait=max(1, math.ceil(wait)))
    return Hit(key, member)


def _cache_window(key, limit, duration, now, member):
    """Best effort (file cache, embedded default): read, check, write — not atomic."""
    history = [h for h in (cache.get(key) or []) if h[0] > now - duration]
    if len(history) >= limit:
        return False, history[0][0] + duration - now
    history.append((now, member, duration))
    cache.set(key, history, math.ceil(duration) + 1)
    return True, 0.0


class WindowRateThrottle:
    """A DRF throttle: `rate_setting` requests per window for each `ident`."""

    scope = ""
    rate_setting = ""

    def ident(self, request):
        raise NotImplementedError

    def allow_request(self, request, view):
        try:
            window_hit(scope=self.scope, ident=self.ident(request), rate=getattr(settings, self.rate_setting))
        except Throttled as exc:
            self._wait = exc.wait
            return False
        return True

    def wait(self):
        return getattr(self, "_wait", 1)


class AuthRateThrottle(WindowRateThrottle):
    """Anonymous auth endpoints (register, login, refresh, password reset): per client address."""

    scope = "auth"
    rate_setting = "THROTTLE_AUTH_RATE"

    def ident(self, request):
        return client_address(request) or None


class UserWindowRateThrottle(WindowRateThrottle):
    """Per signed-in user (anonymous requests are left to the other limits)."""

    def ident(self, request):
        if not request.user or not request.user.is_authenticated:
            return None
        return str(request.user.pk)


class ChatRateThrottle(UserWindowRateThrottle):
    scope = "agent_chat"
    rate_setting = "THROTTLE_CHAT_RATE"


class CalendarFeedThrottle(WindowRateThrottle):
    """The public calendar feed, per client address (its secret has a limit of its own)."""

    scope = "calendar_ip"
    rate_setting = "THROTTLE_CALENDAR_RATE"

    def ident(self, request):
        return client_address(request) or None


def login_attempt(*, username):
    """Count a password check against the account (THROTTLE_LOGIN_USERNAME_RATE), whoever and
    wherever the caller is: a botnet with a fresh address per try still gets this many guesses at
    one account. The caller refunds the hit when the password was right, so only failures count;
    taking the hit first keeps concurrent guesses from all passing the check."""
    return window_hit(scope="login_user", ident=username.strip().lower(), rate=settings.THROTTLE_LOGIN_USERNAME_RATE)


_bucket_sha: str | None = None  # the bucket script, loaded once per process (EVALSHA)


def bucket_args(view, user_id):
    """(key, capacity, refill, now) of the user's bucket when `view` applies
    UserTokenBucketThrottle and a limit is set; else None. For smartmate.request_reads, which
    takes the token in the login check's round trip."""
    capacity = settings.THROTTLE_USER_BURST
    refill = settings.THROTTLE_USER_REFILL_PER_SECOND
    if view is None or capacity <= 0 or refill <= 0:
        return None
    if not any(isinstance(throttle, UserTokenBucketThrottle) for throttle in view.get_throttles()):
        return None
    return cache.make_key(f"sm:throttle:bucket:{user_id}"), capacity, refill, time.time()


def bucket_command(pipe, client, key, capacity, refill, now) -> None:
    """Queue one token take of the bucket script on `pipe` (by its SHA: the script is sent once)."""
    global _bucket_sha
    if _bucket_sha is None:
        _bucket_sha = client.script_load(_BUCKET_LUA)
    pipe.evalsha(_bucket_sha, 1, key, capacity, refill, now)


def bucket_verdict(result):
    """(allowed, tokens) from the script's answer; None when it failed (the throttle then asks
    Redis itself, e.g. after a Redis restart forgot the script)."""
    global _bucket_sha
    if isinstance(result, Exception):
        _bucket_sha = None
        return None
    allowed, tokens = result
    return bool(int(allowed)), float(tokens)


class UserTokenBucketThrottle:
    """Authenticated users: a bucket of THROTTLE_USER_BURST refilled at N tokens/s."""

    def allow_request(self, request, view):
        user = getattr(request, "user", None)
        if not user or not user.is_authenticated:
            return True
        capacity = settings.THROTTLE_USER_BURST
        refill = settings.THROTTLE_USER_REFILL_PER_SECOND
        if capacity <= 0 or refill <= 0:
            return True
        verdict = getattr(request, "bucket_verdict", None)  # taken in the login check's round trip
        if verdict is not None:
            allowed, tokens = verdict
            self._wait = 0 if allowed else (1 - tokens) / refill
            return allowed
        key = f"sm:throttle:bucket:{user.pk}"
        now = time.time()
        try:
            client = _redis_client()
            if client is not None:
                # make_key applies the cache's KEY_PREFIX, like every other key of ours
                allowed, tokens = client.eval(_BUCKET_LUA, 1, cache.make_key(key), capacity, refill, now)
                allowed, tokens = bool(int(allowed)), float(tokens)
            else:
                allowed, tokens = self._cache_bucket(key, capacity, refill, now)
        except Exception:
            logger.warning("throttle store unavailable; allowing request")
            return True
        self._wait = 0 if allowed else (1 - tokens) / refill
        return allowed

    @staticmethod
    def _cache_bucket(key, capacity, refill, now):
        tokens, ts = cache.get(key) or (capacity, now)
        tokens = min(capacity, tokens + max(0.0, now - ts) * refill)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        cache.set(key, (tokens, now), math.ceil(capacity / refill) + 1)
        return allowed, tokens

    def wait(self):
        return max(1, math.ceil(getattr(self, "_wait", 1)))
