"""Celery tasks: each loads by id and calls a service. ``acks_late`` everywhere, so each is idempotent."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from audits import services

TRANSIENT = (OperationalError, InterfaceError)
RETRY = dict(autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=60, retry_jitter=True, max_retries=8)


@shared_task(acks_late=True, **RETRY)
def audit_start_task(audit_id: int) -> str:
    return services.audit_start(audit_id=audit_id)


@shared_task(acks_late=True, **RETRY)
def audit_chunk_run_task(chunk_id: int) -> str:
    return services.audit_chunk_run(chunk_id=chunk_id)  # skips units already stored


@shared_task(acks_late=True, **RETRY)
def audit_finished_task(audit_id: int) -> None:
    from governance.services import on_audit_finished

    on_audit_finished(audit_id=audit_id)


@shared_task(acks_late=True, **RETRY)
def audit_recover_stalled_task() -> dict:
    return services.audit_recover_stalled()


@shared_task(acks_late=True, **RETRY)
def audit_schedules_run_due_task() -> list[int]:
    return services.audit_schedules_run_due()
