"""The shared cache: Django's Redis cache that treats an unreachable Redis as a cache miss where that is safe.

Pages read authorisation facts through the cache; when Redis restarts they fall back to the database
instead of failing. Reads and writes of fresh values are forgiven: a lost write only costs a later miss.
Deletions and increments are not: an invalidation (a bumped permission version) must never be silently
skipped, because the stale entry would still grant access; those raise. (Sessions stay in the database:
a sign-out must end the session even while Redis is away.) After a failure Redis is left alone for
``RETRY_AFTER_SECONDS``, so a black-holed host does not cost every page a connection timeout per cache call.
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5.0


class ForgivingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._down_until = 0.0

    def _attempt(self, call, fallback):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except RedisError as exc:
            logger.warning("cache unavailable for %.0f s: %s", RETRY_AFTER_SECONDS, exc)
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            return fallback

    def get(self, key, default=None, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).get(key, default, version), default)

    def get_many(self, keys, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).has_key(key, version), False)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).add(key, value, timeout, version), False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).set(key, value, timeout, version), None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).set_many(data, timeout, version), list(data))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(lambda: super(ForgivingRedisCache, self).touch(key, timeout, version), False)
