"""Send units of work (benchmark items, simulated conversations) to a model endpoint, concurrently and
within limits, with bounded retries and a circuit breaker. Runs on the process runtime's event loop;
results go to the calling (synchronous) thread through a queue so the database work stays there.
"""

import asyncio
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from audits.clients import CallError, Completion, EndpointConfig, chat
from audits.limiter import SlotPool

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 120.0
FATAL_TRIP_AFTER = 3


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, capped; a server's Retry-After wins when given."""
    if retry_after is not None:
        return min(RETRY_AFTER_CAP_S, retry_after) + random.uniform(0, 0.25)
    return random.uniform(0.5, 1.0) * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


class Stopped(Exception):
    """The run was asked to stop (cancellation, a lost lease or a tripped breaker)."""


class LimiterUnavailable(Stopped):
    """The shared limiter cannot be reached: stop sending rather than exceed the endpoint's limits."""


class CircuitBreaker:
    """Trips after too many consecutive failed calls, or a few that no retry can fix (401, 404, DNS, TLS)."""

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.consecutive = 0
        self.consecutive_fatal = 0
        self.reason = ""

    @property
    def tripped(self) -> bool:
        return bool(self.reason)

    def success(self) -> None:
        self.consecutive = 0
        self.consecutive_fatal = 0

    def failure(self, error: CallError) -> None:
        self.consecutive += 1
        self.consecutive_fatal = self.consecutive_fatal + 1 if error.fatal else 0
        if self.tripped:
            return
        if self.consecutive_fatal >= FATAL_TRIP_AFTER:
            self.reason = f"the endpoint cannot be used: {error.message}"
        elif self.consecutive >= self.threshold:
            self.reason = f"the endpoint looks down: {self.consecutive} consecutive failed calls, last: {error.message}"


@dataclass
class CallStats:
    attempts: int = 0
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0


class FailedCall(Exception):
    def __init__(self, error: CallError, attempts: int):
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


async def _guard_limiter(awaitable):
    try:
        return await awaitable
    except Exception as exc:
        if isinstance(exc, (OSError, TimeoutError)) or type(exc).__module__.startswith("redis"):
            raise LimiterUnavailable(f"the shared limiter is unreachable ({type(exc).__name__}: {exc})") from None
        raise


class Caller:
    """Calls one endpoint for a run: slot lease, rate limit, retries with backoff, breaker bookkeeping."""

    def __init__(
        self,
        runtime,
        config: EndpointConfig,
        *,
        holder: str,
        stop: threading.Event,
        breaker: CircuitBreaker,
        has_more_work: Callable[[], bool],
    ):
        self.runtime = runtime
        self.config = config
        self.stop = stop
        self.breaker = breaker
        self.has_more_work = has_more_work
        self.pool = SlotPool(
            runtime.limiter(),
            key=config.limiter_key,
            holder=holder,
            limit=config.max_concurrency,
            ttl_s=settings.AUDIT_LEASE_SECONDS,
        )

    async def call(self, messages: list[dict], stats: CallStats) -> Completion:
        attempt = 0
        while True:
            if self.stop.is_set() or self.breaker.tripped:
                raise Stopped()
            attempt += 1
            stats.attempts += 1
            await self._acquire_slot()
            error = None
            try:
                if self.config.requests_per_minute:
                    while (wait := await self._rate_wait()) > 0:
                        if self.stop.is_set():
                            raise Stopped()
                        await asyncio.sleep(wait)
                clients = self.runtime.clients_for(self.config)
                client = clients.borrow()
                try:
                    completion = await chat(client, self.config, messages)
                finally:
                    clients.give_back(client)
            except CallError as exc:
                error = exc
            finally:
                await self._release_slot()
            if error is None:
                self.breaker.success()
                stats.latency_ms += completion.latency_ms
                stats.tokens_in += completion.tokens_in
                stats.tokens_out += completion.tokens_out
                return completion
            self.breaker.failure(error)
            if not error.retryable or attempt > self.config.max_retries or self.breaker.tripped:
                raise FailedCall(error, attempt)
            await self._sleep(
                backoff_delay(attempt, error.retry_after if error.kind == CallError.RATE_LIMITED else None)
            )

    async def _acquire_slot(self) -> None:
        """Wait for a slot; if the shared limiter (Redis) is unreachable, stop the run cleanly: its units stay
        unanswered and are run again once the limiter is back, rather than sent without a limit."""
        await _guard_limiter(self.pool.acquire())

    async def _release_slot(self) -> None:
        await _guard_limiter(self.pool.release(keep=self.has_more_work()))

    async def _rate_wait(self) -> float:
        return await _guard_limiter(
            self.pool.limiter.rate_wait_s(self.config.limiter_key, self.config.requests_per_minute)
        )

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stop.is_set():
                raise Stopped()
            await asyncio.sleep(min(left, 0.25))


@dataclass
class UnitOutcome:
    key: tuple
    payload: Any
    value: Any = None
    error: CallError | None = None
    stats: CallStats = field(default_factory=CallStats)


Executor = Callable[[Any, "RunContext", CallStats], Awaitable[Any]]


@dataclass
class RunContext:
    callers: dict[str, Caller]

    def __getitem__(self, name: str) -> Caller:
        return self.callers[name]


async def run_units(
    *,
    runtime,
    units: list[tuple[tuple, Any]],
    configs: dict[str, EndpointConfig],
    execute: Executor,
    holder: str,
    out: queue.SimpleQueue,
    stop: threading.Event,
    breaker: CircuitBreaker,
    limiter_down: threading.Event | None = None,
) -> None:
    """Run every unit through ``execute`` and put a ``UnitOutcome`` for each on ``out``.

    Units not started when ``stop`` is set are left alone (no outcome), so they are run later.
    """
    limiter_down = limiter_down or threading.Event()
    pending = deque(units)
    callers = {
        name: Caller(
            runtime, config, holder=f"{holder}:{name}", stop=stop, breaker=breaker, has_more_work=lambda: bool(pending)
        )
        for name, config in configs.items()
    }
    context = RunContext(callers)
    renewer = asyncio.create_task(_renew_leases(callers, stop))

    async def worker():
        while pending and not stop.is_set() and not breaker.tripped:
            key, payload = pending.popleft()
            stats = CallStats()
            try:
                value = await execute(payload, context, stats)
            except LimiterUnavailable:
                pending.appendleft((key, payload))
                stop.set()
                limiter_down.set()
                return
            except Stopped:
                pending.appendleft((key, payload))
                return
            except FailedCall as failed:
                if breaker.tripped and failed.error.retryable:
                    # Not this item's fault: the endpoint is down. Leave it unanswered for a later run.
                    pending.appendleft((key, payload))
                    return
                out.put(UnitOutcome(key, payload, error=failed.error, stats=stats))
            else:
                out.put(UnitOutcome(key, payload, value=value, stats=stats))

    concurrency = max(1, min(len(pending), max(config.max_concurrency for config in configs.values())))
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        renewer.cancel()
        for caller in callers.values():
            try:
                await caller.pool.close()
            except Exception:  # the limiter may be down; its leases expire on their own
                logger.warning("could not hand back endpoint slots", exc_info=True)


async def _renew_leases(callers: dict[str, Caller], stop: threading.Event) -> None:
    interval = max(1.0, settings.AUDIT_LEASE_SECONDS / 3)
    while True:
        await asyncio.sleep(interval)
        for caller in callers.values():
            try:
                await caller.pool.renew()
            except Exception:  # a failed renewal is retried next interval; the lease outlives a few misses
                logger.warning("could not renew the endpoint slot lease", exc_info=True)
