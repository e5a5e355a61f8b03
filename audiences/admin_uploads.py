"""Uploading an audience (docs/audiences.md#uploading): the upload form on the audience list
(``AudienceUploadMixin``, part of ``AudienceAdmin``), then the upload's own pages
(``AudienceUploadAdmin``): the check's summary, the confirmation, and the import's progress.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_gates import Gate
from lbm.admin_helpers import ReadOnlyAdminMixin, ScopedAdminMixin
from lbm.exceptions import DomainError
from lbm.permissions import Action

from . import selectors, services
from .admin_common import _can
from .exceptions import IdTypeNotGuessed
from .forms import MODE_FIELDS, AudienceUploadForm
from .models import AudienceUpload, IdType


def _queue_warning(modeladmin, request, upload) -> None:
    """Say so when the broker refused an upload's task: it is recorded, and the outbox sweep
    publishes it when the queue is back (docs/reliability.md#the-outbox)."""
    if getattr(upload, "queued", None) is not None and upload.queued.published is False:
        if upload.status == AudienceUpload.Status.CHECKING:
            text = gettext(
                "The queue is unreachable; the file will be checked when it is back. "
                "The upload is recorded."
            )
        else:
            text = gettext(
                "The queue is unreachable; the import will start when it is back. "
                "The upload is recorded."
            )
        modeladmin.message_user(request, text, messages.WARNING)


# --- The upload form (on the audience list) ---------------------------------------------------


class AudienceUploadMixin:
    """``AudienceAdmin``'s upload form and ID-type guess, and the changelist's upload button.
    Their gates (``import``, ``import_guess``) are declared on ``AudienceAdmin``."""

    # --- Upload: the form, then the summary and the confirmation (docs/audiences.md#uploading)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.upload_view), name="audiences_audience_import"),
            path("import/guess/", view(self.guess_view), name="audiences_audience_import_guess"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        context = {
            "may_upload": self.has_import_permission(request),
            "upload_refusal": None
            if self.has_import_permission(request)
            else selectors.upload_refusal(request.user),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def upload_view(self, request):
        """The upload page. A person whose role may not upload sees why, not a bare 403."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload an audience"),
        }
        if not self.has_import_permission(request):
            context["refusal"] = selectors.upload_refusal(request.user)
            return TemplateResponse(
                request, "admin/audiences/upload_form.html", context, status=403
            )
        initial = {
            key: request.GET[key]
            for key in ("mode", "organization", "name", "audience")
            if request.GET.get(key)
        }
        form = AudienceUploadForm(
            request.POST or None, request.FILES or None, user=request.user, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            adding = data["mode"] == "add"
            try:
                upload = services.upload_check(
                    actor=request.user,
                    file=data["import_file"],
                    id_type="" if adding else data["id_type"],
                    organization_id=None if adding else data["organization"].pk,
                    name="" if adding else data["name"],
                    description="" if adding else data["description"],
                    audience_id=data["audience"].pk if adding else None,
                )
            except IdTypeNotGuessed as exc:
                form.add_error("id_type", exc.message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                # After commit (the outbox publish runs first): the upload is recorded either
                # way; if the broker refused it, say so (docs/reliability.md#the-outbox).
                transaction.on_commit(lambda: _queue_warning(self, request, upload))
                return HttpResponseRedirect(
                    reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
                )
        context.update(
            form=form,
            mode=form.chosen_mode,
            mode_fields=MODE_FIELDS,
            guess_url=reverse("admin:audiences_audience_import_guess"),
        )
        return TemplateResponse(request, "admin/audiences/upload_form.html", context)

    def guess_view(self, request):
        """The ID type of a file's first lines, for the page to preselect (nothing is kept)."""
        from . import preview

        if request.method != "POST" or not self.has_import_permission(request):
            raise PermissionDenied
        id_type = preview.guess_id_type(request.POST.get("head", "")[: preview.HEAD_BYTES])
        label = dict(IdType.choices).get(id_type) if id_type else None
        if id_type:
            message = gettext(
                "From the file's first lines this looks like: %(type)s. Check it before uploading."
            ) % {"type": label}
        else:
            message = gettext(
                "The file's first lines do not show which kind of ID it holds; choose the ID type."
            )
        return JsonResponse(
            {"id_type": id_type or "", "label": str(label or ""), "message": message}
        )

    def has_import_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)


# --- Uploads and their progress bar -----------------------------------------------------------


@admin.register(AudienceUpload)
class AudienceUploadAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "original_name",
        "organization",
        "target",
        "id_type",
        "status",
        "progress",
        "id_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "id_type")
    list_select_related = ("organization", "audience", "created_by")
    readonly_fields = (
        "organization",
        "audience",
        "name",
        "id_type",
        "original_name",
        "file_size",
        "status",
        "progress",
        "id_count",
        "added_count",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields

    @admin.display(description=_("audience"))
    def target(self, obj):
        return obj.audience or obj.name

    admin_gates = {
        "progress": Gate("view", obj="upload_id"),
        "status": Gate("view", obj="upload_id"),
        "confirm": Gate("view", obj="upload_id"),
    }  # the service checks the role

    def get_urls(self):
        view = self.admin_site.admin_view
        urls = [
            path(
                "<int:upload_id>/progress/",
                view(self.progress_view),
                name="audiences_audienceupload_progress",
            ),
            path(
                "<int:upload_id>/status/",
                view(self.status_view),
                name="audiences_audienceupload_status",
            ),
            path(
                "<int:upload_id>/confirm/",
                view(self.confirm_view),
                name="audiences_audienceupload_confirm",
            ),
        ]
        return urls + super().get_urls()

    def _upload(self, request, upload_id):
        return get_object_or_404(
            self.get_queryset(request).select_related("audience"), pk=upload_id
        )

    @staticmethod
    def again_url(upload) -> str:
        """The upload form again, with what this upload was given (never the file)."""
        from urllib.parse import urlencode

        if upload.audience_id:
            query = {"mode": "add", "audience": upload.audience_id}
        else:
            query = {"mode": "new", "organization": upload.organization_id, "name": upload.name}
        return reverse("admin:audiences_audience_import") + "?" + urlencode(query)

    def progress_view(self, request, upload_id):
        """One page for an upload's whole life: checking, the summary to confirm, the import's
        progress, and its end (with the lines of a refused file and a way to upload again)."""
        upload = self._upload(request, upload_id)
        state = selectors.upload_status(upload)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Audience upload"),
            "upload": upload,
            "state": state,
            "opts": self.model._meta,
            "status_url": reverse("admin:audiences_audienceupload_status", args=[upload.pk]),
            "confirm_url": reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]),
            "again_url": self.again_url(upload),
            "error_lines": [line for line in upload.error.splitlines() if line],
        }
        shown = {"id_count": f"{upload.id_count:,}", "added_count": f"{upload.added_count:,}"}
        if upload.status == AudienceUpload.Status.AWAITING:
            summary = context["summary"] = selectors.upload_summary(upload)
            shown.update({key: f"{summary[key]:,}" for key in ("count", "new", "existing")})
        context["shown"] = shown
        return TemplateResponse(request, "admin/audiences/upload_progress.html", context)

    def confirm_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
            )
        try:
            if request.POST.get("decision") == "cancel":
                services.upload_cancel(upload_id=upload.pk, actor=request.user)
                self.message_user(
                    request, gettext("The upload was cancelled; nothing was stored."), messages.INFO
                )
                return HttpResponseRedirect(self.again_url(upload))
            confirmed = services.upload_confirm(upload_id=upload.pk, actor=request.user)
            transaction.on_commit(lambda: _queue_warning(self, request, confirmed))
        except (DomainError, PermissionDenied) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
        )

    def status_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        state = selectors.upload_status(upload)
        if upload.audience_id:
            state["audience_url"] = reverse(
                "admin:audiences_audience_change", args=[upload.audience_id]
            )
        return JsonResponse(state)
