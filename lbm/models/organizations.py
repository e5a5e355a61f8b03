"""Organizations: their kinds, states and business information (docs/organizations.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..validators import validate_business_number


class Industry(models.TextChoices):
    ECOMMERCE = "ecommerce", _("E-commerce")
    RETAIL = "retail", _("Retail")
    EDUCATION = "education", _("Education")
    BEAUTY = "beauty", _("Beauty")
    TELECOM = "telecom", _("Telecom")
    FOOD_DRINK = "food_drink", _("Food and drink")
    GAMES = "games", _("Games")
    LUXURY = "luxury", _("Luxury")
    MEDICAL_AESTHETICS = "medical_aesthetics", _("Medical aesthetics")
    ALCOHOL = "alcohol", _("Alcohol")
    FINANCE = "finance", _("Finance")
    HEALTH = "health", _("Health")
    GOVERNMENT = "government", _("Government")
    OTHER = "other", _("Other")


class OrganizationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    DELETED = "deleted", _("Deleted")


class OrganizationKind(models.TextChoices):
    CUSTOMER = "customer", _("Client organization")
    AGENCY = "agency", _("Agency organization")


class Organization(models.Model):
    """An organization (企業管理組織): one per company, one company per business number, ever."""

    Status = OrganizationStatus
    Kind = OrganizationKind

    class EntityType(models.TextChoices):
        COMPANY = "company", _("Company / brand owner")
        AGENCY = "agency", _("Agency")
        RESELLER = "reseller", _("Reseller")

    class ShareMode(models.TextChoices):
        SHARE_ALL = "share_all", _("Share all resources with newly linked accounts")
        SHARE_SELECTED = "share_selected", _("Share selected resources only")

    # Which states may follow which; deleted is final (docs/organizations.md#lifecycle).
    TRANSITIONS = {
        Status.DRAFT: {Status.PENDING, Status.DELETED},
        Status.PENDING: {Status.APPROVED, Status.REJECTED, Status.DELETED},
        Status.REJECTED: {Status.PENDING, Status.DELETED},
        Status.APPROVED: {Status.DELETED},
        Status.DELETED: set(),
    }
    EDITABLE_BUSINESS_INFO = {Status.DRAFT, Status.REJECTED}

    name = models.CharField(_("organization name"), max_length=100)
    country = models.CharField(
        _("country"), max_length=2, default="TW", choices=[("TW", _("Taiwan"))]
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    entity_type = models.CharField(
        _("type of business"),
        max_length=16,
        choices=EntityType.choices,
        default=EntityType.COMPANY,
        help_text=_("Agencies and resellers may not create an organization for themselves."),
    )
    # An agency's own organization works on its clients' organizations through agency access
    # and never owns accounts or data itself (docs/organizations.md#agencies).
    kind = models.CharField(
        _("kind of organization"),
        max_length=16,
        choices=OrganizationKind.choices,
        default=OrganizationKind.CUSTOMER,
        help_text=_("An agency's organization never owns linked accounts or audiences."),
    )
    # Business information (商用資訊), required before review.
    company_name = models.CharField(_("company name"), max_length=150, blank=True)
    # NULL until entered; unique across every row, deleted ones included, so a company can never
    # create a second organization (NULLs do not collide on PostgreSQL or SQLite).
    business_number = models.CharField(
        _("business number (統一編號)"),
        max_length=8,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_business_number],
        error_messages={
            "unique": _(
                "An organization with this business number already exists "
                "or existed; a company may have only one, ever."
            )
        },
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("company phone"), max_length=32, blank=True)
    industry = models.CharField(_("industry"), max_length=32, choices=Industry.choices, blank=True)
    contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("contact person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "An Admin who is a member of the company; their e-mail address must be "
            "verified before review."
        ),
    )
    # Keyed hash of the contact e-mail address that was verified: a later change of the contact
    # or of their address no longer matches, so verification lapses by itself.
    contact_email_verified_hash = models.CharField(max_length=64, blank=True, editable=False)
    contact_email_verified_at = models.DateTimeField(
        _("contact e-mail verified at"), null=True, blank=True, editable=False
    )
    share_mode = models.CharField(
        _("sharing with newly linked accounts"),
        max_length=16,
        choices=ShareMode.choices,
        default=ShareMode.SHARE_ALL,
    )
    # Review
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, editable=False)
    review_due_on = models.DateField(_("review due"), null=True, blank=True, editable=False)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_reason = models.TextField(_("review reason"), blank=True, editable=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        permissions = [
            ("manage_members", _("Can add and remove members and change their roles")),
            ("manage_links", _("Can link and unlink accounts")),
            ("create_audiences", _("Can create organization audiences and LINE Tags")),
            ("share_audiences", _("Can share audiences and LINE Tags to linked accounts")),
            ("export_audiences", _("Can export audience members (as hashes)")),
            (
                "manage_notifications",
                _(
                    "Can manage notification-message applications and "
                    "templates of linked Official Accounts"
                ),
            ),
            ("export_notices", _("Can export failed notification messages (with hashes)")),
            (
                "review_notifications",
                _("Can review notification-message applications and templates (LINE reviewer)"),
            ),
            ("review_organization", _("Can review organizations (LINE reviewer)")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrganizationStatus.values), name="organization_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="deleted") | Q(deleted_at__isnull=False),
                name="organization_deleted_has_time",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OrganizationKind.values), name="organization_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"], name="org_review_queue")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.status == self.Status.DELETED

    @property
    def is_agency(self) -> bool:
        return self.kind == self.Kind.AGENCY
