"""Member invitations: e-mail-bound, single-use, 7 days; nobody is a member before accepting
(docs/organizations.md#invitations)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from lbm import services
from lbm.exceptions import NotAllowed
from lbm.invitations import InvalidInvitation
from lbm.models import Membership, MembershipInvitation
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def bear():
    return factories.organization(state="approved", name="熊大餐飲")


def _invite(org, email="Amy.Lin@Bear.example", role="operator", **kwargs):
    return services.membership_invite(
        organization_id=org.pk, actor=org.contact, email=email, role=role, **kwargs
    )


def _member(org, user):
    return Membership.objects.filter(organization=org, user=user).first()


def test_the_invitation_is_mailed_and_keeps_neither_token_nor_address(
    bear, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = _invite(bear)
    assert mailoutbox[0].to == ["amy.lin@bear.example"]
    assert f"/lbm/invitation/{token}/" in mailoutbox[0].body
    stored = str(list(MembershipInvitation.objects.values()))
    assert token not in stored and "amy.lin" not in stored.lower()
    assert invitation.email_hint == "a***@bear.example"
    lifetime = invitation.expires_at - invitation.created_at
    assert timedelta(days=7) - timedelta(seconds=5) <= lifetime <= timedelta(days=7)


def test_not_accepted_means_not_a_member(bear):
    amy = factories.UserFactory(email="amy.lin@bear.example")
    _invite(bear)
    assert _member(bear, amy) is None


def test_accepting_makes_the_invited_person_a_member_with_the_role(bear):
    amy = factories.UserFactory(email="AMY.LIN@bear.example")
    _invitation, token = _invite(bear, role="operator_data", is_company_member=False)
    membership = services.membership_invitation_accept(token=token, user=amy)
    assert (membership.role, membership.is_company_member) == ("operator_data", False)
    assert membership.history.latest().history_user == amy
    assert _member(bear, amy) == membership


def test_a_used_invitation_cannot_be_used_again(bear):
    amy = factories.UserFactory(email="amy.lin@bear.example")
    _invitation, token = _invite(bear)
    services.membership_invitation_accept(token=token, user=amy)
    with pytest.raises(InvalidInvitation, match="already been used"):
        services.membership_invitation_accept(token=token, user=amy)


def test_an_expired_invitation_is_refused(bear):
    amy = factories.UserFactory(email="amy.lin@bear.example")
    now = timezone.now()
    _invitation, token = _invite(bear, now=now)
    with pytest.raises(InvalidInvitation, match="expired on"):
        services.membership_invitation_accept(token=token, user=amy, now=now + timedelta(days=7))
    assert _member(bear, amy) is None
    services.membership_invitation_accept(
        token=token, user=amy, now=now + timedelta(days=6, hours=23)
    )
    assert _member(bear, amy).role == "operator"  # the invitation's role, a day before expiry


def test_the_wrong_person_cannot_accept(bear):
    other = factories.UserFactory(email="someone.else@bear.example")
    amy = factories.UserFactory(email="amy.lin@bear.example")
    _invitation, token = _invite(bear)
    with pytest.raises(InvalidInvitation, match="another e-mail address"):
        services.membership_invitation_accept(token=token, user=other)
    assert _member(bear, other) is None
    services.membership_invitation_accept(token=token, user=amy)  # still unused: it works


def test_unknown_and_withdrawn_invitations_are_refused(bear):
    amy = factories.UserFactory(email="amy.lin@bear.example")
    with pytest.raises(InvalidInvitation, match="does not exist"):
        services.membership_invitation_accept(token="nope", user=amy)
    invitation, token = _invite(bear)
    services.membership_invitation_revoke(invitation_id=invitation.pk, actor=bear.contact)
    with pytest.raises(InvalidInvitation, match="expired"):
        services.membership_invitation_accept(token=token, user=amy)


def test_only_admins_invite_and_staff_cannot_join(bear):
    operator = factories.member(bear, "operator")
    with pytest.raises(NotAllowed):
        services.membership_invite(
            organization_id=bear.pk, actor=operator, email="x@bear.example", role="viewer"
        )
    staff = factories.reviewer(email="staff@line.example")
    _invitation, token = _invite(bear, email="staff@line.example")
    with pytest.raises(services.DomainError, match="LINE staff"):
        services.membership_invitation_accept(token=token, user=staff)


def test_a_sign_in_can_be_created_only_for_the_invited_address(bear):
    _invitation, token = _invite(bear)
    with pytest.raises(InvalidInvitation, match="another e-mail address"):
        services.invited_user_register(
            token=token,
            username="amy",
            email="eve@bear.example",
            password="a-long-pass-phrase-2026",
        )
    user = services.invited_user_register(
        token=token,
        username="amy",
        email=" Amy.Lin@bear.example ",
        password="a-long-pass-phrase-2026",
    )
    assert user.email == "amy.lin@bear.example" and not user.is_staff
    assert _member(bear, user) is None  # a sign-in is not a membership: accept first


def test_the_whole_journey_in_the_pages(
    client, bear, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(bear.contact)
    assert client.get(reverse("admin:lbm_membership_add")).status_code == 403  # no username box
    form = client.get(reverse("admin:lbm_membershipinvitation_add")).context["adminform"].form
    assert form["organization"].value() == bear.pk  # the only organization, preselected
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lbm_membershipinvitation_add"),
            {
                "organization": bear.pk,
                "email": "amy.lin@bear.example",
                "role": "operator",
                "is_company_member": "on",
            },
            follow=True,
        )
    assert "a***@bear.example" in response.content.decode()
    link = next(line for line in mailoutbox[0].body.splitlines() if "/lbm/invitation/" in line)
    path = link.split("127.0.0.1:8000")[-1] if "127.0.0.1:8000" in link else link
    client.logout()
    landing = client.get(path)
    assert landing.status_code == 200 and "熊大餐飲" in landing.content.decode()
    register = client.post(
        path + "register/",
        {
            "email": "amy.lin@bear.example",
            "username": "amy",
            "password1": "a-long-pass-2026!x",
            "password2": "a-long-pass-2026!x",
        },
    )
    token = path.rstrip("/").split("/")[-1]
    accept = reverse("admin:lbm_membershipinvitation_accept", args=[token])
    assert register.status_code == 302 and register["Location"] == accept
    amy = get_user_model().objects.get(username="amy")
    assert _member(bear, amy) is None
    assert "熊大餐飲" in client.get(accept).content.decode()
    response = client.post(accept)
    assert response.status_code == 302
    assert _member(bear, amy).role == "operator"
    again = client.post(accept)
    assert again.status_code == 400 and "already been used" in again.content.decode()
