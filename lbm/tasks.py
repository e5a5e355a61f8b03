from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="lbm.send_contact_verification",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def send_contact_verification(self, organization_id: int) -> bool:
    """Send the contact e-mail verification link of one organization, once per outbox row (a
    second publication of the same row sends nothing: lbm.outbox.consume)."""
    from django.db import transaction

    from .outbox import consume
    from .services import contact_verification_email_send

    with transaction.atomic():
        if not consume(self.request.id):
            return False
        return contact_verification_email_send(organization_id=organization_id)


@shared_task(name="lbm.publish_outbox", acks_late=True)
def publish_outbox() -> int:
    """Beat, every minute: publish the queued tasks the broker could not take after their
    commit (docs/reliability.md#the-outbox)."""
    from .outbox import sweep

    return sweep()


@shared_task(name="lbm.expire_agency_access", acks_late=True)
def expire_agency_access() -> int:
    """Beat, every 10 minutes: record the expiry of agency access past its end
    (docs/organizations.md#agencies); its rights already stopped at the end time."""
    from .agency import expire_due

    return expire_due()
