"""Liveness and readiness probes for the hospital's monitoring."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        return {"ok": True, "kind": "redis"}
    queue_dir = settings.EMBEDDED_BROKER_DIR / "queue"
    if not queue_dir.is_dir():
        raise RuntimeError(f"embedded broker folder {queue_dir} is missing")
    return {"ok": True, "kind": "filesystem"}


def _check_worker() -> dict:
    from config.celery import app

    replies = app.control.ping(timeout=settings.READYZ_WORKER_TIMEOUT)
    if not replies:
        raise RuntimeError(f"no Celery worker answered within {settings.READYZ_WORKER_TIMEOUT:g} s")
    return {"ok": True, "workers": sorted(name for reply in replies for name in reply)}


@require_GET
@never_cache
def readyz(request):
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker), ("worker", _check_worker)):
        started = time.monotonic()
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        checks[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
