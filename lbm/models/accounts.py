"""Providers, the LINE accounts that can be linked, account links, and the reviewers' queue
proxies (docs/organizations.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..validators import validate_basic_id, validate_business_number, validate_premium_id
from .organizations import Organization


class Provider(models.Model):
    """A LINE Developers provider that owns Official Account channels."""

    name = models.CharField(_("provider name"), max_length=150)
    business_number = models.CharField(
        _("business number (統一編號)"), max_length=8, validators=[validate_business_number]
    )
    certified = models.BooleanField(_("certified provider"), default=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AccountKind(models.TextChoices):
    OFFICIAL_ACCOUNT = "oa", _("LINE Official Account")
    LAP = "lap", _("LINE Ads Platform ad account")
    MVP = "mvp", _("MVP (頭版) ad account")
    POINTS_ADS = "points_ads", _("LINE POINTS Ads account")


class AccountBadge(models.TextChoices):
    NONE = "none", _("General (no badge)")
    BLUE = "blue", _("Verified (blue badge)")
    GREEN = "green", _("Premium (green badge)")


class Account(models.Model):
    """A LINE account that can be linked to an organization (docs/organizations.md)."""

    Kind = AccountKind

    Badge = AccountBadge

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("account name"), max_length=150)
    basic_id = models.CharField(
        _("basic ID"),
        max_length=9,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_basic_id],
    )
    premium_id = models.CharField(
        _("premium ID"),
        max_length=19,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_premium_id],
        error_messages={"unique": _("This premium ID is already taken.")},
    )
    external_id = models.CharField(
        _("ad account ID"),
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text=_("The ad account's own ID (LAP, MVP, LINE POINTS Ads)."),
    )
    badge = models.CharField(_("badge"), max_length=8, choices=Badge.choices, default=Badge.NONE)
    verified = models.BooleanField(
        _("verified ad account"),
        default=False,
        help_text=_("For ad accounts: the advertiser passed LINE's verification."),
    )
    business_number = models.CharField(
        _("business number (統一編號)"),
        max_length=8,
        validators=[validate_business_number],
        help_text=_("For LAP ad accounts, the advertiser's business number."),
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("linked account")
        verbose_name_plural = _("linked accounts")
        ordering = ["kind", "name"]
        permissions = [
            ("manage_accounts", _("Can edit accounts, badges and IDs (account manager)"))
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AccountKind.values), name="account_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(badge__in=AccountBadge.values), name="account_badge_valid"
            ),
            # An Official Account always has its basic ID; an ad account has its own ID instead.
            models.CheckConstraint(
                condition=(
                    Q(kind="oa", basic_id__isnull=False)
                    | (~Q(kind="oa") & Q(external_id__isnull=False))
                ),
                name="account_has_identifier",
            ),
        ]
        # The admin's default ordering, also the subscriptions' (docs/operations.md#admin-at-scale).
        indexes = [models.Index(fields=["kind", "name"], name="account_kind_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_id})"

    @property
    def display_id(self) -> str:
        return self.premium_id or self.basic_id or self.external_id or ""

    @property
    def is_verified(self) -> bool:
        """Blue badge or higher for an Official Account; LINE's verification for an ad account."""
        if self.kind == self.Kind.OFFICIAL_ACCOUNT:
            return self.badge in {self.Badge.BLUE, self.Badge.GREEN}
        return self.verified


class LinkStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Linked")
    REJECTED = "rejected", _("Rejected")
    UNLINKED = "unlinked", _("Unlinked")
    CANCELLED = "cancelled", _("Cancelled")


class AccountLink(models.Model):
    """A request to link one account to an organization, reviewed by LINE."""

    Status = LinkStatus

    ACTIVE = (Status.PENDING, Status.APPROVED)
    TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.REJECTED, Status.CANCELLED},
        Status.APPROVED: {Status.UNLINKED},
        Status.REJECTED: set(),
        Status.UNLINKED: set(),
        Status.CANCELLED: set(),
    }

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="links"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="links"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    review_due_on = models.DateField(_("review due"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_reason = models.TextField(_("review reason"), blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("account link")
        verbose_name_plural = _("account links")
        ordering = ["-submitted_at"]
        permissions = [("review_accountlink", _("Can review account links (LINE reviewer)"))]
        constraints = [
            # At most one pending-or-approved link per account: of two simultaneous requests for
            # the same account the database lets exactly one through.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["pending", "approved"]),
                name="account_one_active_link",
            ),
            models.CheckConstraint(
                condition=Q(status__in=LinkStatus.values), name="accountlink_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="link_review_queue"),
            # The admin's default ordering (docs/operations.md#admin-at-scale).
            models.Index(fields=["-submitted_at", "-id"], name="link_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.account} → {self.organization}"


# Proxies that give LINE reviewers their own queue pages in the admin.
class OrganizationReview(Organization):
    class Meta:
        proxy = True
        verbose_name = _("organization review")
        verbose_name_plural = _("review queue: organizations")


class AccountLinkReview(AccountLink):
    class Meta:
        proxy = True
        verbose_name = _("account link review")
        verbose_name_plural = _("review queue: account links")
