"""The Celery application ``config``: ``celery -A config worker``; configured from Django settings."""

import gc
import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django's system checks run with `manage.py check` (and --deploy in CI); run again by every worker they would
# import the URL conf, every view and the admin into processes that serve no pages (~13 MB each).
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("medgov")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _exit_on_bad_configuration() -> None:
    """A worker started with bad settings says so in one line instead of a traceback."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the settings module to load
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"medgov: configuration error: {exc}\n")
        sys.exit(2)


if Path(sys.argv[0]).name.startswith("celery"):
    _exit_on_bad_configuration()


@app.task(name="config.celery.health_task", ignore_result=False)
def health_task() -> dict:
    """Answers to prove that a worker consumes the queue; /readyz and the tests call it."""
    import socket

    from django.utils import timezone

    return {"ok": True, "worker": socket.gethostname(), "at": timezone.now().isoformat()}


@worker_process_init.connect
def _freeze_startup_objects(**_kwargs) -> None:
    """Move the objects every pool process starts with (Django, the task modules) out of the collector's
    sight: audits allocate many short-lived objects, and each full collection would walk them all again."""
    gc.freeze()
