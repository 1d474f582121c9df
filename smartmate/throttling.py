"""Rate limits (API.md Conventions): per-IP limits on anonymous auth endpoints, a token
bucket per authenticated user, and a per-user limit on agent chat.

Rates are read from settings on every request (not frozen at import), so each is an
env var and tests can change them. The bucket is one atomic Lua script on Redis; on
the embedded file cache it falls back to a best-effort read-modify-write.
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

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


def _redis_client():
    if not settings.REDIS_URL:
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


class SettingsRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle whose rate comes from a named Django setting at request time."""

    rate_setting = ""

    def __init__(self):  # the rate is looked up per request, in allow_request
        pass

    def allow_request(self, request, view):
        self.rate = getattr(settings, self.rate_setting)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # a cache outage must not turn into a 500
            logger.warning("throttle cache unavailable; allowing request")
            return True


class AuthRateThrottle(SettingsRateThrottle, AnonRateThrottle):
    """Anonymous auth endpoints (register, login, refresh): per client IP."""

    scope = "auth"
    rate_setting = "THROTTLE_AUTH_RATE"


class ChatRateThrottle(SettingsRateThrottle):
    scope = "agent_chat"
    rate_setting = "THROTTLE_CHAT_RATE"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


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
