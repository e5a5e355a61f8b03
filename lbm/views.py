from django.shortcuts import render
from django.utils.translation import gettext as _

from . import services
from .exceptions import InvalidVerificationLink


def verify_contact(request, token: str):
    """The page the verification e-mail links to; it needs no sign-in."""
    try:
        organization = services.organization_verify_contact(token=token)
    except InvalidVerificationLink as exc:
        return render(request, "lbm/verify_contact.html",
                      {"ok": False, "message": exc.message, "title": _("Verification failed")},
                      status=400)
    return render(request, "lbm/verify_contact.html",
                  {"ok": True, "organization": organization,
                   "title": _("Contact e-mail verified")})
