"""Account links: find an account by its ID, request a link (the database decides between two
simultaneous requests), review it, and end it. The link rules are read by
``lbm.selectors.link_eligibility``."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import permissions, reviews, signals
from ..exceptions import AccountAlreadyLinked, DomainError, IneligibleLink
from ..models import Account, AccountLink, Organization
from ..permissions import Action
from ..selectors import RuleResult, link_eligibility
from ..workdays import review_due_date
from ._base import _record, _transition


def find_account(identifier: str) -> Account:
    """The account with this basic ID, premium ID or ad account ID."""
    value = (identifier or "").strip()
    if value.startswith("@"):
        value = value.lower()
    account = (
        Account.objects.select_related("provider")
        .filter(Q(basic_id=value) | Q(premium_id=value) | Q(external_id=value))
        .first()
    )
    if account is None:
        raise DomainError(_("No account has the ID “%(id)s”.") % {"id": identifier})
    return account


def _raise_if_ineligible(results: list[RuleResult], *, ignore: set[str] = frozenset()) -> None:
    failed = [r.explanation for r in results if not r.passed and r.rule not in ignore]
    if failed:
        raise IneligibleLink(_("This account cannot be linked."), details=failed)


def link_request(*, organization_id: int, actor, account_identifier: str) -> AccountLink:
    """Ask LINE to link one account (no batches). Of two simultaneous requests for the same
    account exactly one succeeds: the database's partial unique index decides."""
    try:
        with transaction.atomic():
            organization = Organization.objects.get(pk=organization_id)
            permissions.require(actor, Action.MANAGE_LINKS, organization)
            if organization.is_agency:
                raise IneligibleLink(
                    _(
                        "An agency's organization cannot own linked accounts: "
                        "the client links them to its own organization."
                    ),
                    field="account_identifier",
                )
            account = find_account(account_identifier)
            _raise_if_ineligible(link_eligibility(organization, account))
            now = timezone.now()
            link = AccountLink(
                organization=organization,
                account=account,
                requested_by=actor,
                review_due_on=review_due_date(now),
            )
            _record(link, actor=actor, reason=_("Link requested"))
            link.save()
            return link
    except IntegrityError as exc:
        raise AccountAlreadyLinked(
            _(
                "The account is already linked (or waiting to be linked) to an organization; an "
                "account can belong to only one."
            )
        ) from exc


@transaction.atomic
def link_review(*, link_id: int, decision: str, actor, reason: str = "") -> AccountLink:
    """A LINE reviewer approves or rejects a pending link; the rules are checked again."""
    permissions.require(actor, Action.REVIEW_LINKS)
    link = (
        AccountLink.objects.select_for_update(of=("self",))
        .select_related("organization", "account__provider")
        .get(pk=link_id)
    )
    reason = reviews.review_reason(decision, reason)
    if link.status == decision:
        return link
    _transition(link, decision)
    reviews.require_reason(decision, reason)
    if decision == AccountLink.Status.APPROVED:
        if link.organization.status != Organization.Status.APPROVED:
            raise DomainError(_("Approve the organization before its account links."))
        _raise_if_ineligible(
            link_eligibility(link.organization, link.account, include_existing_links=False)
        )
    reviews.review_record(link, decision=decision, reason=reason, actor=actor)
    if decision == AccountLink.Status.APPROVED:
        signals.link_approved.send(sender=AccountLink, link_id=link.pk)
    return link


@transaction.atomic
def link_end(*, link_id: int, actor, reason: str = "") -> AccountLink:
    """Unlink an approved link, or cancel a pending request (organization Admins)."""
    link = (
        AccountLink.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=link_id)
    )
    permissions.require(actor, Action.MANAGE_LINKS, link.organization)
    if link.status in (AccountLink.Status.UNLINKED, AccountLink.Status.CANCELLED):
        return link
    target = (
        AccountLink.Status.UNLINKED
        if link.status == AccountLink.Status.APPROVED
        else AccountLink.Status.CANCELLED
    )
    _transition(link, target)
    link.status = target
    link.ended_at = timezone.now()
    verb = _("Unlinked") if target == AccountLink.Status.UNLINKED else _("Request cancelled")
    _record(link, actor=actor, reason=f"{verb}: {reason}" if reason else verb)
    link.save(update_fields=["status", "ended_at", "updated_at"])
    if target == AccountLink.Status.UNLINKED:
        signals.link_ended.send(sender=AccountLink, link_id=link.pk)
    return link
