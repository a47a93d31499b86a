"""Per-process asyncio runtime for model calls.

Celery tasks are synchronous; each worker process keeps one event loop in a background thread so
that HTTP clients (kept-alive connections) and the Redis limiter live as long as the process, not one
task. httpcore looks at every connection of a client's pool on each request, so its cost grows with the
pool: an endpoint gets single-connection clients instead, each lent to one request at a time
(``ClientPool``); the shared limiter already bounds how many are busy.
"""

import asyncio
import os
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future

import httpx
import uvloop

from audits.clients import EndpointConfig
from audits.limiter import make_limiter


class Runtime:
    def __init__(self):
        self.pid = os.getpid()
        self.loop = uvloop.new_event_loop()  # libuv's loop: about 15 % less worker CPU per model call than asyncio's
        self._thread = threading.Thread(target=self.loop.run_forever, name="medgov-model-calls", daemon=True)
        self._thread.start()
        self._clients: dict[tuple, ClientPool] = {}
        self._limiter = None
        self._ssl_context: ssl.SSLContext | None = None

    def submit(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine, timeout: float | None = None):
        return self.submit(coroutine).result(timeout)

    # The methods below run on the runtime's loop only.

    def limiter(self):
        if self._limiter is None:
            self._limiter = make_limiter()
        return self._limiter

    def ssl_context(self) -> ssl.SSLContext:
        # One context for all clients: loading the CA bundle costs ~20 ms of CPU per context.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def clients_for(self, config: EndpointConfig) -> "ClientPool":
        key = (config.endpoint_id, config.base_url, config.timeout_s)
        pool = self._clients.get(key)
        if pool is None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30)
            timeout = httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s), pool=None)
            pool = ClientPool(
                lambda: httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False, verify=self.ssl_context())
            )
            self._clients[key] = pool
        return pool


class ClientPool:
    """Idle single-connection clients of one endpoint; the most recently returned (warmest) is lent first.

    Used from the runtime's loop only, so it needs no lock; a new client is made when all are busy."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient]):
        self._factory = factory
        self._idle: list[httpx.AsyncClient] = []

    def borrow(self) -> httpx.AsyncClient:
        if self._idle:
            return self._idle.pop()
        return self._factory()

    def give_back(self, client: httpx.AsyncClient) -> None:
        self._idle.append(client)


_runtime: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime; a forked child (prefork pool) starts its own."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = Runtime()
        return _runtime
