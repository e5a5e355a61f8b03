import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse

from lbm import channels
from lbm.exceptions import DomainError, NotAllowed
from lbm.models import ChannelAccessToken
from tests import factories

pytestmark = pytest.mark.django_db


def test_token_is_shown_once_and_stored_only_as_a_hash():
    account = factories.AccountFactory()
    row, token = channels.token_issue(account=account, actor=factories.account_manager())
    assert token not in row.token_hash and len(token) >= 48
    assert channels.channel_for_token(token) == account.channel
    assert not ChannelAccessToken.objects.filter(token_hash=token).exists()


def test_revoked_or_unknown_tokens_find_no_channel():
    manager = factories.account_manager()
    row, token = channels.token_issue(account=factories.AccountFactory(), actor=manager)
    channels.token_revoke(token_id=row.pk, actor=manager)
    assert channels.channel_for_token(token) is None
    assert channels.channel_for_token("not-a-token") is None
    assert channels.channel_for_token("") is None


def test_only_account_managers_issue_tokens():
    for actor in (factories.reviewer(), factories.organization(state="approved").contact):
        with pytest.raises(NotAllowed):
            channels.token_issue(account=factories.AccountFactory(), actor=actor)


def test_ad_accounts_have_no_channel():
    lap = factories.AccountFactory(kind="lap", basic_id=None, external_id="LAP-9")
    with pytest.raises(DomainError, match="Only an Official Account"):
        channels.channel_ensure(account=lap)


def test_create_channel_token_command_prints_a_working_token(capsys):
    account = factories.AccountFactory(premium_id="@bearfood")
    call_command("create_channel_token", "@bearfood")
    token = capsys.readouterr().out.strip()
    assert channels.channel_for_token(token).account == account


def test_admin_issues_and_revokes_tokens(client):
    manager = factories.account_manager()
    account = factories.AccountFactory()
    channel = channels.channel_ensure(account=account)
    client.force_login(manager)
    response = client.post(
        reverse("admin:lbm_channel_changelist"),
        {"action": "issue_token", ACTION_CHECKBOX_NAME: [channel.pk]},
        follow=True,
    )
    message = next(str(m) for m in response.context["messages"])
    token = message.rsplit(": ", 1)[1]
    assert channels.channel_for_token(token) == channel
    row = ChannelAccessToken.objects.get()
    client.post(
        reverse("admin:lbm_channelaccesstoken_changelist"),
        {"action": "revoke", ACTION_CHECKBOX_NAME: [row.pk]},
    )
    assert channels.channel_for_token(token) is None
    assert (
        token
        not in client.get(reverse("admin:lbm_channel_change", args=[channel.pk])).content.decode()
    )


def test_reviewers_and_customers_do_not_see_channels(client):
    client.force_login(factories.reviewer())
    assert client.get(reverse("admin:lbm_channel_changelist")).status_code == 403
    client.force_login(factories.organization(state="approved").contact)
    assert client.get(reverse("admin:lbm_channelaccesstoken_changelist")).status_code == 403
