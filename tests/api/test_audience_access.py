"""LINE's exact answers when a channel may not use an audience, and the narrowcast's refusals in
order (docs/api.md#audiences-a-channel-may-use, docs/api.md#narrowcast)."""

import pytest
from django.utils import timezone

from audiences.models import Audience
from billing.models import UsageRecord
from tests.audiences import factories as af
from tests.notifications import factories as lonf

from .test_retry_key import client_for

NOT_FOUND = {
    "message": "audience group not found",
    "details": [{"message": "AUDIENCE_GROUP_NOT_FOUND"}],
}


@pytest.fixture
def two(db):
    """Two live channels of two organizations; the first one's organization shares its
    audiences with its account (``share_all``)."""
    ours, theirs = lonf.live_setup(), lonf.live_setup()
    ours["client"], theirs["client"] = client_for(ours["account"]), client_for(theirs["account"])
    ours["org"].share_mode = "share_all"
    ours["org"].save(update_fields=["share_mode"])
    return ours, theirs


def _api_audience(client) -> int:
    response = client.post(
        "/v2/bot/audienceGroup/upload",
        {"description": "API 名單", "audiences": [{"id": "U" + "a" * 32}]},
        format="json",
    )
    assert response.status_code == 202
    return response.json()["audienceGroupId"]


def _shared_audience(data, django_capture_on_commit_callbacks, *, friends: int) -> Audience:
    phones = [
        lonf.line_user(account=data["account"], friendship="friend")[1] for _ in range(friends)
    ]
    phones += af.phones(100, start=8000)  # shared to an Official Account from 100 members
    with django_capture_on_commit_callbacks(execute=True):
        return af.upload_audience(data["org"], data["admin"], phones)


def _narrowcast(client, audience_id, **extra):
    return client.post(
        "/v2/bot/message/narrowcast",
        {
            "messages": [{"type": "text", "text": "會員日"}],
            "recipient": {"type": "audience", "audienceGroupId": audience_id},
            **extra,
        },
        format="json",
    )


def test_own_audience_endpoints_refuse_another_channels_audience(two):
    ours, theirs = two
    audience_id = _api_audience(theirs["client"])
    for response in (
        ours["client"].get(f"/v2/bot/audienceGroup/{audience_id}"),
        ours["client"].delete(f"/v2/bot/audienceGroup/{audience_id}"),
    ):
        assert response.status_code == 403
        assert response.json() == {"message": "This audience group belongs to another channel."}
    assert ours["client"].get("/v2/bot/audienceGroup/999999").json() == NOT_FOUND
    assert theirs["client"].get(f"/v2/bot/audienceGroup/{audience_id}").status_code == 200


def test_the_shared_endpoint_takes_only_shared_audiences(two, django_capture_on_commit_callbacks):
    ours, theirs = two
    shared = _shared_audience(ours, django_capture_on_commit_callbacks, friends=0)
    answer = ours["client"].get(f"/v2/bot/audienceGroup/shared/{shared.pk}")
    assert answer.status_code == 200
    assert answer.json()["owner"] == {
        "serviceType": "bm",
        "id": str(ours["org"].pk),
        "name": ours["org"].name,
    }
    own = _api_audience(ours["client"])  # the channel's own, but not shared with it
    for audience_id, client in ((own, ours["client"]), (shared.pk, theirs["client"])):
        response = client.get(f"/v2/bot/audienceGroup/shared/{audience_id}")
        assert response.status_code == 403
        assert response.json() == {
            "message": "This audience group is not shared with this channel."
        }
    assert ours["client"].get("/v2/bot/audienceGroup/shared/999999").json() == NOT_FOUND


def test_narrowcast_refusals_are_lines_answers_in_order(two, django_capture_on_commit_callbacks):
    ours, theirs = two
    client = ours["client"]
    wrong = client.post(
        "/v2/bot/message/narrowcast",
        {"messages": [{"type": "text", "text": "x"}], "recipient": {"type": "operator"}},
        format="json",
    )
    assert (wrong.status_code, wrong.json()) == (
        400,
        {
            "message": "The request has 1 error(s)",
            "details": [
                {
                    "message": "only an audience recipient with its audienceGroupId is supported",
                    "property": "recipient",
                }
            ],
        },
    )
    missing = _narrowcast(client, 999999)
    assert (missing.status_code, missing.json()) == (
        400,
        {
            "message": "audience group not found",
            "details": [
                {"message": "AUDIENCE_GROUP_NOT_FOUND", "property": "recipient.audienceGroupId"}
            ],
        },
    )
    foreign = _narrowcast(client, _api_audience(theirs["client"]))
    assert (foreign.status_code, foreign.json()) == (
        403,
        {"message": "This audience group is not available to this channel."},
    )

    small = _shared_audience(ours, django_capture_on_commit_callbacks, friends=3)
    Audience.objects.filter(pk=small.pk).update(status=Audience.Status.IN_PROGRESS)
    busy = _narrowcast(client, small.pk)
    assert (busy.status_code, busy.json()) == (
        400,
        {
            "message": "The audience group is not ready.",
            "details": [{"message": "IN_PROGRESS", "property": "recipient.audienceGroupId"}],
        },
    )
    Audience.objects.filter(pk=small.pk).update(status=Audience.Status.READY)
    too_small = _narrowcast(client, small.pk, limit={"max": 0})  # size is checked first
    assert (too_small.status_code, too_small.json()) == (
        400,
        {
            "message": "The audience is too small to send to: at least 50 members must be friends "
            "of this account who have not blocked it (it has 3).",
            "details": [
                {
                    "message": "AUDIENCE_GROUP_AUDIENCE_INSUFFICIENT",
                    "property": "recipient.audienceGroupId",
                }
            ],
        },
    )

    big = _shared_audience(ours, django_capture_on_commit_callbacks, friends=50)
    capped = _narrowcast(client, big.pk, limit={"max": 0})
    assert (capped.status_code, capped.json()) == (
        400,
        {
            "message": "The request has 1 error(s)",
            "details": [{"message": "must be greater than or equal to 1", "property": "limit.max"}],
        },
    )
    assert not UsageRecord.objects.filter(kind="narrowcast").exists()
    assert _narrowcast(client, big.pk, limit={"max": 20}).status_code == 202
    assert UsageRecord.objects.get(kind="narrowcast").recipients == 20


def test_narrowcast_over_the_quota_is_429_with_the_quota_sentence(
    two, django_capture_on_commit_callbacks
):
    from billing import services as billing

    ours, _theirs = two
    big = _shared_audience(ours, django_capture_on_commit_callbacks, friends=50)
    billing.usage_record(
        account_id=ours["account"].pk, kind="broadcast", recipients=10**7, sent_at=timezone.now()
    )
    response = _narrowcast(ours["client"], big.pk)
    assert response.status_code == 429
    body = response.json()
    assert body["message"] == "You have reached your monthly limit."
    assert len(body["details"]) == 1 and "property" not in body["details"][0]
    assert body["details"][0]["message"].startswith("This send of 50 messages exceeds")
    assert not UsageRecord.objects.filter(kind="narrowcast").exists()
