"""Limits on the load MedGov puts on a model server, held across every worker process and audit.

Concurrency: each running chunk is a *holder* that leases slots from a shared pool (Redis hash of
holder → slots, with a lease expiry per holder so a killed worker's slots come back). Slots are
leased in batches and reused locally, so a busy chunk costs a Redis round trip per batch, not per
request. A holder refused slots counts as *hungry* for a moment; while anyone is, holders keep no
more than their fair share (limit / contenders), so chunks running in parallel (one per worker
process) share the endpoint instead of taking turns. Rate: a GCRA (generic cell rate algorithm)
bucket per endpoint for requests per minute.

Without Redis (the embedded demo) the same interface is held in process memory.
"""

import asyncio
import math
import random
import threading
import time

from django.conf import settings

# How long a holder that was refused slots counts as wanting them (it asks again well within this).
HUNGRY_SECONDS = 1.0
# How often a pool looks up how many holders share its endpoint.
SHARE_CHECK_SECONDS = 0.1

_ACQUIRE = """
local slots, expiry, hungry = KEYS[1], KEYS[2], KEYS[3]
local holder, want, limit, ttl_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local hungry_ms = tonumber(ARGV[5])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local stale = redis.call('ZRANGEBYSCORE', expiry, '-inf', now_ms)
for _, h in ipairs(stale) do
  redis.call('HDEL', slots, h)
  redis.call('ZREM', expiry, h)
end
local used = 0
for _, v in ipairs(redis.call('HVALS', slots)) do used = used + tonumber(v) end
local grant = math.min(want, limit - used)
if grant > 0 then
  redis.call('HINCRBY', slots, holder, grant)
end
if grant > 0 or redis.call('HEXISTS', slots, holder) == 1 then
  redis.call('ZADD', expiry, now_ms + ttl_ms, holder)
end
if grant < 0 then grant = 0 end
if grant < want then
  redis.call('ZADD', hungry, now_ms + hungry_ms, holder)
  redis.call('PEXPIRE', hungry, hungry_ms * 4)
else
  redis.call('ZREM', hungry, holder)
end
redis.call('PEXPIRE', slots, ttl_ms * 4)
redis.call('PEXPIRE', expiry, ttl_ms * 4)
return grant
"""

# Holders that hold slots or asked for more recently without getting them all.
_CONTENDERS = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms)
local count = redis.call('HLEN', KEYS[1])
for _, h in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if redis.call('HEXISTS', KEYS[1], h) == 0 then count = count + 1 end
end
return count
"""

_RELEASE = """
local slots, expiry = KEYS[1], KEYS[2]
local holder, count = ARGV[1], tonumber(ARGV[2])
local left = redis.call('HINCRBY', slots, holder, -count)
if left <= 0 then
  redis.call('HDEL', slots, holder)
  redis.call('ZREM', expiry, holder)
end
return left
"""

_RENEW = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return 0
"""

# GCRA: one request every `interval` ms, bursts up to `burst` requests. Returns 0 or ms to wait.
_RATE = """
local key = KEYS[1]
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now_ms)
if tat < now_ms then tat = now_ms end
local allow_at = tat - interval * (burst - 1)
if now_ms < allow_at then
  return allow_at - now_ms
end
redis.call('SET', key, tat + interval, 'PX', math.ceil(interval * (burst + 1)))
return 0
"""


class RedisLimiter:
    """Shared limits in Redis; one instance per event loop (redis.asyncio clients are loop-bound)."""

    def __init__(self, url: str, prefix: str = "medgov:limit"):
        import redis.asyncio as redis_asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # A blocking pool: busy chunks wait briefly for one of a few connections instead of opening one per
        # in-flight call (the default pool raises past 100 connections, which would look like an outage).
        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=settings.AUDIT_LIMITER_CONNECTIONS,
            timeout=5,
            socket_timeout=5,
            socket_connect_timeout=5,
            health_check_interval=15,
            # After a Redis restart each pooled connection fails once; try again on a fresh one. A lost reply
            # may count a lease twice, which only lowers concurrency until the holder's lease expires.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            retry_on_error=[RedisConnectionError],
        )
        self.redis = redis_asyncio.Redis(connection_pool=pool)
        self.prefix = prefix
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._renew = self.redis.register_script(_RENEW)
        self._contenders = self.redis.register_script(_CONTENDERS)
        self._rate = self.redis.register_script(_RATE)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:{key}:slots", f"{self.prefix}:{key}:expiry", f"{self.prefix}:{key}:hungry"]

    async def acquire_slots(self, key: str, holder: str, want: int, limit: int, ttl_s: float) -> int:
        args = [holder, want, limit, int(ttl_s * 1000), int(HUNGRY_SECONDS * 1000)]
        return int(await self._acquire(keys=self._keys(key), args=args))

    async def contenders(self, key: str) -> int:
        return int(await self._contenders(keys=self._keys(key)))

    async def release_slots(self, key: str, holder: str, count: int) -> None:
        if count > 0:
            await self._release(keys=self._keys(key), args=[holder, count])

    async def renew(self, key: str, holder: str, ttl_s: float) -> bool:
        return bool(await self._renew(keys=self._keys(key), args=[holder, int(ttl_s * 1000)]))

    async def rate_wait_s(self, key: str, per_minute: int, burst: int = 1) -> float:
        interval_ms = 60000.0 / per_minute
        wait_ms = await self._rate(keys=[f"{self.prefix}:{key}:rate"], args=[interval_ms, burst])
        return float(wait_ms) / 1000.0

    async def in_use(self, key: str) -> int:
        values = await self.redis.hvals(self._keys(key)[0])
        return sum(int(value) for value in values)

    async def close(self) -> None:
        await self.redis.aclose()


class LocalLimiter:
    """The same limits within one process (embedded demo without Redis)."""

    _lock = threading.Lock()
    _slots: dict[str, dict[str, tuple[int, float]]] = {}
    _tat: dict[str, float] = {}
    _hungry: dict[str, dict[str, float]] = {}

    async def acquire_slots(self, key: str, holder: str, want: int, limit: int, ttl_s: float) -> int:
        now = time.monotonic()
        with self._lock:
            holders = self._slots.setdefault(key, {})
            for name, (_count, expires) in list(holders.items()):
                if expires < now:
                    del holders[name]
            used = sum(count for count, _expires in holders.values())
            grant = max(0, min(want, limit - used))
            count = holders.get(holder, (0, 0))[0] + grant
            if count:
                holders[holder] = (count, now + ttl_s)
            hungry = self._hungry.setdefault(key, {})
            if grant < want:
                hungry[holder] = now + HUNGRY_SECONDS
            else:
                hungry.pop(holder, None)
            return grant

    async def contenders(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            hungry = {name for name, until in self._hungry.get(key, {}).items() if until > now}
            return len(hungry | set(self._slots.get(key, {})))

    async def release_slots(self, key: str, holder: str, count: int) -> None:
        with self._lock:
            holders = self._slots.get(key, {})
            if holder in holders:
                left = holders[holder][0] - count
                if left <= 0:
                    del holders[holder]
                else:
                    holders[holder] = (left, holders[holder][1])

    async def renew(self, key: str, holder: str, ttl_s: float) -> bool:
        with self._lock:
            holders = self._slots.get(key, {})
            if holder not in holders:
                return False
            holders[holder] = (holders[holder][0], time.monotonic() + ttl_s)
            return True

    async def rate_wait_s(self, key: str, per_minute: int, burst: int = 1) -> float:
        interval = 60.0 / per_minute
        now = time.monotonic()
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            allow_at = tat - interval * (burst - 1)
            if now < allow_at:
                return allow_at - now
            self._tat[key] = tat + interval
            return 0.0

    async def in_use(self, key: str) -> int:
        with self._lock:
            return sum(count for count, _expires in self._slots.get(key, {}).values())

    async def close(self) -> None:
        return None


def make_limiter():
    return RedisLimiter(settings.REDIS_URL) if settings.REDIS_URL else LocalLimiter()


class SlotPool:
    """Local view of the slots one holder leases for one endpoint.

    Coroutines ``acquire``/``release`` single slots; the pool leases more from the shared limiter in
    batches when short (one coroutine at a time asks, the others wait), and hands slots back as soon
    as local demand falls, or when it holds more than its fair share while another holder waits.
    """

    def __init__(self, limiter, *, key: str, holder: str, limit: int, ttl_s: float):
        self.limiter, self.key, self.holder, self.limit, self.ttl_s = limiter, key, holder, limit, ttl_s
        self.held = 0
        self.in_use = 0
        self.waiting = 0
        self._condition = asyncio.Condition()
        self._asking = False
        self._backoff = 0.002
        self.share = limit
        self._share_checked = 0.0

    async def acquire(self) -> None:
        async with self._condition:
            self.waiting += 1
            try:
                while True:
                    if self.in_use < self.held:
                        self.in_use += 1
                        return
                    if not self._asking and self.held < self.share:
                        await self._ask()
                        continue
                    try:
                        async with asyncio.timeout(0.5):  # cheaper than wait_for: no task per waiter
                            await self._condition.wait()
                    except TimeoutError:
                        pass  # look again: the asker may have given up
            finally:
                self.waiting -= 1

    async def _ask(self) -> None:
        """Lease more slots for the waiting coroutines (called holding the condition, by one at a time).

        When the endpoint is full elsewhere, the asker backs off and stays the asker, so the others keep
        waiting quietly instead of taking turns at asking the shared limiter."""
        self._asking = True
        granted, failed = 0, True
        try:
            want = max(1, min(self.share - self.held, self.waiting))
            self._condition.release()
            try:
                granted = await self.limiter.acquire_slots(self.key, self.holder, want, self.limit, self.ttl_s)
                if not granted:
                    await asyncio.sleep(self._backoff * random.uniform(0.5, 1.5))
            finally:
                await self._condition.acquire()
            self.held += granted
            self._backoff = 0.002 if granted else min(self._backoff * 2, 0.02)
            failed = False
        finally:
            self._asking = False
            if failed:
                # Limiter unreachable or cancelled: wake everyone, so one of them asks next or they all see
                # the failure, instead of waiting for an asker that is gone.
                self._condition.notify_all()
            elif granted:
                # The asker takes one slot itself; the others go to waiters, and one more waiter wakes to
                # ask for the rest (or finds a slot released meanwhile).
                self._condition.notify(granted)

    async def release(self, *, keep: bool) -> None:
        """Stop using one slot; ``keep`` leaves it leased for the next local request, else it goes back."""
        await self._refresh_share()
        async with self._condition:
            self.in_use -= 1
            give_back = (not keep and self.waiting == 0) or self.held > self.share
            if give_back:
                self.held -= 1
            else:
                self._condition.notify()
        if give_back:
            await self.limiter.release_slots(self.key, self.holder, 1)

    async def _refresh_share(self) -> None:
        """Look up, a few times a second, how many holders want this endpoint: the fair share is the limit
        divided among them (all of it when this pool is alone)."""
        now = time.monotonic()
        if now - self._share_checked < SHARE_CHECK_SECONDS:
            return
        self._share_checked = now
        contenders = await self.limiter.contenders(self.key)
        share, self.share = self.share, self.limit if contenders <= 1 else max(1, math.ceil(self.limit / contenders))
        if self.share > share:
            async with self._condition:
                self._condition.notify()  # a waiter asks for the larger share

    async def renew(self) -> None:
        if self.held:
            await self.limiter.renew(self.key, self.holder, self.ttl_s)

    async def close(self) -> None:
        async with self._condition:
            count, self.held = self.held, 0
        if count:
            await self.limiter.release_slots(self.key, self.holder, count)
