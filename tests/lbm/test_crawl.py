"""Every demo login opens every admin page (changelists, add forms, change and history pages of
the first rows) and gets exactly the answer the role table gives it: 200 where it may look, 403
on a list or add form it may not use, 404 on a row it may not see (docs/permissions.md)."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from lbm.management.commands.seed_demo import USERS
from lbm.models import Organization
from tests.lbm.test_admin_matrix import OTHER_LIBRARIES, PROJECT_APPS, RULES, _owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def _pages():
    """(model, kind, first row or None, url) of every page the crawl opens."""
    for model, _model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        yield model, "changelist", None, reverse(f"{name}_changelist")
        try:
            yield model, "add", None, reverse(f"{name}_add")
        except NoReverseMatch:
            pass
        for obj in model._default_manager.all()[:1]:
            for view in ("change", "history"):
                try:
                    yield model, view, obj, reverse(f"{name}_{view}", args=[obj.pk])
                except NoReverseMatch:
                    pass


def _urls():
    for _model, _kind, _obj, url in _pages():
        yield url


# Every kind of person, as a role letter of the matrix's role table (V viewer, D operator for
# data, O operator, A admin, R LINE reviewer, M LINE account manager) and the organization the
# role is held in. "S" is the superuser; "N" a signed-in user who belongs to no organization; "Z"
# the Admin of a deleted organization, who holds no right either but is told what happened: the
# organization list opens (showing nothing) and the organization's page answers 410
# (docs/organizations.md).
CRAWLERS = {
    "admin": ("S", None),
    "reviewer": ("R", None),
    "accountmanager": ("M", None),
    "bear_admin": ("A", "熊大餐飲集團"),
    "bear_operator": ("O", "熊大餐飲集團"),
    "bear_data": ("D", "熊大餐飲集團"),
    "bear_viewer": ("V", "熊大餐飲集團"),
    "sally_admin": ("A", "莎莉科技"),  # of a rejected organization: still a live one
    "cony_admin": ("Z", "可妮咖啡"),  # of the deleted organization
    "nobody": ("N", None),
}
assert set(CRAWLERS) - {"admin", "nobody"} <= {u[0] for u in USERS}
# django-axes' admins only list sign-in records: nobody adds one by hand, not even a superuser.
READ_ONLY_APPS = {"axes"}


def _rule(model):
    label = model._meta.label_lower
    if model._meta.app_label not in PROJECT_APPS:
        return OTHER_LIBRARIES
    assert label in RULES, f"no RULES entry for {label} in tests/lbm/test_admin_matrix.py"
    return RULES[label]


def expected_status(letter, organization, model, kind, obj) -> int:
    """The one status the role table gives ``letter`` (member of ``organization``) on a GET."""
    rule = _rule(model)
    if letter == "S":  # the superuser sees everything and adds wherever the admin has a form
        if kind == "add":
            library = model._meta.app_label not in PROJECT_APPS
            return (
                200
                if rule.add or (library and model._meta.app_label not in READ_ONLY_APPS)
                else 403
            )
        return 200
    former_member = letter == "Z" and model is Organization
    if kind == "changelist":
        return 200 if letter in rule.view or former_member else 403
    if kind == "add":
        # The matrix's X holds no organization role: what it may add, any signed-in customer
        # may (start an organization); LINE staff may not.
        return 200 if letter in rule.add or (letter in "NZ" and "X" in rule.add) else 403
    owner = _owner(obj)
    if former_member and kind == "change" and obj.pk == organization.pk:
        return 410
    own = owner is None or (organization is not None and owner == organization.pk)
    sees = letter in rule.view and (own or letter in rule.all)
    return 200 if sees else 404  # change and history pages


def _deleted_organization_pages():
    """The deleted organization's change and history pages: only its former members learn what
    happened (410); anyone else finds nothing, as for a missing row."""
    deleted = Organization.objects.get(status="deleted")
    for view in ("change", "history"):
        yield (
            Organization,
            view,
            deleted,
            reverse(f"admin:lbm_organization_{view}", args=[deleted.pk]),
        )


@pytest.mark.parametrize("username", sorted(CRAWLERS))
def test_every_admin_page_gives_each_demo_login_what_its_role_allows(client, demo, username):
    letter, org_name = CRAWLERS[username]
    User = get_user_model()
    user = (
        User.objects.create_user("nobody", "nobody@company.example")
        if username == "nobody"
        else User.objects.get(username=username)
    )
    organization = Organization.objects.get(name=org_name) if org_name else None
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    wrong, pages = {}, 0
    for model, kind, obj, url in [*_pages(), *_deleted_organization_pages()]:
        status = client.get(url).status_code
        want = expected_status(letter, organization, model, kind, obj)
        pages += 1
        if status != want:
            wrong[url] = f"{status}, expected {want} ({model._meta.label_lower} {kind})"
    assert pages > 100 and wrong == {}, (username, wrong)
