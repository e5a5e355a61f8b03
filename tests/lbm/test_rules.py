"""Business rules of organizations, verification, review, members and links
(docs/organizations.md)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lbm import pii, services, signals
from lbm.exceptions import (
    AccountAlreadyLinked,
    DomainError,
    IncompleteBusinessInfo,
    IneligibleLink,
    InvalidTransition,
    InvalidVerificationLink,
    LastAdmin,
    NotAllowed,
)
from lbm.models import AccountLink, Membership, Organization, OutboxMessage
from lbm.validators import business_number_is_valid, validate_basic_id, validate_premium_id
from lbm.workdays import add_working_days, review_due_date
from tests import factories

pytestmark = pytest.mark.django_db


# --- Business number checksum -----------------------------------------------------------------


@pytest.mark.parametrize("number", ["22099131", "04595257", "53212539", "24556881", "97162640"])
def test_valid_business_numbers_pass_the_checksum(number):
    assert business_number_is_valid(number)


@pytest.mark.parametrize("number", ["12345678", "22099132", "2209913", "220991311", "2209913a", ""])
def test_invalid_business_numbers_fail(number):
    assert not business_number_is_valid(number)


def test_seventh_digit_seven_accepts_either_reading_of_28():
    # 1045857x: the 7th digit 7 gives 7×4 = 28, read as 1 (2+8 → 10 → 1) or as 0.
    # Totals with the last digit 0 are 19 (≡4) reading 1, and 20 reading... only the special
    # rule lets 10458574 and 10458570 both through; 10458571 fits neither reading.
    assert business_number_is_valid("10458570")
    assert business_number_is_valid("10458574")
    assert business_number_is_valid("10458575")
    assert not business_number_is_valid("10458571")
    assert not business_number_is_valid("10458572")


def test_divisible_by_five_rule_of_2023_accepts_numbers_the_old_rule_refused():
    # Digit sums of 00000005 are 5: divisible by 5 (new rule) but not by 10 (old rule).
    assert business_number_is_valid("00000005")


# --- Account IDs ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["@abc3049d", "@xyz0000a"])
def test_basic_ids_accept_the_format(value):
    validate_basic_id(value)


@pytest.mark.parametrize("value", ["abc3049d", "@ab3049d", "@abc304d9", "@ABC3049D", "@abc30499"])
def test_basic_ids_refuse_other_shapes(value):
    with pytest.raises(ValidationError, match="basic ID"):
        validate_basic_id(value)


@pytest.mark.parametrize("value", ["@bear", "@bear.food_tw-1", "@" + "a" * 18])
def test_premium_ids_accept_4_to_18_allowed_characters(value):
    validate_premium_id(value)


@pytest.mark.parametrize("value", ["@bea", "@" + "a" * 19, "@Bear", "@熊大餐廳", "bear", "@bear!"])
def test_premium_ids_refuse_out_of_format(value):
    with pytest.raises(ValidationError, match="premium ID"):
        validate_premium_id(value)


def test_premium_id_taken_is_refused():
    factories.AccountFactory(premium_id="@bearfood")
    other = factories.AccountFactory.build(premium_id="@bearfood", basic_id="@zzz9999z")
    with pytest.raises(ValidationError, match="already taken"):
        other.full_clean()


# --- Working days -----------------------------------------------------------------------------


def test_due_date_skips_weekends_and_lunar_new_year():
    # Thursday 12 Feb 2026; 16–20 Feb are the Lunar New Year holidays.
    assert add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)


def test_due_date_uses_the_taipei_date_of_submission():
    # 17:30 UTC on Friday is 01:30 Saturday in Taipei: counting starts from Saturday.
    submitted = datetime(2026, 3, 6, 17, 30, tzinfo=UTC)
    assert review_due_date(submitted) == date(2026, 3, 13)


# --- Organization lifecycle -------------------------------------------------------------------


def test_creator_becomes_admin_contact_and_gets_a_verification_email(
    django_capture_on_commit_callbacks,
):
    admin = factories.UserFactory(email="wang@bear.example")
    with django_capture_on_commit_callbacks(execute=True):
        org = factories.organization(admin=admin, verified=False)
        assert mail.outbox == []  # sent only once the organization is committed
    assert org.status == Organization.Status.DRAFT
    assert Membership.objects.get(organization=org, user=admin).role == "admin"
    assert org.contact == admin
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["wang@bear.example"]
    assert "/lbm/verify-contact/" in mail.outbox[0].body


def test_agencies_and_resellers_are_refused_as_the_unit():
    with pytest.raises(DomainError, match="Agencies and resellers"):
        factories.organization(entity_type="agency")
    assert not Organization.objects.exists()


def test_one_organization_per_business_number_even_after_deletion():
    org = factories.organization(state="approved", business_number="22099131")
    services.organization_delete(organization_id=org.pk, actor=org.contact)
    with pytest.raises(DomainError, match="only one, ever"):
        factories.organization(business_number="22099131")
    assert Organization.objects.filter(business_number="22099131").count() == 1


def test_business_number_uniqueness_is_a_database_constraint():
    factories.organization(business_number="22099131")
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.create(name="copy", business_number="22099131")


def test_invalid_business_number_is_refused_with_the_reason():
    with pytest.raises(DomainError, match="checksum"):
        factories.organization(business_number="12345678")


def test_submit_refuses_incomplete_business_information_and_names_the_fields():
    org = factories.organization(address="", phone="")
    with pytest.raises(IncompleteBusinessInfo) as error:
        services.organization_submit(organization_id=org.pk, actor=org.contact)
    assert "address" in str(error.value) and "company phone" in str(error.value)
    org.refresh_from_db()
    assert org.status == "draft"


def test_submit_refuses_an_unverified_contact_email():
    org = factories.organization(verified=False)
    with pytest.raises(IncompleteBusinessInfo, match="not been verified"):
        services.organization_submit(organization_id=org.pk, actor=org.contact)


def test_submission_sets_the_due_date_five_working_days_later():
    with time_machine.travel(datetime(2026, 2, 12, 2, 0, tzinfo=UTC), tick=False):
        org = factories.organization(state="pending")
    assert org.review_due_on == date(2026, 2, 26)


def test_verification_lapses_when_the_contact_changes_address():
    org = factories.organization()
    assert services.contact_email_is_verified(org)
    org.contact.email = "new@bear.example"
    org.contact.save()
    org.refresh_from_db()
    assert not services.contact_email_is_verified(org)


def test_verification_link_expired_tampered_or_stale_is_refused():
    org = factories.organization(verified=False)
    token = services.contact_verification_token(org)
    with pytest.raises(InvalidVerificationLink, match="not valid"):
        services.organization_verify_contact(token=token[:-2] + "xx")
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=4)):
        with pytest.raises(InvalidVerificationLink, match="expired"):
            services.organization_verify_contact(token=token)
    org.contact.email = "other@bear.example"
    org.contact.save()
    with pytest.raises(InvalidVerificationLink, match="changed"):
        services.organization_verify_contact(token=token)
    org.refresh_from_db()
    assert org.contact_email_verified_at is None


def test_verification_stores_only_a_keyed_hash_of_the_address():
    admin = factories.UserFactory(email="Chen@Bear.Example")
    org = factories.organization(admin=admin)
    assert org.contact_email_verified_hash == pii.email_keyed_hash("chen@bear.example")
    assert "bear" not in org.contact_email_verified_hash


def test_verification_token_carries_no_clear_address():
    admin = factories.UserFactory(email="secret.person@bear.example")
    org = factories.organization(admin=admin, verified=False)
    payload = signing.loads(
        services.contact_verification_token(org), salt=services.VERIFICATION_SALT
    )
    assert "secret" not in str(payload)


def test_reviewer_rejects_with_reason_and_applicant_resubmits():
    org = factories.organization(state="pending")
    reviewer = factories.reviewer()
    with pytest.raises(DomainError, match="written reason"):
        services.organization_review(
            organization_id=org.pk, decision="rejected", actor=reviewer, reason="   "
        )
    services.organization_review(
        organization_id=org.pk, decision="rejected", actor=reviewer, reason="地址不符"
    )
    org.refresh_from_db()
    assert (org.status, org.review_reason, org.reviewed_by) == ("rejected", "地址不符", reviewer)
    org.address = "台北市中山區 2 號"
    services.organization_update(organization=org, actor=org.contact, changed=["address"])
    services.organization_submit(organization_id=org.pk, actor=org.contact)
    services.organization_review(organization_id=org.pk, decision="approved", actor=reviewer)
    org.refresh_from_db()
    assert org.status == "approved"
    reasons = list(
        org.history.order_by("history_date").values_list("history_change_reason", flat=True)
    )
    assert "Rejected: 地址不符" in reasons
    assert "Resubmitted for review" in reasons
    assert reasons[-1] == "Approved"


def test_review_decision_records_who_in_history():
    org = factories.organization(state="pending")
    reviewer = factories.reviewer()
    services.organization_review(organization_id=org.pk, decision="approved", actor=reviewer)
    latest = org.history.latest()
    assert latest.history_user == reviewer
    assert latest.status == "approved"


def test_only_reviewers_review():
    org = factories.organization(state="pending")
    for actor in (org.contact, factories.account_manager()):
        with pytest.raises(NotAllowed):
            services.organization_review(organization_id=org.pk, decision="approved", actor=actor)


def test_approving_twice_is_a_no_op_and_approving_a_draft_is_refused():
    org = factories.organization(state="approved")
    reviewer = factories.reviewer()
    before = org.history.count()
    services.organization_review(organization_id=org.pk, decision="approved", actor=reviewer)
    assert org.history.count() == before
    draft = factories.organization(business_number=factories.next_business_number())
    with pytest.raises(InvalidTransition):
        services.organization_review(organization_id=draft.pk, decision="approved", actor=reviewer)


def test_business_information_is_frozen_once_submitted():
    org = factories.organization(state="pending")
    org.address = "elsewhere"
    with pytest.raises(DomainError, match="only while the organization is a draft"):
        services.organization_update(organization=org, actor=org.contact, changed=["address"])


def test_deleted_is_final():
    org = factories.organization(state="approved")
    link = factories.linked(org)
    services.organization_delete(organization_id=org.pk, actor=org.contact)
    org.refresh_from_db()
    link.refresh_from_db()
    assert org.status == "deleted" and org.deleted_at is not None
    assert link.status == "unlinked"
    with pytest.raises(NotAllowed):
        services.organization_submit(organization_id=org.pk, actor=org.contact)


# --- Members ----------------------------------------------------------------------------------


def test_last_admin_cannot_be_removed_or_demoted():
    org = factories.organization()
    admin_membership = Membership.objects.get(organization=org, role="admin")
    with pytest.raises(LastAdmin, match="last Admin cannot be demoted"):
        services.membership_change(
            membership_id=admin_membership.pk, actor=org.contact, role="operator"
        )
    with pytest.raises(LastAdmin, match="last Admin cannot be removed"):
        services.membership_remove(membership_id=admin_membership.pk, actor=org.contact)
    assert Membership.objects.get(pk=admin_membership.pk).role == "admin"


def test_second_admin_can_be_demoted_but_not_the_contact_person():
    org = factories.organization()
    second = factories.member(org, "admin")
    membership = Membership.objects.get(organization=org, user=second)
    services.membership_change(membership_id=membership.pk, actor=org.contact, role="viewer")
    assert Membership.objects.get(pk=membership.pk).role == "viewer"
    services.membership_change(membership_id=membership.pk, actor=org.contact, role="admin")
    contact = Membership.objects.get(organization=org, user=org.contact)
    with pytest.raises(DomainError, match="contact person"):
        services.membership_change(membership_id=contact.pk, actor=second, role="operator")


def test_role_change_reassigns_object_permissions():
    from lbm.permissions import Action, can

    org = factories.organization()
    user = factories.member(org, "operator")
    assert can(user, Action.SHARE_AUDIENCES, org)
    membership = Membership.objects.get(organization=org, user=user)
    services.membership_change(membership_id=membership.pk, actor=org.contact, role="operator_data")
    user = type(user).objects.get(pk=user.pk)
    assert not can(user, Action.SHARE_AUDIENCES, org)
    assert can(user, Action.CREATE_AUDIENCES, org)
    services.membership_remove(membership_id=membership.pk, actor=org.contact)
    user = type(user).objects.get(pk=user.pk)
    assert not can(user, Action.VIEW, org)


# --- Account links ----------------------------------------------------------------------------


def test_eligible_account_links_after_review():
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    link = services.link_request(
        organization_id=org.pk, actor=org.contact, account_identifier=account.basic_id.upper()
    )
    assert link.status == "pending" and link.review_due_on
    link = services.link_review(link_id=link.pk, decision="approved", actor=factories.reviewer())
    assert link.status == "approved"


def test_link_by_premium_or_ad_account_id():
    org = factories.organization(state="approved")
    oa = factories.account_for(org, premium_id="@bearfood")
    lap = factories.account_for(
        org, kind="lap", basic_id=None, external_id="LAP-1", verified=True, with_provider=False
    )
    assert (
        services.link_request(
            organization_id=org.pk, actor=org.contact, account_identifier="@bearfood"
        ).account
        == oa
    )
    assert (
        services.link_request(
            organization_id=org.pk, actor=org.contact, account_identifier="LAP-1"
        ).account
        == lap
    )


def _failed_rules(org, account):
    with pytest.raises(IneligibleLink) as error:
        services.link_request(
            organization_id=org.pk, actor=org.contact, account_identifier=account.display_id
        )
    return str(error.value)


def test_unverified_account_is_refused_and_the_rule_named():
    org = factories.organization(state="approved")
    message = _failed_rules(org, factories.account_for(org, badge="none"))
    assert "not verified" in message
    assert not AccountLink.objects.exists()


def test_unverified_ad_account_is_refused():
    org = factories.organization(state="approved")
    lap = factories.account_for(
        org, kind="lap", basic_id=None, external_id="LAP-2", verified=False, with_provider=False
    )
    assert "not verified" in _failed_rules(org, lap)


def test_different_business_number_is_refused():
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    account.business_number = factories.next_business_number()
    account.save()
    failed = _failed_rules(org, account)
    assert "business number" in failed
    assert account.business_number not in failed  # another company's data is never shown


def test_provider_of_another_company_is_refused():
    org = factories.organization(state="approved")
    provider = factories.ProviderFactory(
        name=f"{org.name}：熊大餐廳", business_number=factories.next_business_number()
    )
    failed = _failed_rules(org, factories.account_for(org, provider=provider))
    assert "belongs to another company" in failed
    assert provider.business_number not in failed and "熊大餐廳" not in failed


def test_provider_name_without_the_company_name_is_refused():
    org = factories.organization(state="approved", name="台灣連線")
    bad = factories.ProviderFactory(name="熊大餐廳", business_number=org.business_number)
    failed = _failed_rules(org, factories.account_for(org, provider=bad))
    assert "does not show the company name 「台灣連線」" in failed
    assert "熊大餐廳" not in failed
    good = factories.ProviderFactory(name="台灣連線：熊大餐廳", business_number=org.business_number)
    services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org, provider=good).display_id,
    )


def test_every_failed_rule_is_listed_together():
    org = factories.organization(state="approved", name="台灣連線")
    provider = factories.ProviderFactory(
        name="熊大餐廳", business_number=factories.next_business_number()
    )
    account = factories.AccountFactory(badge="none", provider=provider)
    message = _failed_rules(org, account)
    for words in ("not verified", "business number", "another company", "company name"):
        assert words in message


def test_account_linked_elsewhere_is_refused():
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    factories.linked(org, account)
    other = factories.organization(state="approved")
    with pytest.raises(IneligibleLink, match="already linked .*to another organization"):
        services.link_request(
            organization_id=other.pk, actor=other.contact, account_identifier=account.display_id
        )


def test_one_active_link_per_account_is_a_database_constraint():
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    AccountLink.objects.create(organization=org, account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountLink.objects.create(organization=org, account=account, status="approved")
    # An ended link does not block a new one.
    AccountLink.objects.filter(account=account).update(status="unlinked")
    AccountLink.objects.create(organization=org, account=account)


def test_constraint_violation_is_reported_as_already_linked(monkeypatch):
    org = factories.organization(state="approved")
    account = factories.account_for(org)
    AccountLink.objects.create(organization=org, account=account)
    # Pretend the pre-check saw no link (as in a race): the database still refuses.
    monkeypatch.setattr(services.links, "_raise_if_ineligible", lambda results, **kw: None)
    with pytest.raises(AccountAlreadyLinked):
        services.link_request(
            organization_id=org.pk, actor=org.contact, account_identifier=account.display_id
        )


def test_only_admins_link_and_unlink():
    org = factories.organization(state="approved")
    operator = factories.member(org, "operator")
    account = factories.account_for(org)
    with pytest.raises(NotAllowed):
        services.link_request(
            organization_id=org.pk, actor=operator, account_identifier=account.display_id
        )
    link = factories.linked(org, account)
    with pytest.raises(NotAllowed):
        services.link_end(link_id=link.pk, actor=operator)
    services.link_end(link_id=link.pk, actor=org.contact, reason="品牌出售")
    link.refresh_from_db()
    assert link.status == "unlinked"
    assert link.history.latest().history_change_reason == "Unlinked: 品牌出售"


def test_link_approval_needs_an_approved_organization():
    org = factories.organization(state="pending")
    link = services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )
    with pytest.raises(DomainError, match="Approve the organization"):
        services.link_review(link_id=link.pk, decision="approved", actor=factories.reviewer())


def test_link_rejection_needs_a_reason_and_approval_sends_the_signal(
    django_capture_on_commit_callbacks,
):
    org = factories.organization(state="approved")
    reviewer = factories.reviewer()
    link = services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )
    with pytest.raises(DomainError, match="written reason"):
        services.link_review(link_id=link.pk, decision="rejected", actor=reviewer)
    seen = []

    def receiver(sender, link_id, **kwargs):
        # Inside the link's transaction: the approval is already visible to the receiver.
        seen.append(
            (
                sender,
                link_id,
                AccountLink.objects.get(pk=link_id).status,
                transaction.get_connection().in_atomic_block,
            )
        )

    signals.link_approved.connect(receiver, dispatch_uid="test.link_approved")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.link_review(link_id=link.pk, decision="approved", actor=reviewer)
        assert seen == [(AccountLink, link.pk, AccountLink.Status.APPROVED, True)]
        # What the audiences app's receiver queues (the sync) is an outbox row, published only
        # once the transaction commits.
        assert OutboxMessage.objects.get(task="audiences.sync_account").kwargs == {
            "link_id": link.pk
        }
        assert not OutboxMessage.objects.filter(published_at__isnull=False).exists()
        assert callbacks
    finally:
        signals.link_approved.disconnect(dispatch_uid="test.link_approved")


def test_a_rolled_back_link_change_leaves_no_outbox_row():
    org = factories.organization(state="approved")
    link = factories.linked(org)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.link_end(link_id=link.pk, actor=org.contact)
        assert OutboxMessage.objects.filter(task="audiences.detach_account").exists()
        raise RuntimeError("the caller's transaction fails after the unlink")
    link.refresh_from_db()
    assert link.status == AccountLink.Status.APPROVED
    assert not OutboxMessage.objects.filter(task="audiences.detach_account").exists()


def test_a_failing_receiver_rolls_the_approval_back():
    org = factories.organization(state="approved")
    link = services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )

    def refuse(sender, link_id, **kwargs):
        raise RuntimeError("receiver failed")

    signals.link_approved.connect(refuse, dispatch_uid="test.refuse")
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            services.link_review(link_id=link.pk, decision="approved", actor=factories.reviewer())
    finally:
        signals.link_approved.disconnect(dispatch_uid="test.refuse")
    link.refresh_from_db()
    assert link.status == AccountLink.Status.PENDING
    assert not OutboxMessage.objects.filter(task="audiences.sync_account").exists()


def test_unlinking_and_deleting_the_organization_queue_the_detach_but_cancelling_does_not():
    org = factories.organization(state="approved")
    approved = factories.linked(org)
    pending = services.link_request(
        organization_id=org.pk,
        actor=org.contact,
        account_identifier=factories.account_for(org).display_id,
    )
    services.link_end(link_id=pending.pk, actor=org.contact)
    assert not OutboxMessage.objects.filter(task="audiences.detach_account").exists()
    services.organization_delete(organization_id=org.pk, actor=org.contact)
    assert [m.kwargs for m in OutboxMessage.objects.filter(task="audiences.detach_account")] == [
        {"link_id": approved.pk}
    ]
