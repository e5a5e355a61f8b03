"""Organizations, their members, linked accounts and account links (docs/organizations.md).

Models hold data and invariants only. Every state change goes through ``lbm.services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from .validators import validate_basic_id, validate_business_number, validate_premium_id


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


class Channel(models.Model):
    """The Messaging API channel of an Official Account: its secret signs webhook bodies
    (``X-Line-Signature``), its access tokens authenticate API calls."""

    account = models.OneToOneField(
        Account,
        verbose_name=_("Official Account"),
        on_delete=models.CASCADE,
        related_name="channel",
        limit_choices_to={"kind": "oa"},
    )
    channel_id = models.CharField(_("channel ID"), max_length=10, unique=True)
    channel_secret = models.CharField(_("channel secret"), max_length=32, editable=False)
    bot_user_id = models.CharField(
        _("bot user ID"),
        max_length=33,
        unique=True,
        help_text=_("The “destination” of webhook events."),
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["channel_secret"])

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["channel_id"]

    def __str__(self) -> str:
        return f"{self.channel_id} ({self.account.display_id})"


class ChannelAccessToken(models.Model):
    """A channel access token. Only its SHA-256 is stored; the token is shown once."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("token starts with"), max_length=8, editable=False)
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = _("channel access token")
        verbose_name_plural = _("channel access tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.channel.channel_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class OutboxMessage(models.Model):
    """A task to publish, written in the same transaction as the state change it follows, and
    published after commit; the beat sweep publishes what the broker could not take then
    (``lbm.outbox``, docs/reliability.md#the-outbox)."""

    task = models.CharField(_("task"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict, blank=True)
    reason = models.CharField(_("why"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("publish attempts"), default=0)
    last_error = models.CharField(_("last publish error"), max_length=300, blank=True)
    consumed_at = models.DateTimeField(
        _("run at"),
        null=True,
        blank=True,
        help_text=_("Set by tasks that must run at most once (an e-mail)."),
    )

    class Meta:
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(published_at__isnull=True),
                name="outbox_unpublished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

    @property
    def task_id(self) -> str:
        """The Celery task id of every publication of this row (the same each time)."""
        return f"outbox-{self.pk}"


# --- Agency access (docs/organizations.md#agencies) -------------------------------------------


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
