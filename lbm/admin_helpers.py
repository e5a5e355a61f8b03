"""What every app's admin shares (public: other apps import these names): rows and rights
through ``lbm.permissions`` (``ScopedAdminMixin``, ``StaffOnlyMixin``), running a service per
selected row (``run_service``), the confirmation page with a reason (``confirm_with_reason``),
the reviewers' queues (``ReviewQueueMixin``), and showing a service's refusal on the form that
was filled in.

A form does not repeat the rules a service checks (docs/organizations.md#forms-and-services):
the admin calls the service when the form is saved, and when the service refuses, the same
form is shown again with what was typed and the refusal next to the field it names
(``DomainError.field`` or a ``ValidationError`` with a field dict). Nothing of the refused
attempt is kept: Django's change form runs in one transaction, which the refusal rolls back.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import permissions
from .admin_gates import Gate
from .exceptions import DomainError
from .permissions import Action
from .workdays import taipei_today

Refusal = DomainError | ValidationError


def refusal_errors(exc: Refusal) -> dict[str | None, list[str]]:
    """A refusal as ``{field or None: [messages]}``."""
    if isinstance(exc, DomainError):
        if exc.errors:
            return {
                (None if name == "__all__" else name): list(problems)
                for name, problems in exc.errors.items()
            }
        messages_ = [exc.message, *exc.details]
        return {exc.field or None: messages_}
    if hasattr(exc, "error_dict"):
        return {
            (None if name == "__all__" else name): list(errors)
            for name, errors in exc.message_dict.items()
        }
    return {None: list(exc.messages)}


def show_refusal(form: forms.BaseForm, exc: Refusal, field_map: dict | None = None) -> None:
    """Put a service's refusal onto ``form``: next to the field it names (through
    ``field_map`` when the form calls it differently), or above the form when the field is not
    on it."""
    field_map = field_map or {}
    for name, problems in refusal_errors(exc).items():
        target = field_map.get(name, name)
        if target is not None and target not in form.fields:
            target = None
        if target is not None and target in getattr(form, "cleaned_data", {}):
            del form.cleaned_data[target]  # add_error would do it; keeps a second call safe
        form.add_error(target, problems)


class ServiceFormAdminMixin:
    """A ModelAdmin whose ``save_model`` calls services: a refusal re-shows the form.

    On a refused POST the change form view runs once more on the same request; this time the
    form's validation adds the refusal (so Django renders the form as invalid, with the input
    kept) and nothing is saved. ``refusal_field_map`` maps a service's field names onto the
    form's when they differ."""

    refusal_field_map: dict = {}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, ValidationError) as exc:
            if request.method != "POST" or getattr(request, "_lbm_refusal", None) is not None:
                # Not from a filled-in form (or refused again): say so, keep nothing.
                self.message_user(
                    request,
                    " ".join(m for ms in refusal_errors(exc).values() for m in ms),
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
            request._lbm_refusal = exc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        return self.refusable_form(request, super().get_form(request, obj, change, **kwargs))

    def refusable_form(self, request, form_class):
        """``form_class``, showing the refusal of the first pass if there was one (for an admin
        whose ``get_form`` builds its own class instead of calling ``super()``)."""
        refusal = getattr(request, "_lbm_refusal", None)
        if refusal is None:
            return form_class
        field_map = self.refusal_field_map

        class RefusedForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                show_refusal(self, refusal, field_map)

        RefusedForm.__name__ = form_class.__name__
        return RefusedForm


def run_service(modeladmin, request, queryset, call, done_message) -> None:
    """Apply a service to each selected row; report successes and each refusal by name."""
    done = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


def confirm_with_reason(
    modeladmin,
    request,
    queryset,
    *,
    action: str,
    title,
    question,
    reason_required: bool,
    call,
    done_message,
    reason_label=None,
    cancel_url: str | None = None,
    template="admin/lbm/confirm_action.html",
    consequences=(),
):
    """An intermediate page asking for confirmation and a reason, then the service per row.

    Used by list actions (``action`` is the action's name) and by the approve and reject
    buttons of a review page (``action`` empty: the page posts to itself). Returns ``None``
    once done, else the page."""
    form = ReasonForm(request.POST if request.POST.get("confirm") else None)
    if reason_label:
        form.fields["reason"].label = reason_label
    if request.POST.get("confirm"):
        if form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            if reason_required and not reason:
                form.add_error(
                    "reason", gettext("A written reason is required; the applicant will see it.")
                )
            else:
                run_service(
                    modeladmin, request, queryset, lambda obj: call(obj, reason), done_message
                )
                return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": queryset,
        "form": form,
        "action": action,
        "reason_required": reason_required,
        "consequences": list(consequences),
        "opts": modeladmin.model._meta,
        "cancel_url": cancel_url,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, template, context)


def confirm_rejection(modeladmin, request, queryset, *, call, done_message):
    """The reviewers' "Reject (with a reason)" list action, the same page for every review
    queue: a written reason is required and the applicant sees it; ``call(obj, reason)`` is
    the service."""
    return confirm_with_reason(
        modeladmin,
        request,
        queryset,
        action="reject",
        title=gettext("Reject"),
        question=gettext("The applicant will see this reason, edit and resubmit."),
        reason_required=True,
        call=call,
        done_message=done_message,
    )


class ReviewPageMixin:
    """Approve and reject buttons on a review queue's item page, each with a confirmation step:
    an optional note to approve, a required reason to reject, both recorded by the service and
    shown to the applicant. The queue's list actions stay for bulk work.

    A subclass defines ``review_decide(request, obj, decision, reason)`` (``decision`` is
    ``"approve"`` or ``"reject"``) and ``has_review_permission(request)``."""

    change_form_template = "admin/lbm/review_change_form.html"
    # The decide URL (docs/permissions.md#the-admin-gate): a reviewer of this queue, on an item
    # of the queue (404 otherwise, before any right).
    admin_gates = {"decide": Gate("review", obj="object_id")}
    approve_label = _("Approve")
    approve_question = _("Approve this item? A note is optional; the applicant sees it.")
    reject_question = _("The applicant will see this reason, edit and resubmit.")
    approve_reason_label = _("Note for the applicant (optional)")
    reject_reason_label = _("Reason for the applicant")

    def review_decide(self, request, obj, decision: str, reason: str):
        raise NotImplementedError

    def _review_url(self, name: str, *args) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def get_urls(self):
        from django.urls import path

        name = f"{self.opts.app_label}_{self.opts.model_name}_decide"
        return [
            path(
                "<path:object_id>/decide/<str:decision>/",
                self.admin_site.admin_view(self.decide_view),
                name=name,
            )
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_review_permission(request):
            extra_context["decide_urls"] = {
                decision: self._review_url("decide", object_id, decision)
                for decision in ("approve", "reject")
            }
            extra_context["approve_label"] = self.approve_label
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, decision):
        from django.core.exceptions import PermissionDenied

        if decision not in ("approve", "reject"):
            raise Http404
        if not self.has_review_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_queryset(request).filter(pk=object_id)
            found = queryset.exists()
        except (ValueError, ValidationError):
            found = False
        if not found:
            raise Http404
        change_url = self._review_url("change", object_id)
        approving = decision == "approve"
        response = confirm_with_reason(
            self,
            request,
            queryset,
            action="",
            title=self.approve_label if approving else gettext("Reject"),
            question=self.approve_question if approving else self.reject_question,
            reason_required=not approving,
            reason_label=self.approve_reason_label if approving else self.reject_reason_label,
            call=lambda obj, reason: self.review_decide(request, obj, decision, reason),
            done_message=gettext("%(count)d item(s) approved.")
            if approving
            else gettext("%(count)d item(s) rejected."),
            cancel_url=change_url,
        )
        if response is not None:
            return response
        if self.get_queryset(request).filter(pk=object_id).exists():
            return HttpResponseRedirect(change_url)  # refused (the message says why)
        return HttpResponseRedirect(self._review_url("changelist"))


class ScopedAdminMixin(ServiceFormAdminMixin):
    """Rows and rights through ``lbm.permissions``; unknown or foreign objects are a 404."""

    organization_path = "organization"

    def get_queryset(self, request):
        return permissions.visible(
            request.user, super().get_queryset(request), organization_path=self.organization_path
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        user = request.user
        if obj is None:
            return permissions.sees_everything(user, self.model) or permissions.can(
                user, Action.VIEW
            )
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects with a message; a customer probing another organization's ids must
        # learn nothing, so this is a plain 404.
        raise Http404

    def _require_visible(self, request, object_id) -> None:
        """404 before any permission check, so a 403 never confirms that an id exists."""
        try:
            exists = self.get_queryset(request).filter(pk=object_id).exists()
        except (ValueError, ValidationError):
            exists = False
        if not exists:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_visible(request, object_id)
        # A service's refusal re-shows the form with the input and the error by its field.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletions go through services, one at a time
        return actions


class StaffOnlyMixin:
    """Pages for account managers: visible to staff with the model's view permission."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if permissions.sees_everything(request.user, self.model) else qs.none()

    def has_module_permission(self, request):
        return permissions.sees_everything(request.user, self.model)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, self.model)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin:
    """Pages that show and never edit: no add, change or delete page for anyone (changes, where
    there are any, go through the page's own buttons and their services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewQueueMixin(ReadOnlyAdminMixin, ReviewPageMixin):
    """A LINE reviewers' queue: read-only, for holders of ``review_action`` only (a 404 for an
    item outside it), with approve and reject (reason required) as list actions and as buttons on
    each item's page (``ReviewPageMixin``). A subclass sets ``review_action``, ``get_queryset``
    (the queue, oldest first) and ``review_decide(request, obj, decision, reason)``; one with
    other actions (an application's stages) lists them in ``actions``."""

    review_action = Action.REVIEW_ORGANIZATIONS
    list_per_page = 50
    actions = ["approve", "reject"]

    def has_module_permission(self, request):
        return permissions.can(request.user, self.review_action)

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, self.review_action)

    def has_review_permission(self, request):
        return permissions.can(request.user, self.review_action)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda obj: self.review_decide(request, obj, "approve", ""),
            gettext("%(count)d item(s) approved."),
        )

    @admin.action(description=_("Reject (with a reason)"), permissions=["review"])
    def reject(self, request, queryset):
        return confirm_rejection(
            self,
            request,
            queryset,
            call=lambda obj, reason: self.review_decide(request, obj, "reject", reason),
            done_message=gettext("%(count)d item(s) rejected."),
        )


# --- Review deadlines (organizations and links) -----------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = _("review deadline")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("On time"))]

    def queryset(self, request, queryset):
        today = taipei_today()
        if self.value() == "yes":
            return queryset.filter(review_due_on__lt=today)
        if self.value() == "no":
            return queryset.filter(review_due_on__gte=today)
        return queryset


def due_badge(obj):
    """``obj.review_due_on``, marked when a pending item is past it."""
    if not obj.review_due_on:
        return "—"
    if obj.status == "pending" and obj.review_due_on < taipei_today():
        return format_html(
            '<span class="lbm-overdue" style="color:#ba2121;font-weight:bold">⚠ {} ({})</span>',
            obj.review_due_on,
            gettext("overdue"),
        )
    return str(obj.review_due_on)
