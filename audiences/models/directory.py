"""The directory of LINE users and their friendships with linked accounts (docs/audiences.md).

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

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
