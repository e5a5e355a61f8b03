"""Celery tasks: thin, idempotent, explicit names, ids as arguments."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from kombu.exceptions import OperationalError as KombuOperationalError

from .services import WEBHOOK_TIME_LIMIT, WebhookTemporaryError


@shared_task(
    name="notifications.deliver_webhook",
    bind=True,
    acks_late=True,
    # A soft time limit that strikes outside the POST is retried too: the retry waits
    # for the claim to lapse, so no webhook is left open with no task behind it.
    autoretry_for=(WebhookTemporaryError, OperationalError, SoftTimeLimitExceeded),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    # One attempt's whole deadline, however slowly a receiver drips its answer: the
    # soft limit ends the POST as a failed attempt (retried), the hard one the process.
    soft_time_limit=WEBHOOK_TIME_LIMIT - 5,
    time_limit=WEBHOOK_TIME_LIMIT,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST one ``delivery`` webhook event; retried with backoff on connection errors and 5xx
    answers, given up (recorded as failed) after the last retry."""
    from .services import webhook_attempt

    final = self.request.retries >= self.max_retries
    return webhook_attempt(delivery_id=delivery_id, final=final).state


@shared_task(
    name="notifications.fan_out_webhooks",
    acks_late=True,
    autoretry_for=(KombuOperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def fan_out_webhooks(delivery_ids: list[int]) -> int:
    """Queue one ``deliver_webhook`` per id (a batch send queues one of these per 500). Run
    again, it queues them again: harmless, an attempt is claimed before its POST, a finished
    webhook is left alone (and the sweep catches what a lost fan-out left queued)."""
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id=delivery_id)
    return len(delivery_ids)


@shared_task(
    name="notifications.finish_notices",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def finish_notices() -> int:
    """About a second after a phone-number push is delivered, and every minute (beat): charge
    delivered notices not charged yet and queue their webhooks (idempotent)."""
    from .services import notices_finish

    return notices_finish()


@shared_task(
    name="notifications.settle_notices",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def settle_notices() -> dict:
    """Beat, every 5 minutes: deliver or fail pending notices (idempotent)."""
    from .services import notices_settle

    result = notices_settle()
    return {
        "delivered": result.delivered,
        "failed": result.failed,
        "still_pending": result.still_pending,
    }


@shared_task(
    name="notifications.purge_personal_data",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def purge_personal_data() -> int:
    """Beat, hourly: clear the encrypted phone hashes of notices settled over 30 days ago, and
    forget the API's retry keys older than 24 hours (docs/api.md#retry-keys)."""
    from .retry_keys import retry_keys_purge
    from .services import notices_purge

    retry_keys_purge()
    return notices_purge()


@shared_task(
    name="notifications.sweep_webhooks",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def sweep_webhooks() -> dict:
    """Beat, every 5 minutes: queue again (or give up) webhooks whose task was lost."""
    from .services import webhooks_sweep

    return webhooks_sweep()
