"""The rules of docs/audiences.md through the services."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audiences import importers, services
from audiences.exceptions import AudienceError, SharingRefused, UploadRejected
from audiences.models import (
    Audience,
    AudienceMember,
    AudienceShare,
    AudienceUpload,
    Friendship,
    LineTagShare,
    TagEvent,
)
from lbm import pii
from lbm.models import Organization
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


def test_upload_creates_a_ready_audience_with_hashed_members(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(120), name="VIP 會員")
    assert audience.status == Audience.Status.READY
    assert audience.size == 120 == AudienceMember.objects.filter(audience=audience).count()
    assert audience.type == Audience.Type.UPLOAD_PHONE
    assert audience.create_route == Audience.Route.BUSINESS_MANAGER
    assert audience.expires_at - audience.created_at == timedelta(days=180)
    stored = set(AudienceMember.objects.values_list("identifier", flat=True))
    assert pii.phone_keyed_hash(af.phone(0)) in stored
    assert not any(af.phone(0) in s for s in stored)


def test_bad_file_stores_nothing(org, admin_user):
    with pytest.raises(UploadRejected):
        af.upload_audience(org, admin_user, af.phones(5) + ["oops"], name="壞檔")
    assert not Audience.objects.filter(name="壞檔").exists()
    assert AudienceMember.objects.count() == 0


def test_name_is_unique_per_owner_case_insensitively(org, admin_user):
    af.upload_audience(org, admin_user, af.phones(3), name="Summer Sale")
    with pytest.raises(AudienceError, match="already exists"):
        af.upload_audience(org, admin_user, af.phones(3), name="summer SALE")
    other = factories.organization(state="approved", name="其他公司")
    other_admin = other.memberships.get(role="admin").user
    assert af.upload_audience(other, other_admin, af.phones(3), name="Summer Sale")


def test_name_longer_than_120_characters_is_refused(org, admin_user):
    with pytest.raises(AudienceError, match="120"):
        af.upload_audience(org, admin_user, af.phones(3), name="x" * 121)


def test_user_id_upload_is_not_an_organization_type(org, admin_user):
    with pytest.raises(AudienceError, match="cannot be created for the organization"):
        af.upload_audience(org, admin_user, [af.user_id(1)], id_type="user_id")


def test_messaging_api_creates_a_user_id_audience_for_a_linked_account(org, oa):
    audience = services.audience_create_from_ids(
        actor=None,
        account_id=oa.pk,
        name="API 上傳",
        id_type="user_id",
        ids=[af.user_id(i) for i in range(3)],
        route=Audience.Route.MESSAGING_API,
    )
    assert audience.organization == org and audience.source_account == oa
    assert audience.size == 3 and audience.create_route == "messaging_api"


def test_addition_skips_ids_already_present_and_is_all_or_nothing(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(10))
    added = services.audience_add_ids(
        actor=admin_user, audience_id=audience.pk, ids=af.phones(10, start=5)
    )
    audience.refresh_from_db()
    assert added == 5 and audience.size == 15
    with pytest.raises(UploadRejected):
        services.audience_add_ids(
            actor=admin_user, audience_id=audience.pk, ids=af.phones(3, start=100) + ["bad"]
        )
    audience.refresh_from_db()
    assert audience.size == 15 == audience.members.count()


def test_background_upload_imports_and_deletes_the_raw_file(
    org, admin_user, django_capture_on_commit_callbacks
):
    content = "".join(f"{p}\r\n" for p in af.phones(50)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload = services.upload_start(
            actor=admin_user,
            organization_id=org.pk,
            id_type="phone",
            file=SimpleUploadedFile("members.csv", content),
            name="背景上傳",
        )
        path = upload.file.path
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.DONE and upload.progress == 100
    assert upload.audience.size == 50 and upload.id_count == 50
    assert not upload.file
    import os

    assert not os.path.exists(path)


def test_failed_background_upload_keeps_no_audience_and_no_values(
    org, admin_user, django_capture_on_commit_callbacks
):
    content = b"0912345678\n0987654321\n0912345678\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload = services.upload_start(
            actor=admin_user,
            organization_id=org.pk,
            id_type="phone",
            file=SimpleUploadedFile("m.txt", content),
            name="失敗",
        )
    upload.refresh_from_db()
    assert upload.status == AudienceUpload.Status.FAILED
    assert "Line 3: duplicate of line 1" in upload.error
    assert "0912345678" not in upload.error
    assert not Audience.objects.filter(name="失敗").exists()
    assert not upload.file


def test_processing_a_finished_upload_again_changes_nothing(
    org, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload = services.upload_start(
            actor=admin_user,
            organization_id=org.pk,
            id_type="phone",
            file=SimpleUploadedFile("m.txt", b"0912345678\n"),
            name="一次",
        )
    services.upload_process(upload_id=upload.pk)
    assert Audience.objects.filter(name="一次").count() == 1
    assert AudienceMember.objects.count() == 1


# --- Sharing ----------------------------------------------------------------------------------


def _share_selected(org):
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    org.refresh_from_db()


def test_sharing_to_an_official_account_needs_100_members(org, admin_user, oa):
    _share_selected(org)
    small = af.upload_audience(org, admin_user, af.phones(99))
    with pytest.raises(SharingRefused, match="at least 100 members"):
        services.audience_share(actor=admin_user, audience_id=small.pk, account_ids=[oa.pk])
    big = af.upload_audience(org, admin_user, af.phones(100))
    services.audience_share(actor=admin_user, audience_id=big.pk, account_ids=[oa.pk])
    assert AudienceShare.objects.filter(audience=big, account=oa).exists()


def test_small_audience_may_go_to_an_ad_account(org, admin_user):
    _share_selected(org)
    lap = factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id="LAP-1",
        verified=True,
        business_number=org.business_number,
    )
    factories.linked(org, lap)
    audience = af.upload_audience(org, admin_user, af.phones(5))
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[lap.pk])
    assert audience.shares.count() == 1


@pytest.mark.parametrize("flag", ["via_cross_targeting", "from_data_provider"])
def test_cross_targeting_and_data_provider_audiences_are_never_shared(org, admin_user, oa, flag):
    _share_selected(org)
    audience = af.upload_audience(org, admin_user, af.phones(150))
    Audience.objects.filter(pk=audience.pk).update(**{flag: True})
    with pytest.raises(SharingRefused, match="cannot be shared"):
        services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk])
    assert not AudienceShare.objects.exists()


def test_sharing_to_an_account_not_linked_is_refused(org, admin_user):
    _share_selected(org)
    stranger = factories.account_for(org)
    audience = af.upload_audience(org, admin_user, af.phones(150))
    with pytest.raises(SharingRefused, match="not linked"):
        services.audience_share(
            actor=admin_user, audience_id=audience.pk, account_ids=[stranger.pk]
        )


def test_share_all_organization_shares_a_new_audience_to_linked_accounts(org, admin_user, oa):
    assert org.share_mode == Organization.ShareMode.SHARE_ALL
    big = af.upload_audience(org, admin_user, af.phones(100))
    small = af.upload_audience(org, admin_user, af.phones(10))
    assert list(big.shares.values_list("account_id", flat=True)) == [oa.pk]
    assert not small.shares.exists()  # the 100-member rule still applies


def test_share_selected_organization_does_not_share_automatically(org, admin_user, oa):
    _share_selected(org)
    audience = af.upload_audience(org, admin_user, af.phones(100))
    assert not audience.shares.exists()


def test_unshare_removes_the_share_and_is_idempotent(org, admin_user, oa):
    audience = af.upload_audience(org, admin_user, af.phones(100))
    services.audience_unshare(actor=admin_user, audience_id=audience.pk, account_id=oa.pk)
    services.audience_unshare(actor=admin_user, audience_id=audience.pk, account_id=oa.pk)
    assert not audience.shares.exists()
    assert AudienceShare.history.filter(history_type="-").count() == 1


def test_reachable_size_counts_friends_who_have_not_blocked(org, admin_user, oa):
    _share_selected(org)
    users = af.line_users(160)
    af.friends(oa, users[:60])
    af.friends(oa, users[60:70], state=Friendship.State.HIDDEN)  # hidden still receives
    for i, state in enumerate(Friendship.BLOCKING):
        af.friends(oa, users[70 + 10 * i : 80 + 10 * i], state=state)
    audience = af.upload_audience(org, admin_user, af.phones(150))
    [share] = services.audience_share(
        actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk]
    ).shared
    assert share.reachable_size == 70
    assert share.usable_for_sending


def test_fewer_than_50_reachable_is_not_usable_for_sending(org, admin_user, oa):
    _share_selected(org)
    af.friends(oa, af.line_users(49))
    audience = af.upload_audience(org, admin_user, af.phones(100))
    [share] = services.audience_share(
        actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk]
    ).shared
    assert share.reachable_size == 49 and not share.usable_for_sending


# --- Sync ------------------------------------------------------------------------------------


def test_link_approval_brings_the_accounts_audiences_and_applies_share_all(
    org, admin_user, django_capture_on_commit_callbacks
):
    org_audience = af.upload_audience(org, admin_user, af.phones(100), name="組織受眾")
    account = factories.account_for(org)
    own = Audience.objects.create(
        source_account=account,
        name="點擊再行銷",
        type="click",
        id_type="user_id",
        create_route="oa_manager",
        status="ready",
        size=0,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=180),
    )
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    with django_capture_on_commit_callbacks(execute=True):
        factories.linked(org, account)
    own.refresh_from_db()
    assert own.organization == org
    assert AudienceShare.objects.filter(audience=org_audience, account=account).exists()
    assert LineTagShare.objects.filter(tag=tag, account=account).exists()
    link = account.links.get()
    # Running the sync again gives the same state.
    assert services.account_sync(link_id=link.pk) == 0
    assert AudienceShare.objects.filter(account=account).count() == 1


def test_refresh_expires_old_audiences_and_detaches_unlinked_accounts(org, admin_user, oa):
    old = af.upload_audience(org, admin_user, af.phones(3))
    Audience.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    own = Audience.objects.create(
        organization=org,
        source_account=oa,
        name="好友路徑",
        type="friend_path",
        id_type="user_id",
        status="ready",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=180),
    )
    link = oa.links.get()
    from lbm import services as lbm_services

    lbm_services.link_end(link_id=link.pk, actor=admin_user)
    services.audiences_refresh_all()
    services.audiences_refresh_all()  # idempotent
    old.refresh_from_db()
    own.refresh_from_db()
    assert old.status == Audience.Status.EXPIRED
    assert own.organization is None


def test_unlinking_detaches_the_accounts_audiences_and_shares_at_once(
    org, admin_user, oa, django_capture_on_commit_callbacks
):
    from lbm import services as lbm_services

    own = Audience.objects.create(
        organization=org,
        source_account=oa,
        name="點擊再行銷",
        type="click",
        id_type="user_id",
        status="ready",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=180),
    )
    shared = af.upload_audience(org, admin_user, af.phones(120))
    services.audience_share(actor=admin_user, audience_id=shared.pk, account_ids=[oa.pk])
    assert shared.shares.filter(account=oa).exists()
    with django_capture_on_commit_callbacks(execute=True):
        lbm_services.link_end(link_id=oa.links.get().pk, actor=admin_user)
    own.refresh_from_db()
    assert own.organization is None
    assert not shared.shares.filter(account=oa).exists()
    assert services.account_detach(link_id=oa.links.get().pk) == 0  # idempotent


# --- Computed audiences ----------------------------------------------------------------------


@pytest.mark.parametrize("operator,expected", [("and", 5), ("or", 20), ("and_not", 5)])
def test_combined_audiences_use_set_operations(org, admin_user, operator, expected):
    a = af.upload_audience(org, admin_user, af.phones(10))  # 0..9
    b = af.upload_audience(org, admin_user, af.phones(10, start=5))  # 5..14
    c = af.upload_audience(org, admin_user, af.phones(5, start=15))  # 15..19
    ids = [a.pk, b.pk] if operator != "or" else [a.pk, b.pk, c.pk]
    combined = services.audience_combine(
        actor=admin_user,
        organization_id=org.pk,
        name=f"組合 {operator}",
        operator=operator,
        component_ids=ids,
    )
    assert combined.size == expected == combined.members.count()
    assert combined.status == Audience.Status.READY


def test_audiences_of_different_id_types_cannot_be_combined(org, admin_user):
    a = af.upload_audience(org, admin_user, af.phones(3))
    b = af.upload_audience(org, admin_user, ["a@example.com"], id_type="email")
    with pytest.raises(AudienceError, match="different ID types"):
        services.audience_combine(
            actor=admin_user,
            organization_id=org.pk,
            name="x",
            operator="or",
            component_ids=[a.pk, b.pk],
        )


def test_web_traffic_audience_is_built_from_tag_events(org, admin_user):
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="購物網站")
    users = af.line_users(6)
    now = timezone.now()
    TagEvent.objects.bulk_create(
        [TagEvent(tag=tag, line_user=u, event="Conversion", occurred_at=now) for u in users[:3]]
        + [TagEvent(tag=tag, line_user=u, event="PageView", occurred_at=now) for u in users]
        + [
            TagEvent(
                tag=tag,
                line_user=users[5],
                event="Conversion",
                occurred_at=now - timedelta(days=40),
            )
        ]
    )
    audience = services.audience_web_traffic_create(
        actor=admin_user,
        organization_id=org.pk,
        name="轉換",
        tag_id=tag.pk,
        event="Conversion",
        retention_days=30,
    )
    assert audience.size == 3
    assert set(audience.members.values_list("identifier", flat=True)) == {
        u.user_id for u in users[:3]
    }


def test_export_is_recorded_in_the_history(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(3))
    lines = "".join(services.audience_export(actor=admin_user, audience_id=audience.pk).lines)
    assert sorted(lines.split()) == sorted(
        pii.sha256_hex(pii.normalise_phone(p)) for p in af.phones(3)
    )
    record = audience.history.first()
    assert record.history_change_reason == "Members exported as LINE-style hashes (3)"
    assert record.history_user == admin_user


def test_limit_constant_applies_to_the_services(org, admin_user, monkeypatch):
    monkeypatch.setattr(importers, "MAX_IDS", 2)
    with pytest.raises(UploadRejected, match="at most 2"):
        af.upload_audience(org, admin_user, af.phones(3))
