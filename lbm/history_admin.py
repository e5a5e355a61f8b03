"""The django-simple-history pages, read-only for everyone (docs/permissions.md).

Whoever may view an object may read its history; nobody reverts through it. A revert saves an old
version through ``save_model`` and so would step around every service and state machine, so a POST
on a version page is refused with a message and changes nothing. Another organization's version is
the same 404 as a missing one.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin without revert. Every history-keeping ModelAdmin inherits from it
    (tests/lbm/test_history_read_only.py checks the registry)."""

    def has_change_history_permission(self, request, obj=None):
        return False

    def revert_disabled(self, request, obj=None):
        return True

    def _history_url(self, object_id):
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_history",
                       args=[object_id])

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
            messages.error(request, gettext(
                "The history is read-only and cannot be reverted; change the object through "
                "its own page and actions."))
            return HttpResponseRedirect(self._history_url(object_id))
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)
        except PermissionDenied:
            raise Http404 from None

    def render_history_view(self, request, template, context, **kwargs):
        """A version's fields shown as text: no widget, so no choice list (a provider select
        would list every company's providers)."""
        adminform = context.get("adminform")
        if adminform is not None:
            # Every field read-only: rendered as the version's value, never as a widget.
            context["adminform"] = helpers.AdminForm(
                adminform.form, adminform.fieldsets, {}, readonly_fields=flatten_fieldsets(
                    adminform.fieldsets), model_admin=self)
        return super().render_history_view(request, template, context, **kwargs)

    def history_form_view_readable(self, request, object_id, version_id):
        """404 unless the version exists and the user may view its object."""
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        try:
            record = history.model.objects.get(
                **{self.model._meta.pk.attname: object_id, "history_id": version_id})
        except (history.model.DoesNotExist, ValueError, ValidationError):
            raise Http404 from None
        if not self.has_view_history_or_change_history_permission(request, record.instance):
            raise Http404
