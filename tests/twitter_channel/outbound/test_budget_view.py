"""The composer's budget line: what the rate limiter says, for agents of the inbox only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_agent, make_inbox, make_x_account
from twitter_channel.models import XAccount
from twitter_channel.outbound import ratelimit

pytestmark = pytest.mark.django_db


def connected(inbox) -> XAccount:
    return make_x_account(inbox)


def test_an_agent_sees_the_accounts_budget_after_a_send(client):
    agent = make_agent()
    inbox = make_inbox(members=(agent,))
    account = connected(inbox)
    client.force_login(agent)
    assert isinstance(ratelimit.permit_take(account=account), ratelimit.Granted)

    html = client.get(reverse("x_send_budget", args=[inbox.pk])).content.decode()

    assert f"@{inbox.handle}: 199 of 200 left this 15 minutes" in html
    assert "999 of 1,000 left this 24 hours" in html


def test_another_inbox_or_one_without_an_account_is_a_404(client):
    agent = make_agent()
    mine, theirs = make_inbox(members=(agent,)), make_inbox()
    connected(theirs)
    client.force_login(agent)

    assert client.get(reverse("x_send_budget", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("x_send_budget", args=[mine.pk])).status_code == 404
