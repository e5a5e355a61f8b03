"""The django-simple-history pages, read-only for everyone (docs/permissions.md).

Whoever may view an object may read its history; nobody reverts through it. A revert saves an old
version through ``save_model`` and so would step around every service and state machine, so a POST
on a version page is refused with a message and changes nothing. Another organization's version is
the same 404 as a missing one.
"""

import dataclasses
import datetime
import decimal

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, numberformat, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

EMPTY = "—"
# simple-history's own bookkeeping columns, shown by the history templates under their own labels.
BOOKKEEPING = {
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user",
    "history_relation",
}


def _hidden(field) -> bool:
    """Keyed hashes and secrets are never shown, not even on the history pages."""
    return field.name.endswith(("_hash", "_secret")) or field.name in {"token", "password"}


def _grouped(value, places: int) -> str:
    """1,200 in both languages, as money and message counts read across the admin."""
    return numberformat.format(
        value, ".", decimal_pos=places, grouping=3, thousand_sep=",", force_grouping=True
    )


def _a_quantity(field) -> bool:
    """Counts and sizes read with thousands separators; identifiers and numbers in a series
    (LINE's audience ID, e-invoice numbers, a version, an HTTP status) do not."""
    name = field.name
    return not (
        field.is_relation
        or name.endswith(("_id", "number", "code"))
        or name in {"number", "version", "position", "rank", "status_code"}
    )


def display_value(field, value):
    """How ``value`` of model ``field`` reads to a person (docs/language.md#history-pages): the
    label of a choice, the name of a related object, yes/no, local time, grouped numbers;
    ``—`` for nothing (never simple-history's ``Deleted … (pk=None)``)."""
    if isinstance(value, DeletedObject):
        if value.pk is None:
            return EMPTY
        return gettext("%(model)s #%(pk)s (deleted)") % {
            "model": value.model._meta.verbose_name,
            "pk": value.pk,
        }
    if isinstance(value, list):  # many-to-many: simple-history's list of through-row dicts
        return ", ".join(str(v) for v in value) or EMPTY
    if value is None or value == "":
        return EMPTY
    if getattr(field, "flatchoices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField) or isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    if isinstance(value, decimal.Decimal):  # 1200.0000 reads 1,200; 0.2000 reads 0.2
        places = (
            0
            if value == value.to_integral_value()
            else max(0, -value.normalize().as_tuple().exponent)
        )
        return _grouped(value, places)
    if isinstance(value, int) and _a_quantity(field):
        return _grouped(value, 0)
    return value


class HistoryChanges(HistoricalRecordContextHelper):
    """The "before → after" of one history row, with verbose names and display values; hashes
    and secrets left out."""

    def context_for_delta_changes(self, delta):
        shown = [c for c in delta.changes if not _hidden(self.model._meta.get_field(c.field))]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=shown))

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if isinstance(field, models.ManyToManyField):
            value = super().prepare_delta_change_value(change, value)
        return display_value(field, value)


def version_fields(model, record):
    """(verbose name, display value) of every tracked field of one history row, in the model's
    field order."""
    rows = []
    tracked = {f.name for f in record.tracked_fields}
    for field in model._meta.concrete_fields:
        if (
            field.name not in tracked
            or field.name in BOOKKEEPING
            or field.primary_key
            or _hidden(field)
        ):
            continue
        if field.is_relation:
            try:
                value = getattr(record, field.name)
            except field.related_model.DoesNotExist:
                value = DeletedObject(field.related_model, getattr(record, field.attname))
            if value is None and getattr(record, field.attname) is not None:
                value = DeletedObject(field.related_model, getattr(record, field.attname))
        else:
            value = getattr(record, field.attname)
        rows.append((capfirst(field.verbose_name), display_value(field, value)))
    return rows


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin without revert. Every history-keeping ModelAdmin inherits from it
    (tests/lbm/test_history_read_only.py checks the registry)."""

    object_history_list_template = "simple_history/lbm_object_history_list.html"
    object_history_form_template = "simple_history/lbm_object_history_form.html"

    def has_change_history_permission(self, request, obj=None):
        return False

    def get_historical_record_context_helper(self, request, historical_record):
        return HistoryChanges(self.model, historical_record)

    def history_view_title(self, request, obj):
        return gettext("History of %(object)s") % {"object": obj}

    def revert_disabled(self, request, obj=None):
        return True

    def _history_url(self, object_id):
        opts = self.model._meta
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_history", args=[object_id]
        )

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        object_id = unquote(object_id)
        try:
            live = self.model._default_manager.filter(pk=object_id)
            # A live object the user may not see: 404 before anything else reads it.
            if live.exists() and not self.get_queryset(request).filter(pk=object_id).exists():
                raise Http404
        except (ValueError, ValidationError):
            raise Http404 from None
        if request.method == "POST":
            # Checked before the version is looked up, so a refusal says nothing about it.
            self.history_form_view_readable(request, object_id, version_id)
            messages.error(
                request,
                gettext(
                    "The history is read-only and cannot be reverted; change the object through "
                    "its own page and actions."
                ),
            )
            return HttpResponseRedirect(self._history_url(object_id))
        record = self.history_form_view_readable(request, object_id, version_id)
        return self.render_version(request, object_id, record, extra_context)

    def render_version(self, request, object_id, record, extra_context=None):
        """The version page: what the object held after that change, who made it, when and
        why; a page to read, with no form (docs/language.md#history-pages)."""
        request.current_app = self.admin_site.name
        opts = self.model._meta
        prefix = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}"
        instance = record.instance
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("%(object)s as of %(date)s")
            % {
                "object": instance,
                "date": formats.date_format(
                    timezone.localtime(record.history_date), "DATETIME_FORMAT"
                ),
            },
            "opts": opts,
            "app_label": opts.app_label,
            "object": instance,
            "object_id": object_id,
            "record": record,
            "fields": version_fields(self.model, record),
            "changelist_url": reverse(f"{prefix}_changelist"),
            "change_url": reverse(f"{prefix}_change", args=[object_id]),
            "history_url": self._history_url(object_id),
            **(extra_context or {}),
        }
        return render(request, self.object_history_form_template, context)

    def render_history_view(self, request, template, context, **kwargs):
        """A version's fields shown as text: no widget, so no choice list (a provider select
        would list every company's providers). In the list, an agency member's rows name the
        agency too (docs/organizations.md#agencies)."""
        page = context.get("page_obj")
        obj = context.get("object")
        if page is not None and obj is not None:
            from .permissions import _organization_of

            organization = _organization_of(obj)
            periods = agency_periods(organization.pk) if organization is not None else {}
            for record in page:
                for starts, ends, name in periods.get(record.history_user_id, ()):
                    if starts <= record.history_date < ends:
                        record.lbm_actor = gettext("%(member)s of %(agency)s") % {
                            "member": record.history_user.get_username(),
                            "agency": name,
                        }
                        break
        adminform = context.get("adminform")
        if adminform is not None:
            # Every field read-only: rendered as the version's value, never as a widget.
            context["adminform"] = helpers.AdminForm(
                adminform.form,
                adminform.fieldsets,
                {},
                readonly_fields=flatten_fieldsets(adminform.fieldsets),
                model_admin=self,
            )
        return super().render_history_view(request, template, context, **kwargs)

    def history_form_view_readable(self, request, object_id, version_id):
        """404 unless the version exists and the user may view its object."""
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        try:
            record = history.model.objects.get(
                **{self.model._meta.pk.attname: object_id, "history_id": version_id}
            )
        except (history.model.DoesNotExist, ValueError, ValidationError):
            raise Http404 from None
        if not self.has_view_history_or_change_history_permission(request, record.instance):
            raise Http404
        return record

    def history_view(self, request, object_id, extra_context=None):
        """The history list; another organization's object is the same 404 as a missing one
        (simple-history answers 403 for an object the user may not view)."""
        try:
            return super().history_view(request, object_id, extra_context)
        except PermissionDenied:
            raise Http404 from None


def actor_label(record, organization_id) -> str:
    """ "<member> of <agency>" for a history row written by a member of an agency working on the
    organization ``organization_id`` at the time; empty otherwise (lbm.agency.agency_of)."""
    from .agency import agency_of

    user = getattr(record, "history_user", None)
    found = agency_of(user, organization_id, getattr(record, "history_date", None))
    if found is None:
        return ""
    return gettext("%(member)s of %(agency)s") % {
        "member": user.get_username(),
        "agency": found.name,
    }


def agency_periods(organization_id) -> dict:
    """{user id: [(from, until, agency name)]} of the agency members who worked on the
    organization (one query for a whole history page)."""
    from .models import AgencyAccess, AgencyAssignment

    periods: dict = {}
    for assignment in (
        AgencyAssignment.objects.filter(access__client_id=organization_id)
        .exclude(access__status=AgencyAccess.Status.PENDING)
        .select_related("access__agency", "membership")
    ):
        access = assignment.access
        until = min(access.ends_at, access.ended_at) if access.ended_at else access.ends_at
        periods.setdefault(assignment.membership.user_id, []).append(
            (access.starts_at, until, access.agency.name)
        )
    return periods
