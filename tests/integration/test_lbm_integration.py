"""Integration tier: real PostgreSQL, Redis and a Celery worker process."""

import threading
import time
from email import message_from_string
from urllib.parse import urlparse

import pytest
from django.db import connection

from lbm import services
from lbm.exceptions import AccountAlreadyLinked, DomainError, IneligibleLink
from lbm.models import AccountLink, Organization
from tests import factories

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for_mail(directory, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(directory.glob("*.log"))
        if files and files[0].stat().st_size:
            return files[0].read_text()
        time.sleep(0.2)
    raise AssertionError("the worker sent no e-mail")


def test_database_is_postgresql():
    assert connection.vendor == "postgresql"


def test_verification_email_is_sent_by_the_worker_and_its_link_verifies(celery_worker, client):
    admin = factories.UserFactory(email="contact@bear.example")
    org = factories.organization(admin=admin, verified=False)
    raw = _wait_for_mail(celery_worker.mail_dir)
    message = message_from_string(raw)
    assert message["To"] == "contact@bear.example"
    body = message.get_payload(decode=True).decode()
    link = next(word for word in body.split() if "/lbm/verify-contact/" in word)
    response = client.get(urlparse(link).path)
    assert response.status_code == 200
    org.refresh_from_db()
    assert services.contact_email_is_verified(org)
    assert "lbm.send_contact_verification" in celery_worker.log_path.read_text()


def test_two_simultaneous_link_requests_exactly_one_wins(monkeypatch):
    org = factories.organization(state="approved")
    second_admin = factories.member(org, "admin")
    account = factories.account_for(org)
    barrier = threading.Barrier(2, timeout=10)
    original = services.link_eligibility

    def both_pass_the_check_first(*args, **kwargs):
        results = original(*args, **kwargs)
        barrier.wait()  # neither request has inserted yet: the pre-check cannot save us
        return results

    monkeypatch.setattr(services.links, "link_eligibility", both_pass_the_check_first)
    outcomes = []

    def request(actor):
        try:
            services.link_request(
                organization_id=org.pk, actor=actor, account_identifier=account.display_id
            )
            outcomes.append("linked")
        except (AccountAlreadyLinked, IneligibleLink) as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=request, args=(actor,)) for actor in (org.contact, second_admin)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["AccountAlreadyLinked", "linked"]
    assert AccountLink.objects.filter(account=account, status="pending").count() == 1


def test_business_number_stays_taken_after_deletion_on_postgresql():
    org = factories.organization(state="approved", business_number="22099131")
    services.organization_delete(organization_id=org.pk, actor=org.contact)
    with pytest.raises(DomainError, match="only one, ever"):
        factories.organization(business_number="22099131")
    assert Organization.objects.filter(business_number="22099131").count() == 1
