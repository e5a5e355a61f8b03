"""Audience endpoints driven by the official line-bot-sdk 3.27.0 client against 127.0.0.1."""

import secrets

import pytest
from linebot.v3.audience import (
    AddAudienceToAudienceGroupRequest,
    ApiClient,
    ApiException,
    Configuration,
    CreateAudienceGroupRequest,
    ManageAudience,
    ManageAudienceBlob,
)
from linebot.v3.audience import (
    Audience as SdkAudience,
)

from audiences import services as audience_services
from audiences.models import Audience, AudienceMember
from lbm import channels
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db(transaction=True)


def user_ids(count: int) -> list[str]:
    return ["U" + secrets.token_hex(16) for _ in range(count)]


@pytest.fixture
def channel_oa():
    org = factories.organization(state="approved")
    account = factories.account_for(org, premium_id="@bearfood")
    factories.linked(org, account)
    _row, token = channels.token_issue(account=account)
    return org, account, token


def clients(live_server, token):
    client = ApiClient(Configuration(host=live_server.url, access_token=token))
    return ManageAudience(client), ManageAudienceBlob(client)


def test_create_by_json_add_and_read_back(live_server, channel_oa):
    _org, account, token = channel_oa
    api, _blob = clients(live_server, token)
    created = api.create_audience_group(
        CreateAudienceGroupRequest(
            description="春季新品點擊", audiences=[SdkAudience(id=i) for i in user_ids(3)]
        )
    )
    assert created.create_route == "MESSAGING_API" and created.type == "UPLOAD"
    assert created.permission == "READ_WRITE" and created.is_ifa_audience is False
    audience = Audience.objects.get(pk=created.audience_group_id)
    assert audience.source_account == account and audience.size == 3
    api.add_audience_to_audience_group(
        AddAudienceToAudienceGroupRequest(
            audience_group_id=created.audience_group_id,
            audiences=[SdkAudience(id=i) for i in user_ids(2)],
        )
    )
    data = api.get_audience_data(created.audience_group_id)
    assert data.audience_group.audience_count == 5
    assert data.audience_group.status == "READY"
    assert data.audience_group.description == "春季新品點擊"


def test_create_and_add_by_file_path(live_server, channel_oa, tmp_path):
    _org, _account, token = channel_oa
    api, blob = clients(live_server, token)
    first = tmp_path / "ids.txt"
    first.write_text("\n".join(user_ids(250)) + "\n")
    created = blob.create_audience_for_uploading_user_ids(
        file=str(first),
        description="會員名單",
        is_ifa_audience=False,
        upload_description="2026-11 會員",
    )
    assert Audience.objects.get(pk=created.audience_group_id).size == 250
    more = tmp_path / "more.txt"
    more.write_text("\r\n".join(user_ids(10)))
    blob.add_user_ids_to_audience(file=str(more), audience_group_id=created.audience_group_id)
    assert api.get_audience_data(created.audience_group_id).audience_group.audience_count == 260


def test_ifa_audience_by_file(live_server, channel_oa, tmp_path):
    _org, _account, token = channel_oa
    _api, blob = clients(live_server, token)
    path = tmp_path / "ifa.txt"
    path.write_text("\n".join(str(__import__("uuid").uuid4()).upper() for _ in range(5)))
    created = blob.create_audience_for_uploading_user_ids(
        file=str(path), description="IFA", is_ifa_audience=True
    )
    assert created.is_ifa_audience is True
    stored = AudienceMember.objects.filter(audience_id=created.audience_group_id)
    assert all(m.identifier == m.identifier.lower() for m in stored)


def test_a_bad_file_is_refused_whole(live_server, channel_oa, tmp_path):
    _org, _account, token = channel_oa
    _api, blob = clients(live_server, token)
    path = tmp_path / "bad.txt"
    ids = user_ids(4)
    path.write_text("\n".join([ids[0], "not-a-user-id", ids[1], ids[0]]))
    with pytest.raises(ApiException) as error:
        blob.create_audience_for_uploading_user_ids(file=str(path), description="壞檔案")
    assert error.value.status == 400
    assert "Line 2: not a LINE user ID" in error.value.body
    assert "Line 4: duplicate of line 1" in error.value.body
    assert not Audience.objects.filter(name="壞檔案").exists()


def test_list_filters_and_pages(live_server, channel_oa):
    _org, account, token = channel_oa
    api, _blob = clients(live_server, token)
    for n in range(3):
        api.create_audience_group(
            CreateAudienceGroupRequest(
                description=f"名單 {n}", audiences=[SdkAudience(id=i) for i in user_ids(1)]
            )
        )
    page = api.get_audience_groups(
        page=1, size=2, description="名單", includes_external_public_groups=True
    )
    assert page.total_count == 3 and page.has_next_page is True and len(page.audience_groups) == 2
    second = api.get_audience_groups(page=2, size=2, create_route="MESSAGING_API", status="READY")
    assert [g.description for g in second.audience_groups] == ["名單 0"]


def test_not_found_is_400_and_another_channels_audience_is_403(live_server, channel_oa):
    _org, _account, token = channel_oa
    api, _blob = clients(live_server, token)
    with pytest.raises(ApiException) as missing:
        api.get_audience_data(987654321)
    assert missing.value.status == 400
    assert "AUDIENCE_GROUP_NOT_FOUND" in missing.value.body
    other_org = factories.organization(state="approved")
    other = factories.account_for(other_org)
    factories.linked(other_org, other)
    foreign = audience_services.audience_create_from_ids(
        actor=None, account_id=other.pk, name="別人的", id_type="user_id", ids=user_ids(2)
    )
    with pytest.raises(ApiException) as forbidden:
        api.get_audience_data(foreign.pk)
    assert forbidden.value.status == 403


def test_shared_audiences_come_with_their_owner(live_server, channel_oa):
    org, account, token = channel_oa
    api, _blob = clients(live_server, token)
    org.share_mode = "share_selected"  # so that new audiences are shared one by one
    org.save(update_fields=["share_mode"])
    # The account was linked under share all: its own setting (docs/audiences.md) changes too.
    from audiences.models import LinkSharing

    LinkSharing.objects.filter(link__account=account).update(mode="share_selected")
    admin = org.contact
    shared = af.upload_audience(org, admin, af.phones(150), name="VIP 電話名單")
    audience_services.audience_share(actor=admin, audience_id=shared.pk, account_ids=[account.pk])
    unshared = af.upload_audience(org, admin, af.phones(120, start=500), name="未共享")
    data = api.get_shared_audience_data(shared.pk)
    assert data.audience_group.permission == "READ"
    assert data.owner.name == org.name
    listing = api.get_shared_audience_groups(page=1)
    assert [g.audience_group_id for g in listing.audience_groups] == [shared.pk]
    with pytest.raises(ApiException) as error:
        api.get_shared_audience_data(unshared.pk)
    assert error.value.status == 403


def test_rename_delete_click_and_impression_audiences(live_server, channel_oa):
    from linebot.v3.audience import (
        CreateClickBasedAudienceGroupRequest,
        CreateImpBasedAudienceGroupRequest,
        UpdateAudienceGroupDescriptionRequest,
    )

    _org, account, token = channel_oa
    api, _blob = clients(live_server, token)
    created = api.create_audience_group(
        CreateAudienceGroupRequest(
            description="舊名稱", audiences=[SdkAudience(id=i) for i in user_ids(2)]
        )
    )
    api.update_audience_group_description(
        created.audience_group_id, UpdateAudienceGroupDescriptionRequest(description="新名稱")
    )
    assert api.get_audience_data(created.audience_group_id).audience_group.description == "新名稱"
    click = api.create_click_based_audience_group(
        CreateClickBasedAudienceGroupRequest(
            description="點擊過優惠頁",
            request_id="f70dd685-499a-4231-a441-f24b8d4fba21",
            click_url="https://shop.example.com/spring",
        )
    )
    assert click.type == "CLICK" and click.click_url == "https://shop.example.com/spring"
    data = api.get_audience_data(click.audience_group_id)
    assert data.audience_group.request_id == "f70dd685-499a-4231-a441-f24b8d4fba21"
    imp = api.create_imp_based_audience_group(
        CreateImpBasedAudienceGroupRequest(
            description="看過訊息", request_id="f70dd685-499a-4231-a441-f24b8d4fba21"
        )
    )
    assert imp.type == "IMP"
    api.delete_audience_group(created.audience_group_id)
    assert not Audience.objects.filter(pk=created.audience_group_id).exists()
    assert not AudienceMember.objects.filter(audience_id=created.audience_group_id).exists()
    deleted = Audience.history.filter(id=created.audience_group_id).latest()
    assert deleted.history_type == "-"
    with pytest.raises(ApiException) as error:
        api.delete_audience_group(created.audience_group_id)
    assert error.value.status == 400


def test_a_channel_cannot_rename_an_organizations_audience(live_server, channel_oa):
    from linebot.v3.audience import UpdateAudienceGroupDescriptionRequest

    org, _account, token = channel_oa
    api, _blob = clients(live_server, token)
    theirs = af.upload_audience(org, org.contact, af.phones(3), name="組織名單")
    with pytest.raises(ApiException) as error:
        api.update_audience_group_description(
            theirs.pk, UpdateAudienceGroupDescriptionRequest(description="改名")
        )
    assert error.value.status == 403
