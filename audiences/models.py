"""Audiences, their members, LINE Tags, and the directory of LINE users (docs/audiences.md).

Models hold data and invariants only; every write goes through ``audiences.services``.

The LINE user directory
-----------------------
``LineUser`` is one LINE user as the back office knows them: the user ID that LINE gives every
channel (``U`` + 32 hex), the advertising ID of their device when known (IDFA/AAID, lower-case),
and the keyed hashes (``lbm.pii.keyed_hash``) of their registered phone number and e-mail
address (never the values). The notifications app reads ``notification_consent`` and
``sms_verified_at`` (docs/notifications.md, judging a push: conditions 3 and 4) from here.

``Friendship`` is a user's relation to one linked account: a friend (possibly hidden, which
still receives messages), or blocking it in one of the four ways
docs/notifications.md#user-states counts as a block. ``friend_path`` is how they became a
friend. Audience sizes, the friends-only intersection and reachable counts are computed from
these rows.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

# An audience expires this long after it was created (LINE Messaging API documentation).
AUDIENCE_LIFETIME = timedelta(days=180)
# Sharing thresholds (docs/audiences.md).
MIN_SIZE_TO_SHARE_TO_OA = 100
MIN_REACHABLE_TO_SEND = 50


# --- The LINE user directory ------------------------------------------------------------------


class NotificationConsent(models.TextChoices):
    UNANSWERED = "unanswered", _("Never answered")
    ON = "on", _("On")
    OFF = "off", _("Off")


class LineUser(models.Model):
    """A LINE user. Personal data only as keyed hashes (see the module docstring)."""

    Consent = NotificationConsent

    user_id = models.CharField(_("user ID"), max_length=33, unique=True)
    # NULL, not "", for unknown values: the unique indexes must not collide on them.
    ifa = models.CharField(
        _("advertising ID (IDFA/AAID)"),
        max_length=36,
        null=True,  # noqa: DJ001
        blank=True,
        unique=True,
    )
    phone_hash = models.CharField(  # noqa: DJ001
        _("registered phone number (keyed hash)"), max_length=64, null=True, blank=True, unique=True
    )
    email_hash = models.CharField(  # noqa: DJ001
        _("e-mail address (keyed hash)"),
        max_length=64,
        null=True,
        blank=True,
        db_index=True,
    )
    notification_consent = models.CharField(
        _("notification messages consent"),
        max_length=12,
        choices=Consent.choices,
        default=Consent.UNANSWERED,
    )
    sms_verified_at = models.DateTimeField(_("last SMS verification"), null=True, blank=True)
    app_version = models.CharField(_("LINE app version"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("LINE user")
        verbose_name_plural = _("LINE users")
        constraints = [
            models.CheckConstraint(
                condition=Q(notification_consent__in=NotificationConsent.values),
                name="lineuser_consent_valid",
            ),
            models.CheckConstraint(
                condition=Q(user_id__regex=r"^U[0-9a-f]{32}$"), name="lineuser_user_id_format"
            ),
        ]

    def __str__(self) -> str:
        return self.user_id


class FriendshipState(models.TextChoices):
    FRIEND = "friend", _("Friend")
    HIDDEN = "hidden", _("Friend (hidden; still receives messages)")
    BLOCKED = "blocked", _("Blocked")
    BLOCKED_UNLISTED = "blocked_unlisted", _("Blocked, then removed from the block list")
    BLOCKED_CHAT_DELETED = "blocked_chat_deleted", _("Blocked, then chat deleted")
    HIDDEN_UNLISTED = "hidden_unlisted", _("Hidden, then removed from the hidden list")


class FriendPath(models.TextChoices):
    SEARCH = "search", _("Search / ID")
    QR_CODE = "qr_code", _("QR code")
    URL = "url", _("Link / button")
    AD = "ad", _("Friend ads")
    LINE_POINTS = "line_points", _("LINE POINTS")
    OTHER = "other", _("Other")


class Friendship(models.Model):
    """A LINE user's relation to an account (docs/notifications.md#user-states for what counts
    as blocking)."""

    State = FriendshipState
    Path = FriendPath
    # Reachable: friends who have not blocked the account. Everything else counts as a block.
    REACHABLE = (FriendshipState.FRIEND, FriendshipState.HIDDEN)
    BLOCKING = (
        FriendshipState.BLOCKED,
        FriendshipState.BLOCKED_UNLISTED,
        FriendshipState.BLOCKED_CHAT_DELETED,
        FriendshipState.HIDDEN_UNLISTED,
    )

    line_user = models.ForeignKey(
        LineUser, verbose_name=_("LINE user"), on_delete=models.CASCADE, related_name="friendships"
    )
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="friendships",
    )
    state = models.CharField(_("state"), max_length=24, choices=State.choices, default=State.FRIEND)
    friend_path = models.CharField(
        _("friend path"), max_length=16, choices=Path.choices, default=Path.OTHER
    )
    since = models.DateTimeField(_("friend since"))
    state_changed_at = models.DateTimeField(_("state changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("friendship")
        verbose_name_plural = _("friendships")
        constraints = [
            models.UniqueConstraint(fields=["account", "line_user"], name="friendship_unique"),
            models.CheckConstraint(
                condition=Q(state__in=FriendshipState.values), name="friendship_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(friend_path__in=FriendPath.values), name="friendship_path_valid"
            ),
        ]
        indexes = [models.Index(fields=["account", "state"], name="friendship_account_state")]

    def __str__(self) -> str:
        return f"{self.line_user} → {self.account_id} ({self.state})"

    @property
    def is_blocking(self) -> bool:
        return self.state in self.BLOCKING


# --- LINE Tags --------------------------------------------------------------------------------


class LineTag(models.Model):
    """An organization-level LINE Tag; web-traffic audiences are built from its events."""

    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="line_tags",
    )
    tag_id = models.CharField(_("tag ID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # SHA-256 hex of the server-to-server access token (a random secret, shown once).
    token_hash = models.CharField(
        _("access token (hash)"), max_length=64, blank=True, editable=False
    )
    token_issued_at = models.DateTimeField(_("access token issued at"), null=True, blank=True)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True)
    shared_with = models.ManyToManyField(
        "lbm.Account",
        through="LineTagShare",
        blank=True,
        related_name="shared_line_tags",
        verbose_name=_("shared with"),
    )

    history = HistoricalRecords(excluded_fields=["created_at", "last_event_at"])

    class Meta:
        verbose_name = _("LINE Tag")
        verbose_name_plural = _("LINE Tags")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "organization", name="linetag_name_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.tag_id})"


class TagEvent(models.Model):
    """One event a LINE Tag reported (page view, conversion or a custom event name).

    ``line_user`` is the LINE user the event was matched to (by user ID, or by the keyed hash
    of a LINE-style phone/e-mail hash); empty when nobody in the directory matched, so the
    event counts for the tag but joins no audience. Kept ``EVENT_RETENTION`` days."""

    PAGE_VIEW = "PageView"
    CONVERSION = "Conversion"

    tag = models.ForeignKey(
        LineTag, verbose_name=_("LINE Tag"), on_delete=models.CASCADE, related_name="events"
    )
    line_user = models.ForeignKey(
        LineUser,
        verbose_name=_("LINE user"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    event = models.CharField(_("event"), max_length=64)
    url = models.CharField(_("page URL"), max_length=2000, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("LINE Tag event")
        verbose_name_plural = _("LINE Tag events")
        indexes = [models.Index(fields=["tag", "event", "occurred_at"], name="tagevent_lookup")]

    def __str__(self) -> str:
        return f"{self.tag_id}:{self.event}"


class LineTagShare(models.Model):
    tag = models.ForeignKey(
        LineTag, verbose_name=_("LINE Tag"), on_delete=models.CASCADE, related_name="shares"
    )
    account = models.ForeignKey(
        "lbm.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shared by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shared_at = models.DateTimeField(_("shared at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("LINE Tag share")
        verbose_name_plural = _("LINE Tag shares")
        constraints = [
            models.UniqueConstraint(fields=["tag", "account"], name="linetagshare_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tag} → {self.account}"


# --- Audiences --------------------------------------------------------------------------------


class AudienceType(models.TextChoices):
    UPLOAD_UID = "upload_uid", _("User ID upload")
    UPLOAD_IFA = "upload_ifa", _("IDFA/AAID upload")
    UPLOAD_PHONE = "upload_phone", _("Phone number upload")
    UPLOAD_EMAIL = "upload_email", _("E-mail upload")
    CLICK = "click", _("Click retargeting")
    IMPRESSION = "imp", _("Impression retargeting")
    CHAT_TAG = "chat_tag", _("Chat tag")
    FRIEND_PATH = "friend_path", _("Friend path (join channel)")
    WEB_TRAFFIC = "webtraffic", _("Web traffic (LINE Tag)")
    RICHMENU_IMP = "richmenu_imp", _("Rich menu impression retargeting")
    RICHMENU_CLICK = "richmenu_click", _("Rich menu click retargeting")
    IMAGE_CLICK = "image_click", _("Image click")
    VIDEO_VIEW = "video_view", _("Video view")
    APP_EVENT = "app_event", _("App event")
    FRIENDS_BLOCKED = "friends_blocked", _("Friends and blocked users")
    LOOKALIKE = "lookalike", _("Lookalike")
    CONTENT_CLICK = "content_click", _("Content click")
    COMBINED = "combined", _("Combined audience")


class IdType(models.TextChoices):
    USER_ID = "user_id", _("LINE user ID")
    IFA = "ifa", _("IDFA/AAID")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")


T = AudienceType
# docs/audiences.md: the types each source may hold. ``None`` is the organization itself.
TYPES_BY_SOURCE: dict[str | None, frozenset[str]] = {
    "oa": frozenset(
        {
            T.UPLOAD_UID,
            T.CLICK,
            T.IMPRESSION,
            T.CHAT_TAG,
            T.FRIEND_PATH,
            T.WEB_TRAFFIC,
            T.RICHMENU_IMP,
            T.RICHMENU_CLICK,
            T.UPLOAD_IFA,
        }
    ),
    "lap": frozenset(
        {
            T.UPLOAD_IFA,
            T.UPLOAD_PHONE,
            T.UPLOAD_EMAIL,
            T.WEB_TRAFFIC,
            T.IMAGE_CLICK,
            T.VIDEO_VIEW,
            T.APP_EVENT,
            T.FRIENDS_BLOCKED,
            T.LOOKALIKE,
        }
    ),
    "mvp": frozenset({T.IMAGE_CLICK, T.VIDEO_VIEW, T.CONTENT_CLICK}),
    "points_ads": frozenset(),
    None: frozenset({T.WEB_TRAFFIC, T.UPLOAD_IFA, T.UPLOAD_PHONE, T.UPLOAD_EMAIL, T.COMBINED}),
}
UPLOAD_TYPE_FOR_ID = {
    IdType.USER_ID: T.UPLOAD_UID,
    IdType.IFA: T.UPLOAD_IFA,
    IdType.PHONE: T.UPLOAD_PHONE,
    IdType.EMAIL: T.UPLOAD_EMAIL,
}
# The Messaging API's ``AudienceGroupType`` for each type (manage-audience.yml), for the API.
LINE_API_TYPE = {
    T.UPLOAD_UID: "UPLOAD",
    T.UPLOAD_IFA: "UPLOAD",
    T.CLICK: "CLICK",
    T.IMPRESSION: "IMP",
    T.CHAT_TAG: "CHAT_TAG",
    T.FRIEND_PATH: "FRIEND_PATH",
    T.APP_EVENT: "APP_EVENT",
    T.VIDEO_VIEW: "VIDEO_VIEW",
    T.WEB_TRAFFIC: "WEBTRAFFIC",
    T.IMAGE_CLICK: "IMAGE_CLICK",
    T.RICHMENU_IMP: "RICHMENU_IMP",
    T.RICHMENU_CLICK: "RICHMENU_CLICK",
}


class Usage(models.TextChoices):
    RETARGETING = "retargeting", _("Retargeting")
    EXCLUSION = "exclusion", _("Exclusion")
    LOOKALIKE = "lookalike", _("Lookalike source")


# Seed 000, "支援的廣告受眾種類說明": what each audience type may be used for on each kind of
# account. Every type not listed below: LAP retargeting, exclusion and lookalike; Official
# Accounts retargeting and exclusion. Friends and blocked users, and lookalike audiences, are
# for LAP only (retargeting and exclusion). No other kind of account takes shared audiences.
_EVERYWHERE = {
    "lap": (Usage.RETARGETING, Usage.EXCLUSION, Usage.LOOKALIKE),
    "oa": (Usage.RETARGETING, Usage.EXCLUSION),
}
_LAP_ONLY = {"lap": (Usage.RETARGETING, Usage.EXCLUSION)}
USAGE_BY_TYPE: dict[str, dict[str, tuple[str, ...]]] = {
    t: (_LAP_ONLY if t in (T.FRIENDS_BLOCKED, T.LOOKALIKE) else _EVERYWHERE)
    for t in AudienceType.values
}
del T


def usages(audience_type: str, account_kind: str) -> tuple[str, ...]:
    """What an audience of ``audience_type`` may be used for on an account of that kind."""
    return USAGE_BY_TYPE.get(audience_type, {}).get(account_kind, ())


class UrlMatch(models.TextChoices):
    ANY = "", _("Any page")
    EQUALS = "equals", _("URL equals")
    CONTAINS = "contains", _("URL contains")
    STARTS_WITH = "starts_with", _("URL starts with")


# A lookalike audience's size: this share of its LAP account's reachable users (seed 000).
LOOKALIKE_MIN_PERCENT = 1
LOOKALIKE_MAX_PERCENT = 15

# LINE keeps web-traffic events (and audiences' windows) up to this long.
EVENT_RETENTION = timedelta(days=180)


class AudienceStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class CreateRoute(models.TextChoices):
    OA_MANAGER = "oa_manager", _("Official Account Manager")
    MESSAGING_API = "messaging_api", _("Messaging API")
    BUSINESS_MANAGER = "business_manager", _("Business Manager")


class CombineOperator(models.TextChoices):
    AND = "and", _("AND (in every audience)")
    OR = "or", _("OR (in any audience)")
    AND_NOT = "and_not", _("AND NOT (in the first, in none of the others)")


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


class AudienceShare(models.Model):
    """An audience shared to a linked account, with its reachable size for that account."""

    audience = models.ForeignKey(
        Audience, verbose_name=_("audience"), on_delete=models.CASCADE, related_name="shares"
    )
    account = models.ForeignKey(
        "lbm.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shared by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shared_at = models.DateTimeField(_("shared at"), auto_now_add=True)
    reachable_size = models.BigIntegerField(
        _("reachable size"),
        default=0,
        help_text=_("Members who are friends of the account and have not blocked it."),
    )
    reachable_computed_at = models.DateTimeField(
        _("reachable size computed at"), null=True, blank=True
    )

    history = HistoricalRecords(excluded_fields=["reachable_size", "reachable_computed_at"])

    class Meta:
        verbose_name = _("audience share")
        verbose_name_plural = _("audience shares")
        constraints = [
            models.UniqueConstraint(fields=["audience", "account"], name="audienceshare_unique")
        ]

    def __str__(self) -> str:
        return f"{self.audience} → {self.account}"

    @property
    def organization(self):
        return self.audience.organization

    @property
    def usable_for_sending(self) -> bool:
        return self.reachable_size >= MIN_REACHABLE_TO_SEND


class UploadStatus(models.TextChoices):
    # Before the person confirms (docs/audiences.md#uploading): the file is checked and counted,
    # then waits for the confirmation; nothing is stored in an audience until it is given.
    CHECKING = "checking", _("Checking the file")
    AWAITING = "awaiting", _("Waiting for your confirmation")
    QUEUED = "queued", _("Queued")
    VALIDATING = "validating", _("Validating")
    STORING = "storing", _("Storing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AudienceUpload(models.Model):
    """A file of IDs being imported in the background, as a new audience or an addition.

    The raw file is deleted once processed; ``error`` holds line numbers and reasons only, never
    the offending values (they may be phone numbers or addresses)."""

    Status = UploadStatus
    FINISHED = (UploadStatus.DONE, UploadStatus.FAILED)
    UNCONFIRMED = (UploadStatus.CHECKING, UploadStatus.AWAITING)

    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="audience_uploads",
    )
    audience = models.ForeignKey(
        Audience,
        verbose_name=_("audience"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploads",
        help_text=_("The audience added to, or the one created."),
    )
    name = models.CharField(_("new audience name"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    id_type = models.CharField(_("ID type"), max_length=8, choices=IdType.choices)
    id_type_guessed = models.BooleanField(_("ID type guessed from the file"), default=False)
    file = models.FileField(_("file"), upload_to="audience-uploads/", blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_size = models.BigIntegerField(_("file size"), default=0)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    id_count = models.BigIntegerField(_("IDs"), default=0)
    # Before the import: how many of the IDs the audience does not have yet; after: how many
    # were added.
    added_count = models.BigIntegerField(_("IDs added"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("audience upload")
        verbose_name_plural = _("audience uploads")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=UploadStatus.values), name="audienceupload_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="audienceupload_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(name="") | Q(audience__isnull=False),
                name="audienceupload_name_or_audience",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name or f"upload {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


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


class SharingMode(models.TextChoices):
    SHARE_ALL = "share_all", _("Share all resources")
    SHARE_SELECTED = "share_selected", _("Share selected resources only")


class LinkSharing(models.Model):
    """How one linked account receives the organization's resources (seed 000, 全部共享／部分分享):
    ``share_all`` shares every organization audience and LINE Tag to it, now and whenever one
    is created; ``share_selected`` shares only what is chosen one by one (possibly nothing).
    A new link starts with the organization's ``share_mode``."""

    Mode = SharingMode

    link = models.OneToOneField(
        "lbm.AccountLink",
        verbose_name=_("account link"),
        on_delete=models.CASCADE,
        related_name="sharing",
    )
    mode = models.CharField(_("sharing"), max_length=16, choices=Mode.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("sharing with a linked account")
        verbose_name_plural = _("sharing with linked accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["share_all", "share_selected"]), name="linksharing_mode_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.link}: {self.get_mode_display()}"
