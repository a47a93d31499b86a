"""The shared limiter on real Redis: slots across holders, expiry of a dead holder's slots, the rate bucket,
and waiters that never hang when Redis goes away."""

import asyncio
import uuid

import pytest
from django.conf import settings

from audits.limiter import LocalLimiter, RedisLimiter, SlotPool
from audits.runner import LimiterUnavailable, _guard_limiter


def run(coroutine):
    return asyncio.new_event_loop().run_until_complete(coroutine)


@pytest.fixture
def key():
    return f"test:{uuid.uuid4().hex}"


@pytest.mark.parametrize("make", [lambda: RedisLimiter(settings.REDIS_URL), LocalLimiter])
def test_slots_are_shared_between_holders_up_to_the_limit(make, key):
    async def scenario():
        limiter = make()
        first = await limiter.acquire_slots(key, "a", 3, 4, 30)
        second = await limiter.acquire_slots(key, "b", 3, 4, 30)
        third = await limiter.acquire_slots(key, "c", 1, 4, 30)
        in_use = await limiter.in_use(key)
        await limiter.release_slots(key, "a", 2)
        after_release = await limiter.acquire_slots(key, "c", 5, 4, 30)
        await limiter.close()
        return first, second, third, in_use, after_release

    assert run(scenario()) == (3, 1, 0, 4, 2)


def test_a_dead_holders_slots_come_back_when_its_lease_expires(key):
    async def scenario():
        limiter = RedisLimiter(settings.REDIS_URL)
        await limiter.acquire_slots(key, "dead", 4, 4, 0.2)  # its worker never renews or releases
        blocked = await limiter.acquire_slots(key, "alive", 1, 4, 30)
        await asyncio.sleep(0.3)
        granted = await limiter.acquire_slots(key, "alive", 4, 4, 30)
        await limiter.close()
        return blocked, granted

    assert run(scenario()) == (0, 4)


def test_the_rate_bucket_spaces_requests(key):
    async def scenario():
        limiter = RedisLimiter(settings.REDIS_URL)
        waits = [await limiter.rate_wait_s(key, per_minute=600) for _ in range(3)]
        await limiter.close()
        return waits

    first, second, _third = run(scenario())
    assert first == 0 and 0 < second <= 0.1


def test_many_coroutines_never_exceed_the_limit_across_two_pools(key):
    async def scenario():
        limiter = RedisLimiter(settings.REDIS_URL)
        pools = [SlotPool(limiter, key=key, holder=f"h{n}", limit=5, ttl_s=30) for n in range(2)]
        peak = 0
        active = 0

        async def use(pool):
            nonlocal peak, active
            await pool.acquire()
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            await pool.release(keep=False)

        await asyncio.gather(*(use(pools[n % 2]) for n in range(60)))
        for pool in pools:
            await pool.close()
        left = await limiter.in_use(key)
        await limiter.close()
        return peak, left

    peak, left = run(scenario())
    assert 1 <= peak <= 5 and left == 0


class BrokenLimiter(LocalLimiter):
    async def acquire_slots(self, *args):
        await asyncio.sleep(0.01)
        raise ConnectionError("redis is down")


def test_waiters_are_released_when_the_limiter_is_unreachable(key):
    async def scenario():
        pool = SlotPool(BrokenLimiter(), key=key, holder="h", limit=4, ttl_s=30)
        results = await asyncio.wait_for(
            asyncio.gather(*(_guard_limiter(pool.acquire()) for _ in range(20)), return_exceptions=True), timeout=10
        )
        return results

    results = run(scenario())
    assert len(results) == 20 and all(isinstance(result, LimiterUnavailable) for result in results)


@pytest.mark.parametrize("make", [lambda: RedisLimiter(settings.REDIS_URL), LocalLimiter])
def test_a_busy_pool_shares_the_endpoint_with_a_newcomer(make, key):
    """Pool a runs alone at the full limit; when pool b starts, a drops to its fair share and b gets the rest,
    instead of b waiting until a has no work left."""

    async def scenario():
        loop = asyncio.get_running_loop()
        limiter = make()
        pools = {name: SlotPool(limiter, key=key, holder=name, limit=8, ttl_s=30) for name in "ab"}
        active = {"a": 0, "b": 0}
        peaks = {"total": 0, "a_alone": 0, "a_late": 0, "b_late": 0}
        b_started = asyncio.Event()
        end = loop.time() + 1.5

        async def work(name):
            while loop.time() < end:
                await pools[name].acquire()
                active[name] += 1
                peaks["total"] = max(peaks["total"], active["a"] + active["b"])
                if not b_started.is_set():
                    peaks["a_alone"] = max(peaks["a_alone"], active["a"])
                elif loop.time() > end - 0.5:
                    peaks[f"{name}_late"] = max(peaks[f"{name}_late"], active[name])
                await asyncio.sleep(0.01)
                active[name] -= 1
                await pools[name].release(keep=True)

        async def newcomer():
            await asyncio.sleep(0.3)
            b_started.set()
            await asyncio.gather(*(work("b") for _ in range(8)))

        await asyncio.gather(*(work("a") for _ in range(8)), newcomer())
        for pool in pools.values():
            await pool.close()
        left = await limiter.in_use(key)
        await limiter.close()
        return peaks, left

    peaks, left = run(scenario())
    assert peaks["total"] <= 8 and left == 0
    assert peaks["a_alone"] == 8  # alone, a pool uses the whole limit
    assert peaks["b_late"] >= 3 and peaks["a_late"] <= 5  # later, each runs at about half
