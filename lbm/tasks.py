from celery import shared_task
from django.db import OperationalError


@shared_task(name="lbm.send_contact_verification", acks_late=True,
             autoretry_for=(OperationalError, ConnectionError, OSError), retry_backoff=True,
             max_retries=5)
def send_contact_verification(organization_id: int) -> bool:
    """Send the contact e-mail verification link of one organization."""
    from .services import contact_verification_email_send

    return contact_verification_email_send(organization_id=organization_id)
