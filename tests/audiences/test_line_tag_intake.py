"""LINE Tag: event intake (snippets and server-to-server), purge, web-traffic rules."""

import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audiences import services
from audiences.models import Audience, LineTag, TagEvent
from lbm import pii

from . import factories as af


@pytest.fixture
def tag(org, admin_user):
    return services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")


def _event(**over):
    event = {
        "type": "PageView",
        "url": "https://shop.example.com/items/1",
        "timestamp": int(time.time()),
        "user": {"lineUserId": af.user_id(0)},
    }
    event.update(over)
    return event


def _post(client, tag, events, *, name="tag-events", token=None, tag_id=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.post(
        reverse(name),
        json.dumps({"tagId": tag_id or tag.tag_id, "events": events}),
        content_type="text/plain",
        **headers,
    )


def test_good_events_are_stored_and_matched(client, tag):
    users = af.line_users(3)
    email_hash = pii.sha256_hex("chen@example.com")
    users[2].email_hash = pii.keyed_hash(email_hash)
    users[2].save()
    stamp = int(time.time()) - 60
    events = [
        _event(user={"lineUserId": users[0].user_id}, timestamp=stamp),
        _event(
            type="Conversion", user={"phoneHash": pii.sha256_hex(pii.normalise_phone(af.phone(1)))}
        ),
        _event(type="CustomEvent", name="add_to_cart", user={"emailHash": email_hash}),
        _event(user={"lineUserId": af.user_id(99)}),  # nobody known: stored, matched to nobody
    ]
    response = _post(client, tag, events)
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 4}
    rows = list(TagEvent.objects.filter(tag=tag).order_by("pk"))
    assert [(r.event, r.line_user_id) for r in rows] == [
        ("PageView", users[0].pk),
        ("Conversion", users[1].pk),
        ("add_to_cart", users[2].pk),
        ("PageView", None),
    ]
    assert rows[0].url == "https://shop.example.com/items/1"
    assert int(rows[0].occurred_at.timestamp()) == stamp
    tag.refresh_from_db()
    assert tag.last_event_at == max(r.occurred_at for r in rows)


@pytest.mark.parametrize(
    ("field", "value", "property"),
    [
        ("type", "Purchase", "events[1].type"),
        ("name", "", "events[1].name"),
        ("url", "ftp://shop.example.com/", "events[1].url"),
        ("url", "https://x.example/" + "a" * 2000, "events[1].url"),
        ("timestamp", "yesterday", "events[1].timestamp"),
        ("timestamp", int(time.time()) + 3600, "events[1].timestamp"),
        ("timestamp", int(time.time()) - 181 * 86400, "events[1].timestamp"),
        ("user", {}, "events[1].user"),
        ("user", {"lineUserId": "U123"}, "events[1].user.lineUserId"),
        ("user", {"phoneHash": "0912345678"}, "events[1].user.phoneHash"),
        ("user", {"emailHash": "A" * 64}, "events[1].user.emailHash"),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_nothing_is_stored(
    client, tag, field, value, property
):
    bad = _event(type="CustomEvent", name="ok") if field == "name" else _event()
    bad[field] = value
    response = _post(client, tag, [_event(), bad])
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The request was refused; nothing was stored."
    assert [d["property"] for d in body["details"]] == [property]
    assert not TagEvent.objects.exists()


def test_bad_envelopes(client, tag):
    assert (
        client.post(reverse("tag-events"), "not json", content_type="text/plain").status_code == 400
    )
    assert _post(client, tag, []).json()["details"][0]["property"] == "events"
    assert _post(client, tag, [_event()] * 101).status_code == 400
    unknown = _post(client, tag, [_event()], tag_id="nosuchtag")
    assert unknown.status_code == 400 and unknown.json()["details"][0]["property"] == "tagId"
    assert client.get(reverse("tag-events")).status_code == 405
    assert not TagEvent.objects.exists()


def test_server_to_server_needs_the_tags_token(client, tag, admin_user, org):
    other = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="其他")
    other_token = services.line_tag_issue_token(actor=admin_user, tag_id=other.pk)
    assert _post(client, tag, [_event()], name="tag-conversions").status_code == 401
    assert (
        _post(client, tag, [_event()], name="tag-conversions", token=other_token).status_code == 401
    )
    token = services.line_tag_issue_token(actor=admin_user, tag_id=tag.pk)
    tag.refresh_from_db()
    assert token not in tag.token_hash and len(tag.token_hash) == 64
    assert (
        _post(client, tag, [_event()], name="tag-conversions", token=token + "x").status_code == 401
    )
    assert not TagEvent.objects.exists()
    assert _post(client, tag, [_event()], name="tag-conversions", token=token).status_code == 202
    new = services.line_tag_issue_token(actor=admin_user, tag_id=tag.pk)
    assert (
        _post(client, tag, [_event()], name="tag-conversions", token=token).status_code == 401
    )  # the old token stopped working
    assert _post(client, tag, [_event()], name="tag-conversions", token=new).status_code == 202
    assert TagEvent.objects.filter(tag=tag).count() == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="commit durability is a PostgreSQL setting"
)
def test_snippet_events_skip_the_flush_wait_and_conversions_do_not(client, tag, admin_user):
    """The test's transaction stays open, so the statement's local setting can be read back:
    the snippets' batch is committed without waiting for the WAL flush, the token-authenticated
    conversions are durable before their 202 (docs/audiences.md)."""

    def commit_mode():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    durable = commit_mode()
    token = services.line_tag_issue_token(actor=admin_user, tag_id=tag.pk)
    assert _post(client, tag, [_event()], name="tag-conversions", token=token).status_code == 202
    assert commit_mode() == durable != "off"
    assert _post(client, tag, [_event(), _event()]).status_code == 202
    assert commit_mode() == "off"
    assert TagEvent.objects.filter(tag=tag).count() == 3


def test_a_deleted_tag_stops_taking_events_at_once(client, tag):
    # The tag lookup is kept per process (audiences/intake.py): deleting the tag must end it.
    assert _post(client, tag, [_event()]).status_code == 202
    tag_id = tag.tag_id
    LineTag.objects.filter(pk=tag.pk).get().delete()
    refused = _post(client, tag, [_event()], tag_id=tag_id)
    assert refused.status_code == 400 and refused.json()["details"][0]["property"] == "tagId"
    assert not TagEvent.objects.exists()


def test_a_viewer_cannot_issue_a_token(tag, org):
    from lbm.exceptions import NotAllowed
    from tests import factories

    viewer = factories.member(org, "viewer")
    with pytest.raises(NotAllowed):
        services.line_tag_issue_token(actor=viewer, tag_id=tag.pk)


def test_rate_limit_per_tag(client, tag, org, admin_user, settings):
    settings.LBM_TAG_RATE_LIMIT = 150
    other = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="其他")
    # Stay inside one second window: start right after a second begins.
    time.sleep(1 - time.time() % 1)
    assert _post(client, tag, [_event()] * 100).status_code == 202
    limited = _post(client, tag, [_event()] * 100)
    assert limited.status_code == 429
    assert _post(client, other, [_event()] * 100).status_code == 202  # its own limit
    assert TagEvent.objects.filter(tag=tag).count() == 100


def test_purge_deletes_only_events_past_180_days(tag):
    now = timezone.now()
    TagEvent.objects.bulk_create(
        [
            TagEvent(tag=tag, event="PageView", occurred_at=now - timedelta(days=180, seconds=1)),
            TagEvent(tag=tag, event="PageView", occurred_at=now - timedelta(days=179)),
        ]
    )
    assert services.tag_events_purge(now=now) == 1
    assert list(TagEvent.objects.values_list("occurred_at", flat=True)) == [
        now - timedelta(days=179)
    ]


def test_beat_schedules_purge_and_recompute(db):
    tasks = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    assert {"audiences.purge_tag_events", "audiences.recompute_web_traffic"} <= tasks


URLS = [
    "https://shop.example.com/cart",
    "https://shop.example.com/cart?step=2",
    "https://shop.example.com/items/cart",
    "https://blog.example.com/cart",
]


@pytest.mark.parametrize(
    ("match", "value", "expected"),
    [
        ("", "", {0, 1, 2, 3}),
        ("equals", "https://shop.example.com/cart", {0}),
        ("contains", "/cart", {0, 1, 2, 3}),
        ("contains", "step=2", {1}),
        ("starts_with", "https://shop.example.com/", {0, 1, 2}),
        ("starts_with", "https://shop.example.com/cart", {0, 1}),
    ],
)
def test_web_traffic_url_rules(tag, org, admin_user, match, value, expected):
    users = af.line_users(4)
    now = timezone.now()
    TagEvent.objects.bulk_create(
        TagEvent(tag=tag, line_user=u, event="PageView", url=url, occurred_at=now)
        for u, url in zip(users, URLS, strict=True)
    )
    audience = services.audience_web_traffic_create(
        actor=admin_user,
        organization_id=org.pk,
        name="購物車",
        tag_id=tag.pk,
        retention_days=7,
        url_match=match,
        url_value=value,
    )
    assert set(audience.members.values_list("identifier", flat=True)) == {
        users[i].user_id for i in expected
    }
    assert audience.size == len(expected) and audience.status == Audience.Status.READY


def test_web_traffic_window_edge_and_recompute_task(tag, org, admin_user):
    from audiences.tasks import recompute_web_traffic

    users = af.line_users(3)
    now = timezone.now()
    TagEvent.objects.bulk_create(
        [
            TagEvent(tag=tag, line_user=users[0], event="Conversion", occurred_at=now),
            TagEvent(
                tag=tag,
                line_user=users[1],
                event="Conversion",
                occurred_at=now - timedelta(days=7) + timedelta(minutes=1),
            ),
            TagEvent(
                tag=tag,
                line_user=users[2],
                event="Conversion",
                occurred_at=now - timedelta(days=7, minutes=1),
            ),
        ]
    )
    audience = services.audience_web_traffic_create(
        actor=admin_user,
        organization_id=org.pk,
        name="七天",
        tag_id=tag.pk,
        event="Conversion",
        retention_days=7,
    )
    assert set(audience.members.values_list("identifier", flat=True)) == {
        users[0].user_id,
        users[1].user_id,
    }
    # An event arrives, the beat task recomputes: size follows.
    TagEvent.objects.create(tag=tag, line_user=users[2], event="Conversion", occurred_at=now)
    assert recompute_web_traffic.delay().get() == 1
    audience.refresh_from_db()
    assert audience.size == 3
    for days in (0, 181):
        with pytest.raises(services.AudienceError):
            services.audience_web_traffic_create(
                actor=admin_user,
                organization_id=org.pk,
                name=f"x{days}",
                tag_id=tag.pk,
                retention_days=days,
            )
    with pytest.raises(services.AudienceError):
        services.audience_web_traffic_create(
            actor=admin_user,
            organization_id=org.pk,
            name="y",
            tag_id=tag.pk,
            url_match="contains",
            url_value="",
        )


def test_admin_shows_snippets_tag_id_and_last_event(client, tag, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:audiences_linetag_change", args=[tag.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count(tag.tag_id) >= 4  # shown, and inside the three snippets
    for call in ("lineTag('PageView')", "lineTag('Conversion')", "lineTag('CustomEvent'"):
        assert call in text.replace("&#x27;", "'")
    assert "/tag/v1/events" in text and "/tag/v1/conversions" in text


def test_admin_issues_a_token_once(client, tag, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:audiences_linetag_changelist"),
        {"action": "issue_access_token", "_selected_action": [tag.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1
    token = shown[0].rsplit(" ", 1)[1]
    tag.refresh_from_db()
    from audiences.intake import token_hash

    assert tag.token_hash == token_hash(token)
    assert LineTag.objects.get(pk=tag.pk).history.first().history_change_reason
