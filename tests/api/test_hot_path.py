"""The API's hot paths keep per-account facts in worker memory (lbm.generations) and leave the
charge of a delivered push to ``notices_finish``. These tests prove that a change made in the
admin or by a service reaches the next request at once, and that every delivered push is
charged exactly once."""

import hashlib

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import PlanChange, Subscription, UsageRecord
from lbm import channels, generations
from notifications import services as lon
from notifications.models import Notice, WebhookDelivery
from notifications.services import charging as lon_charging
from tests.notifications import factories as lonf

pytestmark = pytest.mark.django_db
TEXT = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"


@pytest.fixture
def live():
    data = lonf.live_setup(webhook_url="http://127.0.0.1:9/hook")
    _row, data["token"] = channels.token_issue(account=data["account"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['token']}")
    data["client"] = client
    return data


def push(client, phone, text=TEXT):
    return client.post(
        "/bot/pnp/push",
        {
            "to": hashlib.sha256(phone.encode()).hexdigest(),
            "messages": [{"type": "text", "text": text}],
        },
        format="json",
    )


def test_a_revoked_token_is_refused_on_the_next_request(live):
    assert live["client"].get("/v2/bot/info").status_code == 200
    row = live["channel"].tokens.get()
    channels.token_revoke(token_id=row.pk, actor=lonf.factories.account_manager())
    response = live["client"].get("/v2/bot/info")
    assert response.status_code == 401


def test_a_suspended_application_stops_pushes_at_once(live):
    _user, phone = lonf.line_user()
    assert push(live["client"], phone).status_code == 200
    lon.application_suspend(
        actor=live["reviewer"], application_id=live["application"].pk, reason="complaints"
    )
    response = push(live["client"], phone)
    assert response.status_code == 403
    assert Notice.objects.count() == 1


def test_a_newly_approved_template_is_usable_at_once(live):
    _user, phone = lonf.line_user()
    text = "繳費通知\n王小明 您好，本期帳單 A123456 已出帳。"
    assert push(live["client"], phone, text).status_code == 400  # no such template yet
    lonf.version(
        live["account"],
        admin=live["admin"],
        reviewer=live["reviewer"],
        title="繳費通知",
        body="{{name}} 您好，本期帳單 {{order_no}} 已出帳。",
        scenario="bill",
    )
    assert push(live["client"], phone, text).status_code == 200


def test_a_suspended_account_cannot_push(live):
    _user, phone = lonf.line_user()
    assert push(live["client"], phone).status_code == 200
    subscription = Subscription.objects.get(account=live["account"])
    subscription.suspended_at = timezone.now()
    subscription.save()
    response = push(live["client"], phone)
    assert response.status_code == 400
    assert "suspended" in response.json()["message"]


H = "a" * 64
MSG = [{"type": "text", "text": "x"}]


@pytest.mark.parametrize(
    "body",
    [
        {"to": H, "messages": MSG},
        {"to": H, "messages": MSG * 5, "notificationDisabled": True, "extra": 1},
        {"to": H, "messages": MSG, "notificationDisabled": "true"},
        {"to": H, "messages": MSG, "notificationDisabled": 1},
        {"to": H, "messages": MSG, "notificationDisabled": None},
        {"to": f" {H} ", "messages": MSG},
        {"to": 12345, "messages": MSG},
        {"to": True, "messages": MSG},
        {"to": "", "messages": MSG},
        {"to": None, "messages": MSG},
        {"messages": MSG},
        {"to": H},
        {"to": H, "messages": []},
        {"to": H, "messages": MSG * 6},
        {"to": H, "messages": ["text"]},
        {"to": H, "messages": {"type": "text"}},
        {"to": H, "messages": "text"},
        [{"to": H, "messages": MSG}],
        "text",
    ],
)
def test_the_push_body_is_read_as_its_serializer_reads_it(body):
    """``pnp_body`` takes a well-formed body without building a serializer: it must agree
    with ``PnpSerializer``, the body's documented schema, on every body, good or bad."""
    from rest_framework.exceptions import ValidationError

    from api.views_messages import PnpSerializer, pnp_body

    serializer = PnpSerializer(data=body)
    if serializer.is_valid():
        assert pnp_body(body) == serializer.validated_data
    else:
        with pytest.raises(ValidationError) as caught:
            pnp_body(body)
        assert caught.value.detail == serializer.errors


def test_api_requests_skip_the_admin_sites_middleware(live, client):
    """Sessions, language, messages and the audit request user step aside for the API's
    paths (lbm.site_middleware) and still run for the admin site."""
    api = live["client"].get("/v2/bot/info")
    assert api.status_code == 200 and "X-Line-Request-Id" in api
    assert not hasattr(api.wsgi_request, "session")
    assert not hasattr(api.wsgi_request, "_messages")
    assert "Content-Language" not in api
    site = client.get("/admin/login/")
    assert site.status_code == 200
    assert hasattr(site.wsgi_request, "session") and hasattr(site.wsgi_request, "_messages")
    assert site["Content-Language"] and site["X-Frame-Options"] == "DENY"
    assert "csrftoken" in site.cookies


def test_a_middleware_with_view_hooks_cannot_be_made_site_only():
    from django.middleware.csrf import CsrfViewMiddleware

    from lbm.site_middleware import site_only

    with pytest.raises(TypeError, match="process_view"):
        site_only(CsrfViewMiddleware)


def test_the_stamp_of_an_account_moves_when_its_rows_change(live):
    before = generations.read(live["account"].pk)
    other = generations.read(live["account"].pk + 1000)
    live["channel"].webhook_url = "http://127.0.0.1:9/other"
    live["channel"].save()
    assert generations.read(live["account"].pk)[1] != before[1]
    assert generations.read(live["account"].pk + 1000)[1] == other[1]  # others keep theirs


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_delivered_push_is_charged_once_by_notices_finish(
    live, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "notifications.tasks.finish_notices.apply_async", lambda **kwargs: sent.append(kwargs)
    )
    monkeypatch.setattr(lon_charging, "_finish_sent_at", -10.0)
    phones = [lonf.line_user()[1] for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for phone in phones:
            assert push(live["client"], phone).status_code == 200
        assert push(live["client"], "+886987654321").status_code == 422  # never charged
    assert len(sent) == 1  # one task for the burst (published before the first INSERT)
    waiting = Notice.objects.filter(state="delivered", charged_at__isnull=True)
    assert waiting.count() == 3
    assert not UsageRecord.objects.filter(kind="notification").exists()

    assert lon.notices_finish() == 3
    assert not waiting.exists()
    ledger = UsageRecord.objects.filter(kind="notification")
    assert sum(ledger.values_list("recipients", flat=True)) == 3
    assert WebhookDelivery.objects.count() == 3
    assert lon.notices_finish() == 0  # idempotent
    assert sum(ledger.values_list("recipients", flat=True)) == 3


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_an_account_billing_refuses_does_not_hold_up_the_others(live, monkeypatch):
    monkeypatch.setattr("notifications.tasks.finish_notices.apply_async", lambda **kw: None)
    other = lonf.live_setup()
    _row, token = channels.token_issue(account=other["account"])
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert push(live["client"], lonf.line_user()[1]).status_code == 200
    assert push(other_client, lonf.line_user()[1]).status_code == 200
    PlanChange.objects.filter(subscription__account=live["account"]).delete()
    Subscription.objects.filter(account=live["account"]).delete()  # billing now refuses it

    assert lon.notices_finish() == 1
    assert Notice.objects.get(account=other["account"]).charged_at is not None
    assert Notice.objects.get(account=live["account"]).charged_at is None  # retried later


def test_the_rate_limit_is_counted_with_the_token_check(live, settings):
    settings.LBM_API_RATE_LIMITS = {**settings.LBM_API_RATE_LIMITS, "pnp": "2/s"}
    _user, phone = lonf.line_user()
    with time_machine.travel("2026-11-20 01:00:00.1+00:00", tick=False):  # one window
        codes = [push(live["client"], phone).status_code for _ in range(3)]
        assert live["client"].get("/v2/bot/info").status_code == 200  # another scope
    assert codes == [200, 200, 429]
    with time_machine.travel("2026-11-20 01:00:01.1+00:00", tick=False):  # the next second
        assert push(live["client"], phone).status_code == 200


@pytest.mark.integration
def test_stamps_and_a_counter_in_one_redis_command():
    """On Redis, ``generations.read`` is one script: stamps created when missing (and never
    matched: a fresh random value), the counter added to and given its lifetime once."""
    client = generations.redis_client()
    assert client is not None
    counter = "test:rl:one-command"
    client.delete(generations.full_key(counter))
    generations.bump(987654)
    client.delete(generations.full_key("lbm:gen:987654"))  # as after a flush
    first, n1 = generations.read(987654, count=(counter, 60))
    again, n2 = generations.read(987654, count=(counter, 60))
    assert first == again and first[1] != 0 and (n1, n2) == (1, 2)
    assert 0 < client.ttl(generations.full_key(counter)) <= 60
    client.expire(generations.full_key(counter), 500)  # NX: a later read leaves the TTL be
    generations.read(987654, count=(counter, 60))
    assert client.ttl(generations.full_key(counter)) > 60
    generations.bump(987654)
    assert generations.read(987654)[1] != first[1]


def test_audience_list_counts_in_the_same_query_and_past_the_end(live):
    from audiences import services as audience_services

    for n in range(3):
        audience_services.audience_create_from_ids(
            actor=None,
            account_id=live["account"].pk,
            name=f"list {n}",
            id_type="user_id",
            ids=["U%032x" % (n * 10 + i) for i in range(3)],
            route="messaging_api",
        )
    body = live["client"].get("/v2/bot/audienceGroup/list?page=1&size=2").json()
    assert body["totalCount"] == 3 and body["hasNextPage"] is True
    assert [g["description"] for g in body["audienceGroups"]] == ["list 2", "list 1"]
    past = live["client"].get("/v2/bot/audienceGroup/list?page=5&size=2").json()
    assert past["audienceGroups"] == [] and past["totalCount"] == 3
    assert past["hasNextPage"] is False


def test_the_list_statement_reads_what_the_orm_reads(live):
    """``own_audience_page`` is the ORM's ``Audience.objects.filter(source_account_id=…)``
    page written as one prepared statement: on every filter it must give the same rows."""
    from audiences import selectors
    from audiences import services as audience_services
    from audiences.models import Audience
    from tests import factories

    account_id = live["account"].pk
    names = ["Spring 春季 sale", "spring_50%", "SPRING list", "autumn", "50% off", "a_b"]
    for n, name in enumerate(names):
        audience_services.audience_create_from_ids(
            actor=None,
            account_id=account_id,
            name=name,
            id_type="user_id",
            ids=["U%032x" % (n * 10 + i) for i in range(2)],
            route="messaging_api",
        )
    Audience.objects.filter(name="autumn").update(status="failed")
    other = factories.AccountFactory()
    audience_services.audience_create_from_ids(
        actor=None,
        account_id=other.pk,
        name="spring elsewhere",
        id_type="user_id",
        ids=[f"U{999:032x}"],
        route="messaging_api",
    )
    own = Audience.objects.filter(source_account_id=account_id)
    cases = [
        ("", "", ""),
        ("spring", "", ""),
        ("春季", "", ""),
        ("50%", "", ""),
        ("_", "", ""),
        ("", "failed", ""),
        ("", "ready", "messaging_api"),
        ("", "", "-"),
        ("SPRING", "ready", "messaging_api"),
    ]
    for filters in cases:
        for page, size in [(1, 2), (2, 2), (1, 40), (9, 2)]:
            rows, total = selectors.own_audience_page(
                account_id=account_id,
                page=page,
                size=size,
                name_contains=filters[0],
                status=filters[1],
                create_route=filters[2],
            )
            expected_rows, expected_total = selectors.audience_page(own, page, size, *filters)
            assert total == expected_total, (filters, page)
            assert rows == expected_rows, filters
    assert (
        selectors.own_audience_page(account_id=account_id, page=1, size=40, name_contains="spring")[
            1
        ]
        == 3
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_real_worker_charges_a_push_and_sends_its_webhook(celery_worker):
    """PostgreSQL, Redis and a real worker: the task a delivered push schedules charges it and
    sends its signed webhook, with nothing mocked."""
    import time

    from tests.notifications.receiver import Receiver

    with Receiver() as receiver:
        data = lonf.live_setup(webhook_url=receiver.url)
        _row, token = channels.token_issue(account=data["account"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        _user, phone = lonf.line_user("+886911222444")
        assert push(client, phone).status_code == 200
        notice = Notice.objects.get()
        deadline = time.monotonic() + 30
        # The worker marks the delivery sent after the receiver has answered: wait for that too.
        while time.monotonic() < deadline and not (
            receiver.requests
            and Notice.objects.get().charged_at is not None
            and WebhookDelivery.objects.filter(notice=notice, state="sent").exists()
        ):
            time.sleep(0.2)
    assert Notice.objects.get().charged_at is not None, celery_worker.log_path.read_text()[-2000:]
    assert (
        sum(UsageRecord.objects.filter(kind="notification").values_list("recipients", flat=True))
        == 1
    )
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(notice=notice).state == "sent"
