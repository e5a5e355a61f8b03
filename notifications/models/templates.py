"""Templates and their reviewed versions (docs/notifications.md#templates)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .scenarios import SCENARIO_CATEGORY, Scenario, ServiceType, Utility

# --- Templates --------------------------------------------------------------------------------


class Template(models.Model):
    """A notification template of an Official Account; its content lives in versions."""

    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="lon_templates",
        limit_choices_to={"kind": "oa"},
    )
    name = models.CharField(_("name"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="lon_template_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded by a newer approved version")


class CtaKind(models.TextChoices):
    LINK = "link", _("https link")
    LIFF = "liff", _("LIFF page")


class TemplateVersion(models.Model):
    """One immutable version of a template's content. Any change is a new version, reviewed
    again; only an approved version can be sent."""

    Status = VersionStatus
    CtaKind = CtaKind

    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    scenario = models.CharField(_("scenario"), max_length=24, choices=Scenario.choices)
    service_type = models.CharField(
        _("service type"), max_length=16, choices=ServiceType.choices, blank=True
    )
    utility = models.CharField(_("utility"), max_length=8, choices=Utility.choices, blank=True)
    promotional_points = models.BooleanField(
        _("points given free by a promotion"),
        default=False,
        help_text=_("Scenario 9 may not notify free points given by a promotion."),
    )
    title = models.CharField(_("title"), max_length=40)
    body = models.TextField(_("body"), max_length=1000)
    placeholders = models.JSONField(
        _("placeholders"),
        default=list,
        blank=True,
        help_text=_("Names used as {{name}} in the title, body, fields and link."),
    )
    fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_('List of {"label", "value", "kind", "masked"}; values may use placeholders.'),
    )
    cta_label = models.CharField(_("call-to-action label"), max_length=20, blank=True)
    cta_kind = models.CharField(
        _("call-to-action kind"), max_length=8, choices=CtaKind.choices, blank=True
    )
    cta_url = models.CharField(_("call-to-action URL"), max_length=1000, blank=True)
    exempt = models.BooleanField(
        _("phone-verification exempt"),
        default=False,
        help_text=_(
            "Delivered without condition 4 (SMS verification in 6 months); allowed only "
            "when no forbidden field is shown and the fields to mask are masked."
        ),
    )
    prescreen_flags = models.JSONField(
        _("pre-screen flags"), default=list, blank=True, editable=False
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, editable=False)
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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="lon_version_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="lon_version_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(scenario__in=Scenario.values), name="lon_version_scenario_valid"
            ),
            # Reservations: restaurants, offline services, events (docs/notifications.md#templates).
            models.CheckConstraint(
                condition=~Q(scenario__in=["reservation", "reservation_reminder"])
                | Q(service_type__in=["restaurant", "offline_service", "offline_event"]),
                name="lon_version_reservation_service",
            ),
            models.CheckConstraint(
                condition=~Q(scenario="outage") | ~Q(utility=""), name="lon_version_outage_utility"
            ),
            models.CheckConstraint(
                condition=~Q(scenario="points") | Q(promotional_points=False),
                name="lon_version_points_not_free",
            ),
            models.CheckConstraint(
                condition=Q(cta_url="") | Q(cta_url__startswith="https://"),
                name="lon_version_cta_https",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    @property
    def account(self):
        """The Official Account (``lbm.permissions`` resolves rights through it)."""
        return self.template.account

    @property
    def category(self) -> str:
        return SCENARIO_CATEGORY[Scenario(self.scenario)]


class TemplateVersionReview(TemplateVersion):
    class Meta:
        proxy = True
        verbose_name = _("template review")
        verbose_name_plural = _("review queue: notification templates")
