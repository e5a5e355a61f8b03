"""Agency access (docs/organizations.md#agencies): a client organization's grant to an
agency's organization, the accounts it is limited to, and the agency members assigned to it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .accounts import Account
from .members import Membership
from .organizations import Organization, OrganizationKind


class AgencyRole(models.TextChoices):
    # At most Operator: never Admin, so never member management, linking or the organization.
    OPERATOR = "operator", _("Operator")
    OPERATOR_DATA = "operator_data", _("Operator (data only)")
    VIEWER = "viewer", _("User (view only)")


class AgencyAccessStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the agency")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    EXPIRED = "expired", _("Expired")


class AgencyAccessAccount(models.Model):
    """One linked account of the client that an agency access is limited to."""

    access = models.ForeignKey(
        "AgencyAccess", verbose_name=_("agency access"), on_delete=models.CASCADE
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("account of an agency access")
        verbose_name_plural = _("accounts of agency access")
        constraints = [
            models.UniqueConstraint(fields=["access", "account"], name="agencyaccessaccount_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account} ({self.access})"


class AgencyAccess(models.Model):
    """A client organization's grant to an agency's organization: a role no higher than Operator,
    for a fixed period, optionally on chosen linked accounts only. Changed only through
    ``lbm.agency``; rights are read from it at check time (``lbm.permissions``)."""

    Role = AgencyRole
    Status = AgencyAccessStatus
    OPEN = (AgencyAccessStatus.PENDING, AgencyAccessStatus.ACTIVE)

    client = models.ForeignKey(
        Organization,
        verbose_name=_("client organization"),
        on_delete=models.CASCADE,
        related_name="agency_accesses",
    )
    agency = models.ForeignKey(
        Organization,
        verbose_name=_("agency"),
        on_delete=models.CASCADE,
        related_name="client_accesses",
        limit_choices_to={"kind": OrganizationKind.AGENCY},
    )
    role = models.CharField(
        _("role"), max_length=16, choices=AgencyRole.choices, default=AgencyRole.VIEWER
    )
    accounts = models.ManyToManyField(
        Account,
        verbose_name=_("limited to accounts"),
        blank=True,
        related_name="+",
        through=AgencyAccessAccount,
        help_text=_("Empty: every account linked to the client. Otherwise only these."),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AgencyAccessStatus.choices,
        default=AgencyAccessStatus.PENDING,
        db_index=True,
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ended by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords(m2m_fields=[accounts])

    class Meta:
        verbose_name = _("agency access")
        verbose_name_plural = _("agency access")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=AgencyRole.values), name="agencyaccess_role_capped"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AgencyAccessStatus.values), name="agencyaccess_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="agencyaccess_period_positive"
            ),
            models.CheckConstraint(
                condition=~Q(client=models.F("agency")), name="agencyaccess_not_self"
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_at"], name="agency_access_due")]

    def __str__(self) -> str:
        return f"{self.agency} → {self.client} ({self.get_role_display()})"


class AgencyAssignment(models.Model):
    """One member of the agency's organization assigned to work on the client of an access."""

    access = models.ForeignKey(
        AgencyAccess,
        verbose_name=_("agency access"),
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("agency member"),
        on_delete=models.CASCADE,
        related_name="agency_assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("assigned at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("agency member assignment")
        verbose_name_plural = _("agency member assignments")
        ordering = ["access", "membership"]
        constraints = [
            models.UniqueConstraint(fields=["access", "membership"], name="agencyassignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.membership.user} → {self.access.client}"
