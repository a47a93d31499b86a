"""Per-process asyncio runtime for model calls.

Celery tasks are synchronous; each worker process keeps one event loop in a background thread so
that HTTP clients (pooled connections) and the Redis limiter live as long as the process, not one
task. httpx slows down past ~32 connections per client, so an endpoint gets several small clients
(``AUDIT_CONNECTIONS_PER_CLIENT`` connections each) used in turn.
"""

import asyncio
import itertools
import math
import os
import threading
from concurrent.futures import Future

import httpx
from django.conf import settings

from audits.clients import EndpointConfig
from audits.limiter import make_limiter


class Runtime:
    def __init__(self):
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="medgov-model-calls", daemon=True)
        self._thread.start()
        self._clients: dict[tuple, tuple[list[httpx.AsyncClient], itertools.cycle]] = {}
        self._limiter = None

    def submit(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine, timeout: float | None = None):
        return self.submit(coroutine).result(timeout)

    # The methods below run on the runtime's loop only.

    def limiter(self):
        if self._limiter is None:
            self._limiter = make_limiter()
        return self._limiter

    def client_for(self, config: EndpointConfig) -> httpx.AsyncClient:
        key = (config.endpoint_id, config.base_url, config.timeout_s, config.max_concurrency)
        entry = self._clients.get(key)
        if entry is None:
            per_client = max(1, settings.AUDIT_CONNECTIONS_PER_CLIENT)
            shards = max(1, math.ceil(config.max_concurrency / per_client))
            limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client, keepalive_expiry=30)
            timeout = httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s), pool=None)
            clients = [httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) for _ in range(shards)]
            entry = (clients, itertools.cycle(clients))
            self._clients[key] = entry
        return next(entry[1])


_runtime: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime; a forked child (prefork pool) starts its own."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = Runtime()
        return _runtime
