"""factory_boy factories. Business numbers are generated with a valid checksum."""

import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from lbm import permissions, services, staff_groups
from lbm.models import Account, AccountLink, Membership, Organization, Provider
from lbm.validators import business_number_is_valid

_numbers = (
    f"{n:08d}" for n in itertools.count(10000000, 7) if business_number_is_valid(f"{n:08d}")
)


def next_business_number() -> str:
    return next(_numbers)


PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@company.example")
    password = factory.django.Password(PASSWORD)


def _group(name: str) -> Group:
    """A staff group, as migrate leaves it (post_migrate runs ``ensure_staff_groups``, also after
    a transactional test's flush): one look-up, not a refresh of both groups' permissions."""
    group = Group.objects.filter(name=name).first()
    return group if group is not None else staff_groups.ensure_staff_groups()[name]


def _staff(group: str, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(_group(group))
    return user


def _shared(username: str, group: str):
    user = get_user_model().objects.filter(username=username).first()
    return user or _staff(group, username=username)


def shared_reviewer():
    """The LINE reviewer who approves what the factories bring to a state (organizations,
    links): one user per test, not a new one per row. Tests about reviewers make their own."""
    return _shared("factory.reviewer", permissions.REVIEWERS_GROUP)


def shared_account_manager():
    """The LINE account manager who sets up what the factories need (subscriptions)."""
    return _shared("factory.accountmanager", permissions.ACCOUNT_MANAGERS_GROUP)


def reviewer(**kwargs):
    return _staff(permissions.REVIEWERS_GROUP, **kwargs)


def account_manager(**kwargs):
    return _staff(permissions.ACCOUNT_MANAGERS_GROUP, **kwargs)


def organization(*, admin=None, state="draft", verified=True, **fields) -> Organization:
    """An organization created through the services, brought to ``state``."""
    admin = admin or UserFactory()
    defaults = dict(
        name="台灣連線",
        company_name="台灣連線股份有限公司",
        business_number=next_business_number(),
        address="台北市信義區松高路 1 號",
        phone="02-2720-1234",
        industry="ecommerce",
    )
    defaults.update(fields)
    org = services.organization_create(actor=admin, organization=Organization(**defaults))
    if verified and org.contact_id:
        services.organization_verify_contact(token=services.contact_verification_token(org))
    if state in ("pending", "approved", "rejected"):
        services.organization_submit(organization_id=org.pk, actor=admin)
    if state in ("approved", "rejected"):
        services.organization_review(
            organization_id=org.pk,
            decision=state,
            actor=shared_reviewer(),
            reason="資料不符" if state == "rejected" else "",
        )
    if state == "deleted":
        services.organization_delete(organization_id=org.pk, actor=admin)
    org.refresh_from_db()
    return org


def member(org: Organization, role: str, **user_kwargs):
    admin = Membership.objects.filter(organization=org, role="admin").first().user
    user = UserFactory(**user_kwargs)
    services.membership_add(organization_id=org.pk, actor=admin, user=user, role=role)
    return user


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = "台灣連線：熊大餐廳"
    business_number = factory.LazyFunction(next_business_number)
    certified = True


_basic_ids = (
    f"@{a}{b}{c}{n:04d}{d}" for n in itertools.count(1000) for a, b, c, d in [("a", "b", "c", "d")]
)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    kind = Account.Kind.OFFICIAL_ACCOUNT
    name = factory.Sequence(lambda n: f"官方帳號 {n}")
    basic_id = factory.LazyFunction(lambda: next(_basic_ids))
    badge = Account.Badge.BLUE
    business_number = factory.LazyFunction(next_business_number)


def account_for(org: Organization, **kwargs) -> Account:
    """An eligible Official Account of ``org``'s company (same number, proper provider)."""
    provider = kwargs.pop("provider", None)
    if provider is None and kwargs.pop("with_provider", True):
        provider = ProviderFactory(
            name=f"{org.name}：熊大餐廳", business_number=org.business_number
        )
    return AccountFactory(business_number=org.business_number, provider=provider, **kwargs)


def linked(org: Organization, account: Account | None = None) -> AccountLink:
    account = account or account_for(org)
    admin = Membership.objects.filter(organization=org, role="admin").first().user
    link = services.link_request(
        organization_id=org.pk, actor=admin, account_identifier=account.display_id
    )
    return services.link_review(link_id=link.pk, decision="approved", actor=shared_reviewer())


def agency_access(
    client: Organization, agency: Organization, *, role="operator", accounts=(), members=(), days=30
):
    """Agency access granted by ``client``'s Admin and accepted by ``agency``'s Admin with
    ``members`` (users of the agency) assigned (lbm.agency)."""
    from datetime import timedelta

    from django.utils import timezone

    from lbm import agency as agency_services

    client_admin = Membership.objects.filter(organization=client, role="admin").first().user
    agency_admin = Membership.objects.filter(organization=agency, role="admin").first().user
    access = agency_services.access_grant(
        client_id=client.pk,
        agency_id=agency.pk,
        actor=client_admin,
        role=role,
        ends_at=timezone.now() + timedelta(days=days),
        account_ids=[a.pk for a in accounts],
    )
    membership_ids = list(
        Membership.objects.filter(organization=agency, user__in=members).values_list(
            "pk", flat=True
        )
    )
    return agency_services.access_accept(
        access_id=access.pk, actor=agency_admin, membership_ids=membership_ids
    )
