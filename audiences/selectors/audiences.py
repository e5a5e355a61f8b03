"""Audiences a user sees, the organizations where they may act, why they may not upload, and
the name check."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.models import Organization
from lbm.permissions import Action

from ..exceptions import AudienceError
from ..models import Audience


def audience_check_name(
    *,
    name: str,
    organization_id: int | None,
    account_id: int | None = None,
    exclude_pk: int | None = None,
) -> str:
    """Return the trimmed name, or raise if it is empty, too long or already used by the owner
    (case-insensitively, as LINE compares audience names)."""
    name = (name or "").strip()
    if not name:
        raise AudienceError(_("An audience needs a name."))
    if len(name) > 120:
        raise AudienceError(_("An audience name has at most 120 characters."))
    owner = (
        {"source_account_id": account_id}
        if account_id
        else {"organization_id": organization_id, "source_account__isnull": True}
    )
    taken = Audience.objects.filter(name__iexact=name, **owner)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise AudienceError(
            _(
                "An audience named “%(name)s” already exists (names are compared "
                "without regard to case)."
            )
            % {"name": name}
        )
    return name


def audiences_for(user, action: Action = Action.VIEW) -> QuerySet[Audience]:
    return permissions.visible(user, Audience.objects.all(), action)


def organizations_where(user, action: Action) -> QuerySet[Organization]:
    return permissions.visible(
        user,
        Organization.objects.filter(status=Organization.Status.APPROVED),
        action,
        organization_path="pk",
    )


def upload_refusal(user) -> str:
    """Why ``user`` may not upload an audience, in words (the upload page and the audience list
    say it instead of a bare 403)."""
    from django.utils.translation import gettext as _

    from lbm.models import Membership

    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .exclude(organization__status=Organization.Status.DELETED)
    )
    if not memberships:
        return _("You are not a member of any organization, so you cannot upload audiences.")
    lines = []
    for membership in memberships:
        organization = membership.organization
        if organization.status != Organization.Status.APPROVED:
            lines.append(
                _("“%(org)s” is not approved yet; audiences can be uploaded once LINE approves it.")
                % {"org": organization.name}
            )
        elif Action.CREATE_AUDIENCES not in permissions.ROLE_ACTIONS[membership.role]:
            lines.append(
                _(
                    "Your role in “%(org)s” is “%(role)s”: you may look at its audiences "
                    "but not upload them. Ask one of its Admins to change your role if "
                    "you need to."
                )
                % {"org": organization.name, "role": membership.get_role_display()}
            )
    return " ".join(lines) or _("Your role does not allow uploading audiences.")
