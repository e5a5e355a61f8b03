"""The outbox (docs/reliability.md#the-outbox): a task is written with the state change,
published after commit, left to the sweep when the broker refuses it, and never decides the
outcome of the request that committed."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from lbm import outbox, services
from lbm.models import OutboxMessage
from lbm.tasks import send_contact_verification
from tests import factories

pytestmark = pytest.mark.django_db


def _later():
    return timezone.now() + outbox.SWEEP_AFTER + timedelta(seconds=1)


def _org():
    org = factories.organization(state="approved")
    OutboxMessage.objects.all().delete()  # the creation queued its own e-mail
    mail.outbox.clear()
    return org


def _send_verification(org):
    services.organization_send_contact_verification(organization_id=org.pk, actor=org.contact)


def test_a_task_is_written_with_its_transaction_and_published_after_commit(
    django_capture_on_commit_callbacks,
):
    org = _org()
    with pytest.raises(RuntimeError), transaction.atomic():
        _send_verification(org)
        raise RuntimeError("the change is rolled back")
    assert not OutboxMessage.objects.filter(task=send_contact_verification.name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            _send_verification(org)
            entry = OutboxMessage.objects.get(task=send_contact_verification.name)
            assert entry.published_at is None and mail.outbox == []  # not before the commit
    entry.refresh_from_db()
    assert entry.published_at is not None and entry.attempts == 1
    assert entry.kwargs == {"organization_id": org.pk}
    assert len(mail.outbox) == 1  # eager: the task ran once the transaction committed


def test_a_refused_publish_leaves_the_row_to_the_sweep_and_the_request_stands(
    broker, django_capture_on_commit_callbacks
):
    org = _org()
    broker.down()
    with django_capture_on_commit_callbacks(execute=True):
        _send_verification(org)  # no exception: the change committed, the task waits
    entry = OutboxMessage.objects.get(task=send_contact_verification.name)
    assert entry.published_at is None and entry.attempts == 1
    assert "Connection refused" in entry.last_error
    assert outbox.sweep() == 0  # too recent: its own publish may still be under way
    assert outbox.sweep(now=_later()) == 0  # the broker still refuses: it stays, no error
    entry.refresh_from_db()
    assert entry.published_at is None and entry.attempts == 2
    broker.up()
    assert outbox.sweep(now=_later()) == 1
    entry.refresh_from_db()
    assert entry.published_at is not None and entry.attempts == 3 and entry.last_error == ""
    assert outbox.sweep(now=_later()) == 0  # published once


def test_the_sweep_deletes_published_rows_past_their_keeping():
    old = OutboxMessage.objects.create(
        task="lbm.publish_outbox",
        published_at=timezone.now() - outbox.KEEP_PUBLISHED - timedelta(hours=1),
    )
    kept = OutboxMessage.objects.create(task="lbm.publish_outbox", published_at=timezone.now())
    outbox.sweep()
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()


def test_an_email_task_published_twice_sends_one_email(django_capture_on_commit_callbacks):
    """Published, then the database lost before the row was marked: the sweep publishes it
    again; the e-mail task consumes its row and sends nothing the second time."""
    org = _org()
    with django_capture_on_commit_callbacks(execute=True):
        _send_verification(org)
    entry = OutboxMessage.objects.get(task=send_contact_verification.name)
    OutboxMessage.objects.filter(pk=entry.pk).update(published_at=None)  # never marked
    assert outbox.sweep(now=_later()) == 1
    assert len(mail.outbox) == 1
    entry.refresh_from_db()
    assert entry.consumed_at is not None
    # A task sent some other way (not from the outbox) is always run.
    assert send_contact_verification.apply(kwargs={"organization_id": org.pk}).get() is True
    assert len(mail.outbox) == 2


def test_publish_now_raises_queue_unreachable_for_the_api(broker):
    import kombu.exceptions

    from notifications.tasks import finish_notices

    broker.down()
    with pytest.raises(outbox.QueueUnreachable, match="Connection refused") as raised:
        outbox.publish_now(finish_notices)
    # A kombu OperationalError: the API's error handler answers it with a 503.
    assert isinstance(raised.value, kombu.exceptions.OperationalError)
    broker.up()
    outbox.publish_now(finish_notices)


def test_the_sweeps_are_scheduled():
    from django_celery_beat.models import PeriodicTask

    publish = PeriodicTask.objects.get(task="lbm.publish_outbox")
    assert publish.enabled and (publish.interval.every, publish.interval.period) == (1, "minutes")
    webhooks = PeriodicTask.objects.get(task="notifications.sweep_webhooks")
    assert webhooks.enabled and webhooks.interval.every == 5
