"""The official line-bot-sdk 3.27.0 client, unmodified, against this app on 127.0.0.1: only the
host changes (``Configuration(host=...)``, no trailing slash)."""

import pytest
from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi

from lbm import channels
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_token():
    org = factories.organization(state="approved")
    account = factories.account_for(org, premium_id="@bearfood")
    factories.linked(org, account)
    _row, token = channels.token_issue(account=account)
    return account, token


def messaging(live_server, token):
    return MessagingApi(ApiClient(Configuration(host=live_server.url, access_token=token)))


def test_sdk_reads_bot_info(live_server, sdk_token):
    account, token = sdk_token
    info = messaging(live_server, token).get_bot_info()
    assert info.basic_id == account.basic_id
    assert info.premium_id == "@bearfood"
    assert info.user_id == account.channel.bot_user_id


def test_sdk_sees_lines_401(live_server, sdk_token):
    with pytest.raises(ApiException) as error:
        messaging(live_server, "wrong-token").get_bot_info()
    assert error.value.status == 401
    assert "Authentication failed" in error.value.body
    assert error.value.headers["X-Line-Request-Id"]


def test_sdk_reads_quota_and_consumption_from_billing(live_server, sdk_token):
    from datetime import date

    from django.utils import timezone

    from tests.billing import factories as billing_factories

    account, token = sdk_token
    manager = factories.account_manager()
    billing_factories.subscription(
        plan="light", actor=manager, account=account, started_on=date(2025, 1, 1)
    )
    billing_factories.send(account.pk, 35, timezone.now())
    api = messaging(live_server, token)
    quota = api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 200)
    assert api.get_message_quota_consumption().total_usage == 35


def test_sdk_sees_no_limit_on_the_high_plan(live_server, sdk_token):
    from datetime import date

    from tests.billing import factories as billing_factories

    account, token = sdk_token
    billing_factories.subscription(
        plan="high", actor=factories.account_manager(), account=account, started_on=date(2025, 1, 1)
    )
    assert messaging(live_server, token).get_message_quota().type == "none"
