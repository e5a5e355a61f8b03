"""Admin forms. They collect input and show errors; the rules live in the services."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.models import Account, Organization
from lbm.permissions import Action

from . import importers, selectors
from .models import TYPES_BY_SOURCE, UPLOAD_TYPE_FOR_ID, Audience, IdType, UrlMatch

ORG_ID_TYPES = [
    (t, label) for t, label in IdType.choices if UPLOAD_TYPE_FOR_ID[t] in TYPES_BY_SOURCE[None]
]
MODES = [("new", _("Create a new audience")), ("add", _("Add to an existing audience"))]
# Which fields belong to which mode: the page shows only the chosen mode's (docs/audiences.md).
MODE_FIELDS = {"new": ("organization", "name", "description", "id_type"), "add": ("audience",)}


class AudienceUploadForm(forms.Form):
    """The upload page. Rules (rights, names, the file's content) are the services'; this form
    only collects what they need."""

    mode = forms.ChoiceField(
        label=_("Upload as"), choices=MODES, initial="new", widget=forms.RadioSelect
    )
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects, required=False
    )
    name = forms.CharField(label=_("New audience name"), max_length=120, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    audience = forms.ModelChoiceField(
        label=_("Existing audience"), queryset=Audience.objects, required=False
    )
    id_type = forms.ChoiceField(
        label=_("ID type"),
        choices=[("", _("Guess from the file's first lines"))] + ORG_ID_TYPES,
        required=False,
        help_text=_("Chosen for you from the file's first lines when you pick the file; check it."),
    )
    import_file = forms.FileField(label=_("File"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_file"].help_text = _(
            "TXT or CSV, one ID per line, UTF-8; at most %(max)s IDs. A file with any malformed "
            "or duplicated ID is rejected whole, with its lines named."
        ) % {"max": f"{importers.MAX_IDS:,}"}
        organizations = selectors.organizations_where(user, Action.CREATE_AUDIENCES)
        self.fields["organization"].queryset = organizations
        if len(organizations[:2]) == 1:  # the only organization: preselected
            self.fields["organization"].initial = organizations[0].pk
            self.fields["organization"].empty_label = None
        self.fields["audience"].queryset = (
            selectors.audiences_for(user, Action.CREATE_AUDIENCES)
            .filter(
                source_account__isnull=True,
                status=Audience.Status.READY,
                type__in=[UPLOAD_TYPE_FOR_ID[t] for t, _label in ORG_ID_TYPES],
            )
            .order_by("name")
        )

    @property
    def chosen_mode(self) -> str:
        value = self.data.get("mode") if self.is_bound else self.initial.get("mode")
        return value if value in MODE_FIELDS else "new"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned["mode"] == "add":
            if cleaned.get("audience") is None:
                raise ValidationError({"audience": gettext("Choose the audience to add to.")})
        else:
            if cleaned.get("organization") is None:
                raise ValidationError({"organization": gettext("Choose the organization.")})
            if not cleaned.get("name", "").strip():
                raise ValidationError({"name": gettext("An audience needs a name.")})
            from .exceptions import AudienceError

            try:  # the rule the services apply, shown next to the field
                cleaned["name"] = selectors.audience_check_name(
                    name=cleaned["name"], organization_id=cleaned["organization"].pk
                )
            except AudienceError as exc:
                raise ValidationError({"name": exc.message}) from exc
        return cleaned


class ShareForm(forms.Form):
    everywhere = forms.BooleanField(
        label=_("Share to every linked account"),
        required=False,
        help_text=_(
            "Accounts that a rule excludes (e.g. an Official Account for an audience "
            "under 100 members) are skipped and listed."
        ),
    )
    accounts = forms.ModelMultipleChoiceField(
        label=_("Linked accounts"),
        queryset=Account.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, organization_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        ids = set()
        for org_id in organization_ids:
            ids |= set(selectors.linked_account_ids(org_id))
        self.fields["accounts"].queryset = Account.objects.filter(pk__in=ids).order_by("name")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("everywhere") and not cleaned.get("accounts"):
            raise ValidationError(gettext("Choose accounts, or share to every linked account."))
        return cleaned


class CombineForm(forms.Form):
    name = forms.CharField(label=_("Name of the combined audience"), max_length=120)
    operator = forms.ChoiceField(label=_("Operator"), choices=Audience.Operator.choices)
    first = forms.ModelChoiceField(
        label=_("First audience (for AND NOT)"), queryset=Audience.objects.none()
    )

    def __init__(self, *args, audiences=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first"].queryset = (
            audiences if audiences is not None else Audience.objects.none()
        )


class RenameForm(forms.Form):
    name = forms.CharField(label=_("New name"), max_length=120)
    reason = forms.CharField(
        label=_("Reason (kept in the history)"), required=False, max_length=100
    )


class UnshareForm(forms.Form):
    accounts = forms.ModelMultipleChoiceField(
        label=_("Stop sharing with"),
        queryset=Account.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only the accounts the selected audiences are shared with are listed."),
    )

    def __init__(self, *args, audiences=None, **kwargs):
        super().__init__(*args, **kwargs)
        from .models import AudienceShare

        shared = (
            AudienceShare.objects.filter(audience__in=audiences)
            if audiences is not None
            else AudienceShare.objects.none()
        )
        self.fields["accounts"].queryset = Account.objects.filter(
            pk__in=shared.values("account_id")
        ).order_by("name")


class WebTrafficForm(forms.Form):
    name = forms.CharField(label=_("Audience name"), max_length=120)
    event = forms.CharField(
        label=_("Event"),
        max_length=64,
        required=False,
        help_text=_("PageView, Conversion or a custom event; empty for every event."),
    )
    retention_days = forms.IntegerField(
        label=_("Visitors of the last (days)"), min_value=1, max_value=180, initial=30
    )
    url_match = forms.ChoiceField(
        label=_("Page URL rule"), choices=UrlMatch.choices, required=False
    )
    url_value = forms.CharField(label=_("Page URL"), max_length=2000, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
