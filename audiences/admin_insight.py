"""Insight pages of an audience (size over time, reachable part per linked account) and the
overlap of two audiences (docs/audiences.md#insight). Admins and Operators only; no number
under 50 is shown exactly.

``AudienceInsightMixin`` adds the pages to ``AudienceAdmin``; the numbers come from
``audiences.selectors``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.permissions import Action

from . import selectors
from .models import MIN_REACHABLE_TO_SEND, MIN_SIZE_TO_SHARE_TO_OA, Audience, Usage


class OverlapForm(forms.Form):
    first = forms.ModelChoiceField(label=_("Audience A"), queryset=Audience.objects.none())
    second = forms.ModelChoiceField(label=_("Audience B"), queryset=Audience.objects.none())

    def __init__(self, *args, audiences=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first", "second"):
            self.fields[name].queryset = (
                audiences if audiences is not None else Audience.objects.none()
            )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("first"), cleaned.get("second")
        if first and second:
            if first.pk == second.pk:
                raise forms.ValidationError(gettext("Choose two different audiences."))
            if first.organization_id != second.organization_id:
                raise forms.ValidationError(
                    gettext("Both audiences must belong to the same organization.")
                )
        return cleaned


def _shown(number):
    """A count as insight shows it: the number, or "under 50"."""
    return gettext("under 50") if number is None else number


class AudienceInsightMixin:
    """Adds ``<id>/insight/`` and ``overlap/`` to the audience admin, and the action that opens
    the overlap of two selected audiences."""

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/insight/",
                self.admin_site.admin_view(self.insight_view),
                name="audiences_audience_insight",
            ),
            path(
                "overlap/",
                self.admin_site.admin_view(self.overlap_view),
                name="audiences_audience_overlap",
            ),
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_see_insight": permissions.can(request.user, Action.SHARE_AUDIENCES),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _insight_audiences(self, request):
        return selectors.audiences_for(request.user, Action.SHARE_AUDIENCES)

    def insight_view(self, request, object_id):
        audience = (
            self._insight_audiences(request)
            .select_related("organization")
            .filter(pk=object_id)
            .first()
        )
        if audience is None:
            if self.get_queryset(request).filter(pk=object_id).exists():
                raise PermissionDenied  # visible, but insight is for Admins and Operators
            raise Http404
        history = selectors.size_history(audience)
        reachable = selectors.reachable_by_account(request.user, audience)
        labels = dict(Usage.choices)
        for row in reachable:
            row["shown"] = _shown(row["reachable"])
            row["usage_labels"] = [str(labels[u]) for u in row["usages"]]
        chart = {
            "sizes": {
                "labels": [timezone.localtime(h["at"]).strftime("%Y-%m-%d %H:%M") for h in history],
                "values": [h["size"] for h in history],
                "label": gettext("Size"),
            },
            "reachable": {
                "labels": [row["account"].name for row in reachable],
                "values": [row["reachable"] for row in reachable],
                "label": gettext("Reachable (friends who have not blocked the account)"),
                "thresholds": [
                    {
                        "value": MIN_REACHABLE_TO_SEND,
                        "label": gettext("50: needed to send a message"),
                    },
                    {
                        "value": MIN_SIZE_TO_SHARE_TO_OA,
                        "label": gettext("100: needed to share to an Official Account"),
                    },
                ],
            },
            "under50": gettext("under 50"),
        }
        return TemplateResponse(
            request,
            "admin/audiences/insight.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Insight: %(name)s") % {"name": audience.name},
                "audience": audience,
                "size_shown": _shown(selectors.insight_number(audience.size)),
                "history": [{"at": h["at"], "shown": _shown(h["size"])} for h in history],
                "reachable": reachable,
                "chart": chart,
                "opts": self.model._meta,
                "overlap_url": reverse("admin:audiences_audience_overlap")
                + f"?first={audience.pk}",
            },
        )

    def overlap_view(self, request):
        if not permissions.can(request.user, Action.SHARE_AUDIENCES):
            raise PermissionDenied
        audiences = self._insight_audiences(request).order_by("name")
        data = request.GET if "second" in request.GET else None
        form = OverlapForm(data, audiences=audiences, initial={"first": request.GET.get("first")})
        result = None
        if form.is_bound and form.is_valid():
            first, second = form.cleaned_data["first"], form.cleaned_data["second"]
            counts = selectors.audience_overlap(request.user, first, second)
            result = {
                "first": first,
                "second": second,
                **{key: _shown(value) for key, value in counts.items()},
            }
        return TemplateResponse(
            request,
            "admin/audiences/overlap.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Overlap of two audiences"),
                "form": form,
                "result": result,
                "opts": self.model._meta,
            },
        )

    @admin.action(description=_("Overlap of two audiences"), permissions=["share"])
    def overlap(self, request, queryset):
        if queryset.count() != 2:
            self.message_user(request, gettext("Choose two audiences."), messages.ERROR)
            return None
        first, second = queryset.order_by("pk")
        return HttpResponseRedirect(
            reverse("admin:audiences_audience_overlap") + f"?first={first.pk}&second={second.pk}"
        )
