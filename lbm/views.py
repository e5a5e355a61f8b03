from django.shortcuts import render
from django.utils.translation import gettext as _

from . import services
from .exceptions import InvalidVerificationLink


def verify_contact(request, token: str):
    """The page the verification e-mail links to; it needs no sign-in."""
    try:
        organization = services.organization_verify_contact(token=token)
    except InvalidVerificationLink as exc:
        return render(
            request,
            "lbm/verify_contact.html",
            {"ok": False, "message": exc.message, "title": _("Verification failed")},
            status=400,
        )
    return render(
        request,
        "lbm/verify_contact.html",
        {"ok": True, "organization": organization, "title": _("Contact e-mail verified")},
    )


# --- Member invitations (docs/organizations.md#invitations) -----------------------------------


def _invitation_context(token: str) -> dict:
    from .invitations import InvalidInvitation

    try:
        invitation = services.membership_invitation_find(token=token)
    except InvalidInvitation as exc:
        return {"invitation": None, "message": exc.message}
    return {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter": invitation.created_by,
        "role": invitation.get_role_display(),
    }


def invitation(request, token: str):
    """The page the invitation e-mail links to (no sign-in needed): who invites you, to what,
    and the two ways on — sign in, or create a sign-in for the invited address."""
    from django.urls import reverse

    context = _invitation_context(token)
    accept = reverse("admin:lbm_membershipinvitation_accept", args=[token])
    context.update(
        title=_("Invitation"),
        accept_url=accept,
        login_url=reverse("admin:login") + "?next=" + accept,
        register_url=reverse("lbm:invitation-register", args=[token]),
    )
    return render(
        request, "lbm/invitation.html", context, status=200 if context["invitation"] else 400
    )


def invitation_register(request, token: str):
    """A sign-in for an invited address; then the person is signed in and asked to accept."""
    from django.contrib.auth import login
    from django.shortcuts import redirect

    from .exceptions import DomainError
    from .forms import InvitedRegistrationForm

    context = _invitation_context(token)
    context["title"] = _("Create a sign-in")
    if context["invitation"] is None:
        return render(request, "lbm/invitation.html", context, status=400)
    form = InvitedRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invited_user_register(
                token=token,
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("admin:lbm_membershipinvitation_accept", token=token)
    context["form"] = form
    return render(request, "lbm/invitation_register.html", context)
