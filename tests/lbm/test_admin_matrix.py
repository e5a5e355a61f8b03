"""The permission matrix (docs/permissions.md#the-admin-gate): every URL pattern of the admin
site, enumerated when the tests run, for every role × own / another organization's / missing
object × GET and POST. A new URL is covered the day it is added: it must be declared (a gate)
and its outcomes must match ``EXPECTED`` below, which is written from the role table."""

import os
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client, RequestFactory
from django.test.utils import override_settings
from django.urls import URLResolver

from lbm.admin_site import undeclared_urls
from lbm.models import AccountLink
from tests.lbm import matrix_world
from tests.lbm.matrix_world import ROLES

MISSING = 987654321
PROJECT_APPS = ("lbm", "audiences", "billing", "notifications")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def admin_patterns():
    """(id, route, pattern) of every admin URL, read from the site now."""
    seen = {}
    for route, entry in _walk(admin.site.get_urls()):
        key = entry.name or route
        seen[key] = (route, entry)
    return seen


PATTERNS = admin_patterns()


def test_every_admin_url_is_declared():
    assert undeclared_urls(admin.site) == []


# --- The world, built once for the module and rolled back after it -------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from lbm.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with (
        django_db_blocker.unblock(),
        override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LANGUAGE_CODE="en",
            AXES_ENABLED=False,
        ),
    ):
        with transaction.atomic():
            built = matrix_world.build()
            built["superuser"] = matrix_world.factories.UserFactory(
                username="matrix_superuser", is_staff=True, is_superuser=True
            )
            yield built
            transaction.set_rollback(True)
    app.conf.task_always_eager = eager


def _owner(obj):
    """The organization a row belongs to, for picking own and foreign rows (None: global)."""
    from lbm.models import Account, Organization

    for path in (
        "organization",
        "client",
        "account",
        "template.account",
        "subscription.account",
        "channel.account",
        "notice.account",
        "contract.main_account",
        "invoice.customer",
        "customer",
        "audience.organization",
    ):
        target = obj
        for part in path.split("."):
            target = getattr(target, part, None)
        if target is None:
            continue
        if isinstance(target, Organization):
            return target.pk
        if isinstance(target, Account):
            link = AccountLink.objects.filter(account=target, status="approved").first()
            return link.organization_id if link else None
        if hasattr(target, "subscriptions"):  # a billing customer
            sub = target.subscriptions.first()
            return _owner(sub) if sub else None
    if isinstance(obj, Organization):
        return obj.pk
    if isinstance(obj, Account):
        link = AccountLink.objects.filter(account=obj, status__in=AccountLink.ACTIVE).first()
        return link.organization_id if link else None
    return None


def _rows(model, world, model_admin=None):
    """(own pk, foreign pk) of ``model``: rows of the first and of the second organization;
    for rows of no organization the first row and None. Rows are those the admin lists for a
    superuser (a review queue lists only what waits)."""
    own_org, other_org = world["own"]["org"].pk, world["other"]["org"].pk
    own = other = first = None
    rows = model._default_manager.all()
    if model_admin is not None and model_admin.model is model:
        request = RequestFactory().get("/admin/")
        request.user = world["superuser"]
        rows = model_admin.get_queryset(request)
    for obj in rows.order_by("pk")[:200]:
        first = first or obj
        owner = _owner(obj)
        if owner == own_org and own is None:
            own = obj
        elif owner == other_org and other is None:
            other = obj
    if own is None and other is None:
        return (first.pk if first else None), None
    return (own.pk if own else None), (other.pk if other else None)


ARG_MODELS = {
    "upload_id": "audiences.audienceupload",
    "account_id": "lbm.account",
    "invoice_id": "billing.invoice",
}


def _model_of(entry, arg):
    from django.apps import apps

    if arg in ARG_MODELS:
        return apps.get_model(ARG_MODELS[arg])
    model_admin = entry.callback.lbm_model_admin
    return model_admin.model


def _urls(route, entry, world):
    """{"own"|"other"|"missing": path} for the pattern (just {"-": path} without an object)."""
    gate = entry.callback.lbm_gate
    prefix = "/admin/"
    converters = getattr(entry.pattern, "converters", {})
    if gate.obj is None:
        if converters or "(?P" in route or "(" in route.replace("(?P<url>.*)$", ""):
            values = {name: "matrixtoken" for name in converters}
            path = route
            for name in converters:
                path = path.replace(
                    f"<{converters[name].__class__.__name__.lower()[:-9]}:{name}>", values[name]
                )
            path = path.replace("<str:token>", "matrixtoken")
            if entry.name == "app_list":
                path = "lbm/"
            return {"-": (prefix + path.replace("(?P<url>.*)$", "no-such-page/"), None)}
        model_admin = entry.callback.lbm_model_admin
        if model_admin is not None and entry.name and entry.name.endswith("_changelist"):
            # POST: the first action on an own row, then on another organization's row.
            own, other = _rows(model_admin.model, world, model_admin)
            return {
                label: (prefix + route, pk)
                for label, pk in (("own", own), ("other", other))
                if pk is not None
            }
        return {"-": (prefix + route, None)}
    model_admin = entry.callback.lbm_model_admin
    model = _model_of(entry, gate.obj if isinstance(gate.obj, str) else "object_id")
    own, other = _rows(model, world, model_admin)
    if model._meta.app_label in PROJECT_APPS:
        assert own or other, f"the matrix world has no {model._meta.label} row"
    result = {}
    for label, pk in (("own", own), ("other", other), ("missing", MISSING)):
        if pk is None:
            continue
        if isinstance(gate.obj, int):  # simple-history's version page: object, version
            history = model.history.model.objects.filter(**{model._meta.pk.attname: pk})
            version = history.order_by("history_id").values_list("history_id", flat=True)
            version = version.first()
            if version is None:
                if label != "missing":
                    continue  # a row with no history (e.g. seeded by a migration)
                version = 1
            path = route.replace("^([^/]+)/history/([^/]+)/$", f"{pk}/history/{version}/")
        else:
            path = route
            for name, converter in converters.items():
                kind = {"IntConverter": "int", "PathConverter": "path", "StringConverter": "str"}[
                    type(converter).__name__
                ]
                value = str(pk) if name == gate.obj else {"decision": "approve"}.get(name, "x")
                path = path.replace(f"<{kind}:{name}>", value)
        result[label] = (prefix + path, None)
    return result


def _snapshot(model):
    rows = list(model._default_manager.order_by("pk").values())
    history = getattr(model, "history", None)
    count = history.model.objects.count() if history is not None else None
    return rows, count


def _post_data(model_admin, pk):
    actions = list(model_admin.actions or []) if model_admin else []
    data = {"name": "matrix", "status": "draft", "reason": "matrix", "confirm": "yes", "index": "0"}
    if actions and pk is not None:
        data.update(action=actions[0], _selected_action=[str(pk)])
    return data


def outcome(client, method, path, model_admin, pk):
    response = getattr(client, method)(
        path, _post_data(model_admin, pk) if method == "post" else None
    )
    return response.status_code


# --- What the role table allows ----------------------------------------------------------------
# Roles by letter: V viewer ("User"), D operator (data only), O operator, A admin (the four
# customer roles, lbm.permissions.ROLE_ACTIONS), R LINE reviewer, M LINE account manager, X an
# Official Account administrator (billing self-service, no organization role).
LETTERS = {
    "viewer": "V",
    "operator_data": "D",
    "operator": "O",
    "admin": "A",
    "reviewer": "R",
    "account_manager": "M",
    "oa_admin": "X",
}
CUSTOMERS = "VDOA"


@dataclass(frozen=True)
class Rule:
    view: str  # who sees the organization's own rows (list, change page read-only, history)
    all: str = ""  # who also sees other organizations' rows (LINE staff)
    add: str = ""  # who opens the add page and may add
    change: str = ""  # who may save the change page
    delete: str = ""  # who may delete on the delete page
    act: str = ""  # who may change rows through the list's actions


RULES = {
    # lbm: organizations, members, links (docs/organizations.md#roles)
    "lbm.organization": Rule(
        view=CUSTOMERS + "RM", all="RM", add=CUSTOMERS + "X", change="A", act="A"
    ),
    # Members join by accepting an invitation (lbm.membershipinvitation): no add page.
    "lbm.membership": Rule(view=CUSTOMERS + "RM", all="RM", change="A", delete="A"),
    "lbm.account": Rule(view=CUSTOMERS + "RM", all="RM", add="M", change="M"),
    "lbm.provider": Rule(view="RM", add="M", change="M"),
    "lbm.channel": Rule(view="M", all="M", change="M", act="M"),
    "lbm.channelaccesstoken": Rule(view="M", all="M", change="M", act="M"),
    "lbm.membershipinvitation": Rule(view="A", add="A", act="A"),
    # Agency access: the client's (and the agency's) Admins; no add or change form: the grant,
    # accept, members, renew and end pages (FROZEN_TEXT) call lbm.agency.
    "lbm.agencyaccess": Rule(view="A"),
    "lbm.outboxmessage": Rule(view=""),  # superusers only (docs/reliability.md#the-outbox)
    "lbm.accountlink": Rule(view=CUSTOMERS + "RM", all="RM", add="A", act="A"),
    "lbm.organizationreview": Rule(view="R", all="R", act="R"),
    "lbm.accountlinkreview": Rule(view="R", all="R", act="R"),
    # audiences (docs/audiences.md)
    "audiences.audience": Rule(view=CUSTOMERS + "RM", all="RM", act="DOA"),
    "audiences.audiencemember": Rule(view=CUSTOMERS + "RM", all="RM"),
    "audiences.audienceupload": Rule(view=CUSTOMERS + "RM", all="RM"),
    "audiences.linetag": Rule(view=CUSTOMERS + "RM", all="RM", add="DOA", act="DOA"),
    "audiences.lineuser": Rule(view=""),
    "audiences.linksharing": Rule(view=CUSTOMERS + "RM", all="RM", act="OA"),
    # notifications (docs/notifications.md)
    "notifications.application": Rule(
        view=CUSTOMERS + "RM", all="RM", add="OA", change="OA", act="OA"
    ),
    "notifications.applicationreview": Rule(view="R", all="R", act="R"),
    "notifications.template": Rule(
        view=CUSTOMERS + "RM", all="RM", add="OA", change="OA", act="OA"
    ),
    "notifications.templateversionreview": Rule(view="R", all="R", act="R"),
    "notifications.notice": Rule(view=CUSTOMERS + "RM", all="RM"),
    "notifications.failednoticeexport": Rule(view="AR", all="R"),
    "notifications.webhookdelivery": Rule(view=CUSTOMERS + "RM", all="RM"),
    # billing: LINE account managers; administrators of an Official Account see their own
    "billing.accountadministrator": Rule(view="MX", all="M", add="M"),
    "billing.plan": Rule(view="M", all="M", change="M"),
    "billing.pricetier": Rule(view="M", all="M", add="M", change="M"),
    "billing.addonprice": Rule(view="M", all="M", add="M", change="M"),
    "billing.billingcustomer": Rule(view="M", all="M", add="M", change="M"),
    "billing.subscription": Rule(view="M", all="M", add="M", change="M", act="M"),
    "billing.planchange": Rule(view="M", all="M"),
    "billing.usagerecord": Rule(view="M", all="M"),
    "billing.promotioncode": Rule(view="M", all="M", add="M", act="M"),
    "billing.governmentcontract": Rule(view="M", all="M", add="M", act="M"),
    "billing.governmentaccount": Rule(view="M", all="M", act="M"),
    "billing.governmentrenewal": Rule(view="M", all="M", add="M", act="M"),
    "billing.governmentblock": Rule(view="M", all="M", add="M", act="M"),
    "billing.invoice": Rule(view="M", all="M", act="M"),
    "billing.creditnote": Rule(view="M", all="M", add="M"),
    "billing.billingrun": Rule(view="M", all="M"),
    "billing.einvoicetrack": Rule(view="M", all="M", add="M", act="M"),
    # Proposals waiting for a second approval: decided through the decide URL only.
    "billing.secondapproval": Rule(view="M", all="M"),
}
OTHER_LIBRARIES = Rule(view="")  # auth, axes, celery beat: superusers only
STANDARD = ("changelist", "add", "change", "object", "delete", "history", "simple_history")


def expected(kind, rule, letter, label, method) -> set[int]:
    """The statuses the role table allows for one request of a standard admin URL."""
    sees = letter in rule.view and (label in ("own", "-") or letter in rule.all)
    if label == "missing":
        return {404}
    if kind == "changelist":
        return ({200} if method == "get" else {200, 302}) if letter in rule.view else {403}
    if kind == "add":
        return {200, 302} if letter in rule.add else {403}
    if not sees:
        return {404}
    if kind == "change":
        return {200} if method == "get" else ({200, 302} if letter in rule.change else {403})
    if kind == "history":
        return {200}
    if kind == "simple_history":
        return {200} if method == "get" else {302}  # read-only: back to the list, a message
    if kind == "object":
        return {302}
    if kind == "delete":
        return ({200} if method == "get" else {302}) if letter in rule.delete else {403}
    raise AssertionError(kind)


def _frozen(text: str) -> dict[str, dict[str, int]]:
    """ "own-get=200:X,404:VDOARM; own-post=..." as {"own-get": {"X": 200, "V": 404, ...}}."""
    result = {}
    for cell in text.split("; "):
        name, outcomes = cell.split("=")
        result[name] = {
            letter: int(status)
            for status, letters in (o.split(":") for o in outcomes.split(","))
            for letter in letters
        }
    return result


# The outcome of each URL that is not one of the standard ones, per role letter (404:VDOA:
# those roles get 404). Written from the role table; a new URL needs its line here.
FROZEN_TEXT = {
    "(?P<url>.*)$": ("--get=404:VDOARMX; --post=404:VDOARMX"),
    "app_list": ("--get=200:VDOARM,404:X; --post=200:VDOARM,404:X"),
    "audiences_audience_import": ("--get=200:DOA,403:VRMX; --post=200:DOA,403:VRMX"),
    "audiences_audience_import_guess": ("--get=403:VDOARMX; --post=200:DOA,403:VRMX"),
    "audiences_audience_insight": (
        "own-get=200:OA,403:VDRM,404:X; own-post=200:OA,403:VDRM,404:X; "
        "other-get=403:RM,404:VDOAX; other-post=403:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "audiences_audience_overlap": ("--get=200:OA,403:VDRMX; --post=200:OA,403:VDRMX"),
    "audiences_audienceupload_confirm": (
        "own-get=302:VDOARM,404:X; own-post=302:VDOARM,404:X; "
        "other-get=302:RM,404:VDOAX; other-post=302:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_membershipinvitation_accept": (
        "--get=400:VDOARMX; --post=400:VDOARMX"  # the matrix's token is not an invitation
    ),
    # Agency access pages (docs/organizations.md#agencies): the client's Admin grants, renews and
    # ends; accepting and assigning are the agency's Admin's (not a role of the matrix world).
    "lbm_agencyaccess_accept": (
        "own-get=403:A,404:VDORMX; own-post=403:A,404:VDORMX; "
        "other-get=404:VDOARMX; other-post=404:VDOARMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_agencyaccess_end": (
        "own-get=200:A,404:VDORMX; own-post=302:A,404:VDORMX; "
        "other-get=404:VDOARMX; other-post=404:VDOARMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_agencyaccess_grant": ("--get=200:A,403:VDORMX; --post=200:A,403:VDORMX"),
    "lbm_agencyaccess_members": (
        "own-get=403:A,404:VDORMX; own-post=403:A,404:VDORMX; "
        "other-get=404:VDOARMX; other-post=404:VDOARMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_agencyaccess_renew": (
        "own-get=200:A,404:VDORMX; own-post=200:A,404:VDORMX; "
        "other-get=404:VDOARMX; other-post=404:VDOARMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_membership_rights": (  # the organization's Admins and LINE staff who see members
        "own-get=200:ARM,403:VDO,404:X; own-post=200:ARM,403:VDO,404:X; "
        "other-get=200:RM,404:VDOAX; other-post=200:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_organization_next_step": (
        "own-get=403:VDOARM,404:X; own-post=403:VDOARM,404:X; "
        "other-get=403:RM,404:VDOAX; other-post=403:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_organizationreview_decide": (
        "own-get=200:R,404:VDOAMX; own-post=302:R,404:VDOAMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "lbm_accountlinkreview_decide": (
        "own-get=200:R,404:VDOAMX; own-post=302:R,404:VDOAMX; "
        "other-get=200:R,404:VDOAMX; other-post=302:R,404:VDOAMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "notifications_applicationreview_decide": (
        "own-get=200:R,404:VDOAMX; own-post=302:R,404:VDOAMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "notifications_templateversionreview_decide": (
        "own-get=200:R,404:VDOAMX; own-post=302:R,404:VDOAMX; "
        "other-get=200:R,404:VDOAMX; other-post=302:R,404:VDOAMX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "audiences_audienceupload_progress": (
        "own-get=200:VDOARM,404:X; own-post=200:VDOARM,404:X; "
        "other-get=200:RM,404:VDOAX; other-post=200:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "audiences_audienceupload_status": (
        "own-get=200:VDOARM,404:X; own-post=200:VDOARM,404:X; "
        "other-get=200:RM,404:VDOAX; other-post=200:RM,404:VDOAX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "auth_user_password_change": (
        "own-get=404:VDOARMX; own-post=404:VDOARMX; missing-get=404:VDOARMX; "
        "missing-post=404:VDOARMX"
    ),
    "autocomplete": ("--get=403:VDOARMX; --post=405:VDOARMX"),
    "billing_secondapproval_decide": (
        "own-get=200:M,404:VDOARX; own-post=302:M,404:VDOARX; "
        "missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "billing_einvoicetrack_export": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "billing_governmentcontract_deletion_windows": (
        "--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"
    ),
    "billing_invoice_export": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "billing_invoice_run": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "billing_promotioncode_batch": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "billing_promotioncode_export": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "billing_selfservice": (
        "own-get=200:X,404:VDOARM; own-post=403:X,404:VDOARM; other-get=404:VDOARMX; "
        "other-post=404:VDOARMX; missing-get=404:VDOARMX; missing-post=404:VDOARMX"
    ),
    "billing_selfservice_accept": ("--get=200:VDOARMX; --post=302:VDOARMX"),
    "billing_selfservice_print": (
        "own-get=200:M,404:VDOARX; own-post=200:M,404:VDOARX; missing-get=404:VDOARMX; "
        "missing-post=404:VDOARMX"
    ),
    "index": ("--get=200:VDOARMX; --post=200:VDOARMX"),
    "jsi18n": ("--get=200:VDOARMX; --post=405:VDOARMX"),
    "lbm_account_export": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "lbm_account_import": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "lbm_account_process_import": ("--get=403:VDOARX,405:M; --post=200:M,403:VDOARX"),
    "lbm_provider_export": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "lbm_provider_import": ("--get=200:M,403:VDOARX; --post=200:M,403:VDOARX"),
    "lbm_provider_process_import": ("--get=403:VDOARX,405:M; --post=200:M,403:VDOARX"),
    "login": ("--get=302:VDOARMX; --post=200:VDOARMX"),
    "logout": ("--get=405:VDOARMX; --post=200:VDOARMX"),
    "password_change": ("--get=200:VDOARMX; --post=200:VDOARMX"),
    "password_change_done": ("--get=200:VDOARMX; --post=405:VDOARMX"),
    "view_on_site": ("--get=404:VDOARMX; --post=404:VDOARMX"),
}
FROZEN = {key: _frozen(text) for key, text in FROZEN_TEXT.items()}
# Who may change rows through a non-standard URL on any organization's row (a review queue holds
# every organization's items): the reviewers' approve and reject buttons.
FROZEN_WRITERS = {key: "R" for key in FROZEN_TEXT if key.endswith("review_decide")}
# The account managers' second approvals (docs/billing.md#two-person-approvals).
FROZEN_WRITERS["billing_secondapproval_decide"] = "M"
# The client's Admin ends an agency access (docs/organizations.md#agencies).
FROZEN_WRITERS["lbm_agencyaccess_end"] = "A"


def may_write(rule, letter, label) -> bool:
    if label == "other" and letter not in rule.all:
        return False
    return letter in rule.change + rule.add + rule.delete + rule.act


def _kind(key, route, model_admin):
    if model_admin is None:
        return key
    opts = model_admin.model._meta
    prefix = f"{opts.app_label}_{opts.model_name}_"
    if key.startswith(prefix):
        return key[len(prefix) :]
    if route.endswith("/<path:object_id>/") and route.count("/") == 3:
        return "object"
    return key


@pytest.mark.parametrize("key", sorted(PATTERNS), ids=str)
def test_matrix(world, key, db):
    route, entry = PATTERNS[key]
    urls = _urls(route, entry, world)
    model_admin = entry.callback.lbm_model_admin
    model = model_admin.model if model_admin else None
    found = {}
    project = model_admin is None or model_admin.model._meta.app_label in PROJECT_APPS
    for role in ROLES if project else ("admin", "reviewer", "account_manager"):
        client = Client()
        client.force_login(world["users"][role])
        for label, (path, pk) in urls.items():
            for method in ("get", "post"):
                with transaction.atomic():
                    before = _snapshot(model) if model is not None else None
                    status = outcome(client, method, path, model_admin, pk)
                    changed = model is not None and _snapshot(model) != before
                    transaction.set_rollback(True)
                found[(role, label, method)] = (status, changed)
    if os.environ.get("MATRIX_DISCOVER"):
        with open("/tmp/mx/discovered.txt", "a") as out:
            out.write(f"{key}\t{route}\t{found!r}\n")
    kind = _kind(key, route, model_admin)
    if model_admin is None or kind not in STANDARD:
        assert key in FROZEN, f"{key}: write down its outcomes per role in FROZEN_TEXT"
        wrong = {
            k: status
            for k, (status, _c) in found.items()
            if status != FROZEN[key][f"{k[1]}-{k[2]}"][LETTERS[k[0]]]
        }
        writers = FROZEN_WRITERS.get(key, "")
        wrong.update(
            {
                k: "rows changed"
                for k, (_s, changed) in found.items()
                if changed
                and (k[1] in ("other", "missing") or k[2] == "get")
                and not (LETTERS[k[0]] in writers and k[1] != "missing" and k[2] == "post")
            }
        )
        assert wrong == {}, f"{key}: outcomes differ from FROZEN: {wrong}"
        return
    label = model_admin.model._meta.label_lower
    rule = RULES.get(
        label, OTHER_LIBRARIES if model_admin.model._meta.app_label not in PROJECT_APPS else None
    )
    assert rule is not None, f"no RULES entry for {label}: say who may do what on it"
    wrong = {}
    for (role, obj_label, method), (status, changed) in found.items():
        letter = LETTERS[role]
        allowed = expected(kind, rule, letter, obj_label, method)
        if status not in allowed:
            wrong[(role, obj_label, method)] = f"{status}, expected {sorted(allowed)}"
        if changed and (method == "get" or not may_write(rule, letter, obj_label)):
            wrong[(role, obj_label, method)] = f"{status} and rows changed"
    assert wrong == {}, f"{key}: {wrong}"
