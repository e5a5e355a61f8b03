"""Templates and their versions: create, revise, submit, review (docs/notifications.md)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions, reviews
from lbm.exceptions import InvalidTransition
from lbm.models import Account
from lbm.permissions import Action

from .. import rendering
from ..exceptions import TemplateRefused
from ..models import Template, TemplateVersion
from .common import _lock, _record

# --- Templates --------------------------------------------------------------------------------


def _content(data: dict) -> rendering.Content:
    unknown = set(data) - set(rendering.CONTENT_FIELDS)
    if unknown:
        raise TemplateRefused(
            _("Unknown template attributes: %(names)s.") % {"names": ", ".join(sorted(unknown))}
        )
    defaults = {
        "placeholders": [],
        "fields": [],
        "cta_label": "",
        "cta_kind": "",
        "cta_url": "",
        "exempt": False,
        "service_type": "",
        "utility": "",
        "promotional_points": False,
        "title": "",
        "body": "",
        "scenario": "",
    }
    defaults.update({k: v for k, v in data.items() if v is not None})
    for key in ("title", "body", "cta_label", "cta_url"):
        defaults[key] = (defaults[key] or "").strip()
    content = rendering.Content(**defaults)
    problems = rendering.content_problems(content)
    if problems:
        raise TemplateRefused(
            _("This template breaks the notification-message rules."), details=problems
        )
    return content


def _new_version(
    template: Template, content: rendering.Content, number: int, actor
) -> TemplateVersion:
    version = TemplateVersion(
        template=template,
        number=number,
        created_by=actor,
        prescreen_flags=rendering.prescreen(content),
        **{name: getattr(content, name) for name in rendering.CONTENT_FIELDS},
    )
    _record(version, actor=actor, reason=_("Version %(number)d created") % {"number": number})
    version.save()
    return version


@transaction.atomic
def template_create(*, actor, account_id: int, name: str, content: dict) -> TemplateVersion:
    """A new template of an Official Account with its first version (a draft); returns the
    version. ``content`` holds the names of ``rendering.CONTENT_FIELDS``."""
    account = Account.objects.get(pk=account_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, account)
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        raise TemplateRefused(_("Only a LINE Official Account can send notification messages."))
    name = (name or "").strip()
    if not name:
        raise TemplateRefused(_("A template needs a name."))
    if Template.objects.filter(account=account, name=name).exists():
        raise TemplateRefused(
            _("This Official Account already has a template named “%(name)s”.") % {"name": name}
        )
    parsed = _content(content)
    template = Template(account=account, name=name, created_by=actor)
    _record(template, actor=actor, reason=_("Template created"))
    template.save()
    return _new_version(template, parsed, 1, actor)


@transaction.atomic
def template_revise(*, actor, template_id: int, content: dict) -> TemplateVersion:
    """Any change is a new version (a draft, to be reviewed again). Returns the latest version
    unchanged when ``content`` equals it."""
    template = _lock(Template.objects).get(pk=template_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, template)
    latest = template.versions.order_by("-number").first()
    base = {name: getattr(latest, name) for name in rendering.CONTENT_FIELDS}
    base.update(content)
    parsed = _content(base)
    if rendering.Content.of(latest) == parsed:
        return latest
    return _new_version(template, parsed, latest.number + 1, actor)


@transaction.atomic
def template_submit(*, actor, version_id: int) -> TemplateVersion:
    """Send a draft version to LINE's review; the pre-screen runs again for the reviewer."""
    version = _lock(TemplateVersion.objects).select_related("template").get(pk=version_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, version.template)
    if version.status == TemplateVersion.Status.PENDING:
        return version
    if version.status != TemplateVersion.Status.DRAFT:
        raise TemplateRefused(
            _("Only a draft version can be submitted; change the template to make a new version.")
        )
    version.status = TemplateVersion.Status.PENDING
    version.submitted_at = timezone.now()
    version.prescreen_flags = rendering.prescreen(rendering.Content.of(version))
    _record(version, actor=actor, reason=_("Submitted for review"))
    version.save(update_fields=["status", "submitted_at", "prescreen_flags"])
    return version


@transaction.atomic
def template_review(*, actor, version_id: int, decision: str, reason: str = "") -> TemplateVersion:
    """A LINE reviewer approves or rejects (with a reason) a pending version. Approving
    supersedes the template's previously approved version."""
    permissions.require(actor, Action.REVIEW_NOTIFICATIONS)
    version = _lock(TemplateVersion.objects).get(pk=version_id)
    status = TemplateVersion.Status
    reason = reviews.review_reason(decision, reason, error=TemplateRefused)
    if version.status == decision:
        return version
    if version.status != status.PENDING:
        raise InvalidTransition(version.get_status_display(), str(status(decision).label))
    reviews.require_reason(decision, reason, error=TemplateRefused)
    if decision == status.APPROVED:
        content = rendering.Content.of(version)
        problems = rendering.content_problems(content)
        undeclared = [
            f["text"] for f in rendering.prescreen(content) if f["kind"] == rendering.UNDECLARED
        ]
        if undeclared:
            problems.append(
                _("Placeholders not declared: %(names)s.")
                % {"names": ", ".join(dict.fromkeys(undeclared))}
            )
        if problems:
            raise TemplateRefused(_("This version cannot be approved."), details=problems)
        for old in _lock(TemplateVersion.objects).filter(
            template_id=version.template_id, status=status.APPROVED
        ):
            old.status = status.SUPERSEDED
            _record(
                old,
                actor=actor,
                reason=_("Superseded by version %(number)d") % {"number": version.number},
            )
            old.save(update_fields=["status"])
    reviews.review_record(
        version, decision=decision, reason=reason, actor=actor, update_fields=()
    )  # a version has no updated_at
    return version
