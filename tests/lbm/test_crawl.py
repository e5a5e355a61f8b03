"""No 500s: every demo login opens every admin page it can reach (changelists, add forms,
change and history pages of the first rows) and gets an answer, never an error."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from lbm.management.commands.seed_demo import USERS

pytestmark = pytest.mark.django_db

ALLOWED = {200, 302, 403, 404}


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def _urls():
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        yield reverse("admin:%s_%s_changelist" % info)
        try:
            yield reverse("admin:%s_%s_add" % info)
        except NoReverseMatch:
            pass
        for obj in model._default_manager.all()[:1]:
            for view in ("change", "history"):
                try:
                    yield reverse(f"admin:%s_%s_{view}" % info, args=[obj.pk])
                except NoReverseMatch:
                    pass


# Every kind of person: both staff groups, each customer role, an Admin of a rejected and of a
# deleted organization, the superuser.
CRAWLERS = ["reviewer", "accountmanager", "bear_admin", "bear_operator", "bear_data",
            "bear_viewer", "sally_admin", "cony_admin", "admin"]
assert set(CRAWLERS) - {"admin"} <= {u[0] for u in USERS}


@pytest.mark.parametrize("username", CRAWLERS)
def test_every_admin_page_answers_for_every_demo_login(client, demo, username):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=username))
    assert client.get("/admin/").status_code == 200
    for url in _urls():
        status = client.get(url).status_code
        assert status in ALLOWED, (username, url, status)
