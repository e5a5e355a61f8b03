"""Audiences, the inputs of combined audiences, their members and their size over time
(docs/audiences.md)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .choices import (
    LOOKALIKE_MAX_PERCENT,
    LOOKALIKE_MIN_PERCENT,
    UPLOAD_TYPE_FOR_ID,
    AudienceStatus,
    AudienceType,
    CombineOperator,
    CreateRoute,
    IdType,
    UrlMatch,
)
from .line_tags import LineTag

# An audience expires this long after it was created (LINE Messaging API documentation).
AUDIENCE_LIFETIME = timedelta(days=180)


class Audience(models.Model):
    """An audience owned by an organization (``source_account`` empty) or by the linked account
    it came from. An account's audiences carry the organization the account is linked to; before
    linking (or after unlinking) ``organization`` is empty and only LINE staff see them."""

    Type = AudienceType
    Status = AudienceStatus
    Route = CreateRoute
    Operator = CombineOperator
    UrlMatch = UrlMatch

    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audiences",
    )
    source_account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("source account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_audiences",
        help_text=_("Empty for the organization's own audiences."),
    )
    external_id = models.BigIntegerField(
        _("LINE audience ID"),
        null=True,
        blank=True,
        help_text=_("audienceGroupId in the source account."),
    )
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    id_type = models.CharField(
        _("member ID type"), max_length=8, choices=IdType.choices, default=IdType.USER_ID
    )
    create_route = models.CharField(
        _("created by"), max_length=20, choices=Route.choices, default=Route.BUSINESS_MANAGER
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=Status.choices,
        default=Status.IN_PROGRESS,
        db_index=True,
    )
    size = models.BigIntegerField(_("size"), default=0)
    via_cross_targeting = models.BooleanField(
        _("shared through Cross Targeting"),
        default=False,
        help_text=_("Audiences received through Cross Targeting cannot be shared again."),
    )
    from_data_provider = models.BooleanField(
        _("supplied by a data provider"),
        default=False,
        help_text=_("Audiences supplied by a data provider cannot be shared."),
    )
    # Combined audiences
    operator = models.CharField(_("operator"), max_length=8, choices=Operator.choices, blank=True)
    components = models.ManyToManyField(
        "self",
        through="AudienceComponent",
        symmetrical=False,
        blank=True,
        related_name="combined_into",
        verbose_name=_("built from"),
    )
    # Web-traffic audiences
    line_tag = models.ForeignKey(
        LineTag,
        verbose_name=_("LINE Tag"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audiences",
    )
    tag_event = models.CharField(
        _("tag event"), max_length=64, blank=True, help_text=_("Empty for every event.")
    )
    retention_days = models.PositiveSmallIntegerField(_("retention (days)"), default=30)
    url_match = models.CharField(
        _("page URL rule"), max_length=12, choices=UrlMatch.choices, blank=True
    )
    url_value = models.CharField(_("page URL"), max_length=2000, blank=True)
    # Lookalike audiences (docs/audiences.md#lookalike-audiences)
    lookalike_source = models.ForeignKey(
        "self",
        verbose_name=_("lookalike source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lookalikes",
    )
    lookalike_percent = models.PositiveSmallIntegerField(
        _("lookalike size (percentage of the account's reachable users)"), null=True, blank=True
    )

    shared_with = models.ManyToManyField(
        "lbm.Account",
        through="AudienceShare",
        blank=True,
        related_name="shared_audiences",
        verbose_name=_("shared with"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Bumped by every recalculation, so that a late or duplicate task can tell it is stale.
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)

    history = HistoricalRecords(excluded_fields=["updated_at", "version"])

    class Meta:
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")
        ordering = ["-created_at"]
        constraints = [
            # Names are unique within their owner, compared case-insensitively (as LINE does).
            models.UniqueConstraint(
                Lower("name"),
                "organization",
                condition=Q(source_account__isnull=True),
                name="audience_name_unique_per_org",
            ),
            models.UniqueConstraint(
                Lower("name"),
                "source_account",
                condition=Q(source_account__isnull=False),
                name="audience_name_unique_per_account",
            ),
            models.UniqueConstraint(
                fields=["source_account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="audience_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(type__in=AudienceType.values), name="audience_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AudienceStatus.values), name="audience_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(id_type__in=IdType.values), name="audience_id_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(create_route__in=CreateRoute.values), name="audience_route_valid"
            ),
            models.CheckConstraint(condition=Q(size__gte=0), name="audience_size_non_negative"),
            # An organization's own audience always has its organization.
            models.CheckConstraint(
                condition=Q(source_account__isnull=False) | Q(organization__isnull=False),
                name="audience_has_owner",
            ),
            models.CheckConstraint(
                condition=(Q(type="combined") & ~Q(operator=""))
                | (~Q(type="combined") & Q(operator="")),
                name="audience_operator_iff_combined",
            ),
            models.CheckConstraint(
                condition=Q(lookalike_percent__isnull=True)
                | Q(
                    lookalike_percent__gte=LOOKALIKE_MIN_PERCENT,
                    lookalike_percent__lte=LOOKALIKE_MAX_PERCENT,
                ),
                name="audience_lookalike_percent_range",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="audience_org_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def source_label(self) -> str:
        if self.source_account_id is None:
            return str(_("Organization"))
        account = self.source_account
        return f"{account.get_kind_display()}: {account.name}"

    @property
    def is_upload(self) -> bool:
        return self.type in UPLOAD_TYPE_FOR_ID.values()

    @property
    def shareable(self) -> bool:
        return not (self.via_cross_targeting or self.from_data_provider)


class AudienceComponent(models.Model):
    """One input of a combined audience; ``position`` 0 is the first operand of AND NOT."""

    combined = models.ForeignKey(
        Audience, verbose_name=_("combined audience"), on_delete=models.CASCADE, related_name="+"
    )
    component = models.ForeignKey(
        Audience, verbose_name=_("component audience"), on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        verbose_name = _("audience component")
        verbose_name_plural = _("audience components")
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["combined", "component"], name="audiencecomponent_unique"
            ),
            models.CheckConstraint(
                condition=~Q(combined=models.F("component")), name="audiencecomponent_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.combined_id}[{self.position}] = {self.component_id}"


class AudienceMember(models.Model):
    """One member identifier: a user ID as given, an IFA lower-cased, or for phone numbers and
    e-mail addresses the keyed hash (HMAC-SHA256 over the LINE-style SHA-256; never the value).

    ``sealed`` (phone numbers and e-mail addresses only) is the LINE-style SHA-256 encrypted
    with AES-SIV under a key derived from PII_HASH_KEY (``audiences.hashing`` documents the
    construction and how the older 32-byte copies are still opened), so
    that an Admin's export can give LINE-style hashes back. Rows stored before this column
    existed (migration 0003) have none: a keyed hash cannot be reversed. Uploading the same IDs
    again as an addition fills it in; until then the export leaves such members out and says
    how many (``audiences.services.audience_export``).

    Written only in bulk (COPY on PostgreSQL). The unique index (audience, identifier) is the
    only index: it serves look-ups by audience and, probed once per visible audience, searches
    by identifier; a second index would slow every 1.5-million-row upload. On PostgreSQL the
    column uses the "C" collation (migration 0002): identifiers are ASCII and byte order sorts
    and compares them fastest.
    """

    # No database foreign key: PostgreSQL would check it row by row at commit (a deferred
    # trigger per member, about half a minute for 1.5 million rows). Members are written only
    # by the services, for an audience they created or hold locked in the same transaction;
    # deleting an audience deletes its members (Django's fast cascade, one DELETE).
    audience = models.ForeignKey(
        Audience,
        verbose_name=_("audience"),
        on_delete=models.CASCADE,
        related_name="members",
        db_index=False,
        db_constraint=False,
    )
    identifier = models.CharField(_("identifier"), max_length=64)
    sealed = models.BinaryField(
        _("sealed LINE-style hash"), max_length=48, null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("audience member")
        verbose_name_plural = _("audience members")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "identifier"], name="audiencemember_unique"
            ),
            # 48 bytes: AES-SIV; 32: sealed before AES-SIV, still opened (audiences.hashing).
            models.CheckConstraint(
                condition=Q(sealed__isnull=True)
                | Q(Exact(Length("sealed"), 48))
                | Q(Exact(Length("sealed"), 32)),
                name="audiencemember_sealed_length",
            ),
        ]

    def __str__(self) -> str:
        return self.identifier

    @property
    def organization(self):
        return self.audience.organization


class AudienceSizeSnapshot(models.Model):
    """An audience's size from ``recorded_at`` on: a row is written whenever the size changes
    (``services.size_snapshot``), so the insight chart draws the size over time."""

    audience = models.ForeignKey(
        Audience, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("audience")
    )
    size = models.BigIntegerField(_("size"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("audience size snapshot")
        verbose_name_plural = _("audience size snapshots")
        indexes = [
            models.Index(fields=["audience", "recorded_at"], name="audiencesnapshot_by_time")
        ]

    def __str__(self) -> str:
        return f"{self.audience_id}: {self.size} @ {self.recorded_at:%Y-%m-%d %H:%M}"
