"""The contact person's e-mail verification: the signed link, sending it (through the outbox)
and marking the address verified when it is opened."""

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import permissions, pii
from ..exceptions import DomainError, InvalidVerificationLink
from ..models import Organization
from ..permissions import Action
from ..selectors import check_contact as _check_contact
from ._base import _record

VERIFICATION_SALT = "lbm.organization.contact-verification"


def contact_verification_token(organization: Organization) -> str:
    return signing.dumps(
        {"org": organization.pk, "email": pii.email_keyed_hash(organization.contact.email)},
        salt=VERIFICATION_SALT,
    )


def organization_send_contact_verification(*, organization_id: int, actor) -> None:
    """Queue the verification e-mail to the contact person: an outbox row in this transaction,
    published after commit (docs/reliability.md#the-outbox)."""
    from .. import outbox
    from ..tasks import send_contact_verification

    organization = Organization.objects.select_related("contact").get(pk=organization_id)
    permissions.require(actor, Action.CHANGE, organization)
    if organization.contact is None:
        raise DomainError(_("Choose a contact person first."))
    _check_contact(organization, organization.contact)
    outbox.enqueue(
        send_contact_verification,
        {"organization_id": organization.pk},
        reason="contact e-mail verification",
    )


def contact_verification_email_send(*, organization_id: int) -> bool:
    """Send the verification link to the contact's address. False if there is no contact."""
    organization = Organization.objects.select_related("contact").get(pk=organization_id)
    if organization.contact is None or not organization.contact.email:
        return False
    link = settings.SITE_URL + reverse(
        "lbm:verify-contact", args=[contact_verification_token(organization)]
    )
    days = settings.CONTACT_VERIFICATION_MAX_AGE.days
    send_mail(
        subject=_("Verify the contact e-mail address of %(name)s") % {"name": organization.name},
        message=_(
            "Please confirm that this address is the contact e-mail of %(name)s in LINE "
            "Business Manager by opening this link within %(days)s days:\n\n%(link)s\n"
        )
        % {"name": organization.name, "link": link, "days": days},
        from_email=None,
        recipient_list=[organization.contact.email],
    )
    return True


@transaction.atomic
def organization_verify_contact(*, token: str) -> Organization:
    """Mark the contact e-mail verified from a signed link; expired, altered or stale links are
    refused with a reason and change nothing."""
    max_age = settings.CONTACT_VERIFICATION_MAX_AGE
    try:
        payload = signing.loads(token, salt=VERIFICATION_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidVerificationLink(
            _("This verification link has expired. Ask for a new one from the organization page.")
        ) from exc
    except signing.BadSignature as exc:
        raise InvalidVerificationLink(
            _(
                "This verification link is not valid; it may have been "
                "altered or copied incompletely."
            )
        ) from exc
    organization = (
        Organization.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(pk=payload.get("org"))
        .first()
    )
    if organization is None or organization.is_deleted:
        raise InvalidVerificationLink(_("This organization no longer exists."))
    contact = organization.contact
    if (
        contact is None
        or not contact.email
        or (pii.email_keyed_hash(contact.email) != payload.get("email"))
    ):
        raise InvalidVerificationLink(
            _(
                "The contact person or address has changed since this "
                "link was sent; use the newest link."
            )
        )
    if organization.contact_email_verified_hash == payload["email"]:
        return organization
    organization.contact_email_verified_hash = payload["email"]
    organization.contact_email_verified_at = timezone.now()
    _record(
        organization,
        actor=contact,
        reason=_("Contact e-mail verified (%(email)s)") % {"email": pii.mask_email(contact.email)},
    )
    organization.save(
        update_fields=["contact_email_verified_hash", "contact_email_verified_at", "updated_at"]
    )
    return organization
