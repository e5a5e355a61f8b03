"""The demo data of ``make run``: every app has something real to show, a second run changes
nothing, and the README's line-bot-sdk push with the demo account's token gets delivered."""

import io
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command

from billing import periods, services
from billing.models import (
    CreditNote,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    Invoice,
    PlanChange,
    PromotionCode,
    UsageRecord,
)
from notifications.models import Application, Notice, TemplateVersion, WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True)]

SEEDS = ["seed_demo", "seed_billing", "seed_audiences", "seed_notifications"]
README = Path(__file__).resolve().parents[2] / "README.md"


def _seed():
    for name in SEEDS:
        call_command(name, stdout=io.StringIO())


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if not model._meta.proxy
    }


def _check_billing():
    last = periods.last_closed_period()
    assert Invoice.objects.filter(period=last).exists()
    assert services.bill_month(period=last).invoices_created == 0  # last month: a no-op
    high = UsageRecord.objects.filter(account__basic_id="@bbq2001a", period=last)
    assert sum(high.values_list("recipients", flat=True)) > 6_000 * 5  # deep in the tiers
    assert (
        len(
            set(
                UsageRecord.objects.filter(account__basic_id="@bbq2001a").values_list(
                    "period", flat=True
                )
            )
        )
        == 3
    )
    assert {"upgrade", "downgrade"} <= set(PlanChange.objects.values_list("kind", flat=True))
    assert CreditNote.objects.filter(kind="credit").exists()
    assert {"available", "registered", "redeemed"} <= set(
        PromotionCode.objects.values_list("status", flat=True)
    )
    contract = GovernmentContract.objects.get(plan__code="gov_a")
    assert GovernmentBlock.objects.filter(contract=contract, kind="sub_accounts").exists()
    kinds = set(GovernmentAccount.objects.filter(contract=contract).values_list("kind", flat=True))
    assert kinds == {"sub_accounts", "civil_servants"}


def _check_notifications():
    assert set(Application.objects.values_list("stage", flat=True)) == {
        "draft",
        "scenario_review",
        "contract",
        "testing",
        "live",
        "rejected",
        "suspended",
    }
    live = TemplateVersion.objects.filter(
        template__account__basic_id="@bea1234a", status="approved"
    )
    assert set(live.values_list("exempt", flat=True)) == {True, False}
    assert TemplateVersion.objects.filter(status="pending").exists()
    assert set(Notice.objects.values_list("state", flat=True)) == {"delivered", "pending", "failed"}
    webhooks = set(WebhookDelivery.objects.values_list("state", "attempts"))
    assert webhooks == {("sent", 1), ("sent", 2), ("failed", 1)}


def _readme_push(live_server, token: str) -> None:
    """Run the README's snippet as written, with this server's address and the token."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- demo-push -->\s*```python\n(.*?)```", text, re.S).group(1)
    assert 'TOKEN = "' in block and "http://127.0.0.1:8000" in block
    code = re.sub(r'TOKEN = ".*?"', f'TOKEN = "{token}"', block)
    code = code.replace("http://127.0.0.1:8000", live_server.url)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102


def test_the_demo_shows_every_app_is_idempotent_and_the_readme_push_is_delivered(live_server):
    _seed()
    first = _counts()
    _seed()
    assert _counts() == first  # a second run changes nothing, history rows included
    _check_billing()
    _check_notifications()

    out = io.StringIO()
    call_command("create_channel_token", "@bea1234a", stdout=out)
    before = set(Notice.objects.values_list("pk", flat=True))
    _readme_push(live_server, out.getvalue().strip())
    pushed = Notice.objects.exclude(pk__in=before).get()
    assert pushed.state == Notice.State.DELIVERED
    assert pushed.account.basic_id == "@bea1234a"
