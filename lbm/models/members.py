"""Members of an organization, their roles and invitations (docs/organizations.md#members,
docs/organizations.md#invitations), and django-guardian's permission table."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from .organizations import Organization


class MemberRole(models.TextChoices):
    # Ordered from most to least capable (lbm.permissions.ROLE_ACTIONS gives their rights).
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")
    OPERATOR_DATA = "operator_data", _("Operator (data only)")
    VIEWER = "viewer", _("User (view only)")


class Membership(models.Model):
    """A user's role in an organization; the role decides their object permissions."""

    Role = MemberRole

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    is_company_member = models.BooleanField(
        _("company member"),
        default=True,
        help_text=_("Employee of the company itself, as opposed to an agency or partner."),
    )
    created_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["organization", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"


class Invitation(models.Model):
    """A single-use invitation, valid 7 days, bound to an e-mail address (``lbm.invitations``).
    Only a hash of its token and the keyed hash of the address are stored."""

    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    # Keyed hash of the invitee's normalised e-mail address (lbm.pii): only a sign-in with that
    # address may accept.
    email_hash = models.CharField(_("invitee e-mail (keyed hash)"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("used by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class MembershipInvitation(Invitation):
    """An Admin's invitation to join an organization with a role; the person becomes a member
    only by accepting it (docs/organizations.md#invitations)."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    role = models.CharField(
        _("role"), max_length=16, choices=MemberRole.choices, default=MemberRole.VIEWER
    )
    is_company_member = models.BooleanField(
        _("company member"),
        default=True,
        help_text=_("Employee of the company itself, as opposed to an agency or partner."),
    )
    # ``c***@example.com``: enough for the Admins to recognise whom they invited; the address
    # itself is not kept.
    email_hint = models.CharField(_("invited address"), max_length=120, blank=True)

    class Meta(Invitation.Meta):
        verbose_name = _("member invitation")
        verbose_name_plural = _("member invitations")
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values), name="membershipinvitation_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email_hint} → {self.organization} ({self.get_role_display()})"

    @property
    def is_pending(self) -> bool:
        from django.utils import timezone

        return self.used_at is None and self.expires_at > timezone.now()


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    """django-guardian's direct foreign-key table; no longer written or read: rights come from
    the membership's role at check time (docs/permissions.md)."""

    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("organization permission")
        verbose_name_plural = _("organization permissions")
