from celery import shared_task
from django.db import InterfaceError, OperationalError

from governance import services


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def continuing_review_sweep_task() -> dict:
    return services.continuing_review_sweep()


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def send_notification_email_task(notification_id: int) -> None:
    services.notification_send_email(notification_id=notification_id)
