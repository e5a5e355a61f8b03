"""Sharing per linked account (docs/audiences.md#sharing-per-linked-account, 全部共享／部分分享) and
the "what will stop" pages."""

import pytest
from django.urls import reverse

from audiences import selectors, services
from audiences.models import AudienceShare, LineTagShare, LinkSharing
from lbm.exceptions import NotAllowed
from lbm.models import AccountLink, Organization
from tests import factories

from . import factories as af


def lap(org, n):
    return factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id=f"LAP-{org.pk}-{n}",
        verified=True,
        business_number=org.business_number,
        name=f"C 品牌 LAP {n}",
    )


def link(org, account, capture):
    """Link and approve ``account``; the approval's after-commit hook (account_sync) runs."""
    with capture(execute=True):
        return factories.linked(org, account)


def shared_accounts(audience_or_tag):
    model = AudienceShare if hasattr(audience_or_tag, "id_type") else LineTagShare
    field = "audience" if model is AudienceShare else "tag"
    return set(
        model.objects.filter(**{field: audience_or_tag}).values_list("account__name", flat=True)
    )


@pytest.fixture
def three(org, admin_user, django_capture_on_commit_callbacks):
    """Seed 000's example: A (an Official Account) gets everything, B (LAP) nothing, C (LAP)
    chosen audiences and LINE Tags."""
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    a = factories.account_for(org, name="A 品牌官方帳號")
    b = lap(org, 1)
    b.name = "B 品牌 LAP"
    b.save()
    c = lap(org, 2)
    links = {
        name: link(org, acc, django_capture_on_commit_callbacks)
        for name, acc in (("A", a), ("B", b), ("C", c))
    }
    services.link_sharing_set(actor=admin_user, link_id=links["A"].pk, mode="share_all")
    return {"A": a, "B": b, "C": c, "links": links}


def test_seed_000_three_account_example(org, admin_user, three):
    a, b, c = three["A"], three["B"], three["C"]
    tag_site = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    tag_app = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="App")
    phones = af.upload_audience(org, admin_user, af.phones(150), name="電話名單")
    emails = af.upload_audience(
        org,
        admin_user,
        [f"user{i}@example.com" for i in range(120)],
        id_type="email",
        name="會員 Email",
    )
    # Every resource created reaches A on its own, none reaches B or C.
    for resource in (tag_site, tag_app, phones, emails):
        assert shared_accounts(resource) == {a.name}
    # C: chosen audiences and LINE Tags only.
    services.audience_share(actor=admin_user, audience_id=phones.pk, account_ids=[c.pk])
    services.line_tag_share(actor=admin_user, tag_id=tag_site.pk, account_ids=[c.pk])
    assert shared_accounts(phones) == {a.name, c.name}
    assert shared_accounts(emails) == {a.name}
    assert shared_accounts(tag_site) == {a.name, c.name}
    assert shared_accounts(tag_app) == {a.name}
    assert not AudienceShare.objects.filter(account=b).exists()
    assert not LineTagShare.objects.filter(account=b).exists()
    assert set(selectors.share_all_account_ids(org.pk)) == {a.pk}


def test_share_all_set_later_shares_what_exists_and_what_comes(org, admin_user, three):
    b = three["B"]
    existing = af.upload_audience(org, admin_user, af.phones(120), name="既有")
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    assert b.name not in shared_accounts(existing)
    services.link_sharing_set(actor=admin_user, link_id=three["links"]["B"].pk, mode="share_all")
    assert b.name in shared_accounts(existing) and b.name in shared_accounts(tag)
    later = af.upload_audience(org, admin_user, af.phones(120, start=500), name="之後")
    assert b.name in shared_accounts(later)
    # Back to share selected: shares made stay, new resources no longer come.
    services.link_sharing_set(
        actor=admin_user, link_id=three["links"]["B"].pk, mode="share_selected"
    )
    last = af.upload_audience(org, admin_user, af.phones(120, start=900), name="最後")
    assert b.name in shared_accounts(existing) and b.name not in shared_accounts(last)
    history = LinkSharing.history.filter(link=three["links"]["B"]).order_by("history_date")
    assert [h.mode for h in history] == ["share_selected", "share_all", "share_selected"]
    assert history.last().history_user == admin_user


def test_share_all_skips_what_a_rule_refuses_for_that_account(org, admin_user, three):
    small = af.upload_audience(org, admin_user, af.phones(60), name="小名單")
    # Under 100 members: not to the Official Account A; B and C are share selected.
    assert shared_accounts(small) == set()
    services.link_sharing_set(actor=admin_user, link_id=three["links"]["C"].pk, mode="share_all")
    assert shared_accounts(small) == {three["C"].name}


@pytest.mark.parametrize("default, expected", [("share_all", True), ("share_selected", False)])
def test_a_new_link_starts_with_the_organizations_default(
    org, admin_user, default, expected, django_capture_on_commit_callbacks
):
    Organization.objects.filter(pk=org.pk).update(share_mode=default)
    audience = af.upload_audience(org, admin_user, af.phones(120), name="名單")
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    account = lap(org, 7)
    new_link = link(org, account, django_capture_on_commit_callbacks)
    assert LinkSharing.objects.get(link=new_link).mode == default
    assert (account.name in shared_accounts(audience)) is expected
    assert (account.name in shared_accounts(tag)) is expected


@pytest.mark.parametrize("role", ["viewer", "operator_data"])
def test_only_admins_and_operators_set_sharing(org, three, role):
    with pytest.raises(NotAllowed):
        services.link_sharing_set(
            actor=factories.member(org, role), link_id=three["links"]["B"].pk, mode="share_all"
        )
    operator = factories.member(org, "operator")
    services.link_sharing_set(actor=operator, link_id=three["links"]["B"].pk, mode="share_all")
    assert LinkSharing.objects.get(link=three["links"]["B"]).mode == "share_all"


def test_sharing_admin_sets_a_mode_per_account(client, org, admin_user, three):
    audience = af.upload_audience(org, admin_user, af.phones(120), name="名單")
    client.force_login(factories.member(org, "operator"))
    url = reverse("admin:audiences_linksharing_changelist")
    page = client.get(url)
    assert {row.link.account.name for row in page.context["cl"].result_list} == {
        three["A"].name,
        three["B"].name,
        three["C"].name,
    }
    sharing = LinkSharing.objects.get(link=three["links"]["C"])
    response = client.post(url, {"action": "set_share_all", "_selected_action": [sharing.pk]})
    assert response.status_code == 302
    assert three["C"].name in shared_accounts(audience)


def test_line_tag_shared_and_unshared_to_chosen_accounts_in_the_admin(
    client, org, admin_user, three
):
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    client.force_login(factories.member(org, "operator"))
    url = reverse("admin:audiences_linetag_changelist")
    data = {"action": "share_tags_to_accounts", "_selected_action": [tag.pk]}
    page = client.post(url, data)
    assert set(page.context["form"].fields["accounts"].queryset) == {
        three["A"],
        three["B"],
        three["C"],
    }
    client.post(url, {**data, "stage": "confirm", "accounts": [three["C"].pk]})
    assert shared_accounts(tag) == {three["A"].name, three["C"].name}
    data = {"action": "unshare_tags_from_accounts", "_selected_action": [tag.pk]}
    preview = client.post(url, {**data, "stage": "preview", "accounts": [three["C"].pk]})
    assert "no longer shared with" in preview.content.decode()
    assert shared_accounts(tag) == {three["A"].name, three["C"].name}  # nothing stopped yet
    client.post(url, {**data, "stage": "confirm", "accounts": [three["C"].pk]})
    assert shared_accounts(tag) == {three["A"].name}


def test_unlinking_lists_what_will_stop_then_stops_it(
    client, org, admin_user, three, django_capture_on_commit_callbacks
):
    c, c_link = three["C"], three["links"]["C"]
    shared = af.upload_audience(org, admin_user, af.phones(120), name="分享給C")
    services.audience_share(actor=admin_user, audience_id=shared.pk, account_ids=[c.pk])
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    services.line_tag_share(actor=admin_user, tag_id=tag.pk, account_ids=[c.pk])
    own = services.account_audience_upsert(
        account_id=c.pk,
        external_id=9001,
        name="C 的網站訪客",
        audience_type="webtraffic",
        ids=[af.user_id(i) for i in range(120)],
    )
    services.audience_share(actor=admin_user, audience_id=own.pk, account_ids=[three["A"].pk])
    client.force_login(admin_user)
    url = reverse("admin:lbm_accountlink_changelist")
    page = client.post(url, {"action": "end_links", "_selected_action": [c_link.pk]})
    lines = page.context["consequences"]
    assert lines == [
        f"The audience “分享給C” disappears from {c.name}.",
        f"The LINE Tag “官網” is no longer shared with {c.name}.",
        f"{c.name}'s audience “C 的網站訪客” leaves the organization.",
        f"The share of “C 的網站訪客” to {three['A'].name} ends (it disappears from "
        f"{three['A'].name}).",
    ]
    assert 'id="what-will-stop"' in page.content.decode()
    assert AccountLink.objects.get(pk=c_link.pk).status == "approved"  # nothing stopped yet
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "action": "end_links",
                "_selected_action": [c_link.pk],
                "confirm": "yes",
                "reason": "",
            },
        )
    assert AccountLink.objects.get(pk=c_link.pk).status == "unlinked"
    assert not AudienceShare.objects.filter(audience=shared, account=c).exists()
    assert not LineTagShare.objects.filter(account=c).exists()
    assert not AudienceShare.objects.filter(audience=own).exists()
    own.refresh_from_db()
    assert own.organization_id is None


def test_unlink_page_in_zh_hant(client, org, admin_user, three):
    shared = af.upload_audience(org, admin_user, af.phones(120), name="分享給C")
    services.audience_share(actor=admin_user, audience_id=shared.pk, account_ids=[three["C"].pk])
    client.force_login(admin_user)
    page = client.post(
        reverse("admin:lbm_accountlink_changelist"),
        {"action": "end_links", "_selected_action": [three["links"]["C"].pk]},
        HTTP_ACCEPT_LANGUAGE="zh-hant",
    )
    body = page.content.decode()
    assert "將會停止的項目" in body
    assert f"受眾「分享給C」將從 {three['C'].name} 消失。" in body


def test_unshare_all_lists_every_share_that_ends(client, org, admin_user, three):
    audience = af.upload_audience(org, admin_user, af.phones(120), name="名單")
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[three["C"].pk])
    client.force_login(admin_user)
    url = reverse("admin:audiences_audience_changelist")
    data = {"action": "unshare_all", "_selected_action": [audience.pk]}
    preview = client.post(url, data)
    assert {r["account"] for r in preview.context["rows"]} == {three["A"], three["C"]}
    assert {r["reachable"] for r in preview.context["rows"]} == {None}  # under 50: no friends
    assert AudienceShare.objects.filter(audience=audience).count() == 2
    client.post(url, {**data, "stage": "confirm"})
    assert not AudienceShare.objects.filter(audience=audience).exists()


def test_migration_0006_backfills_settings_and_first_snapshots(org, admin_user):
    """Links approved before 0006 get the organization's mode; audiences their current size."""
    import importlib

    from django.apps import apps

    from audiences.models import AudienceSizeSnapshot

    migration = importlib.import_module(
        "audiences.migrations.0006_lookalike_snapshots_link_sharing"
    )
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    old_link = factories.linked(org, lap(org, 3))  # its after-commit sync never ran
    audience = af.upload_audience(org, admin_user, af.phones(70), name="舊名單")
    AudienceSizeSnapshot.objects.all().delete()
    LinkSharing.objects.all().delete()
    migration.backfill(apps, None)
    assert LinkSharing.objects.get(link=old_link).mode == "share_selected"
    assert list(AudienceSizeSnapshot.objects.values_list("audience_id", "size")) == [
        (audience.pk, 70)
    ]
