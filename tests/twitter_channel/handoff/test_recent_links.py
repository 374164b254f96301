"""The link page's "Recent links" list is current right after a link is made: the answer to the page's
fetch carries the list with the new link in it, newest first, five at most, of this person's accounts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import make_agent, make_inbox, make_x_account
from twitter_channel.handoff.links import handoff_link_create
from twitter_channel.models import HandoffLink

pytestmark = pytest.mark.django_db


def recent_ids(html: str) -> list[int]:
    template = re.search(r'<template id="recent-links-update">(.*?)</template>', html, re.S)
    assert template, "no Recent links in the answer"
    return [int(pk) for pk in re.findall(r'<tr data-link-id="(\d+)"', template.group(1))]


def test_the_answer_to_a_new_link_carries_recent_links_with_it_first(client):
    sofia = make_agent(role=User.Role.SOCIAL)
    account = make_x_account(make_inbox(members=(sofia,)))
    others = make_x_account()
    older = [handoff_link_create(account=account, created_by=None) for _ in range(5)]
    handoff_link_create(account=others, created_by=None)  # another inbox's: never listed to Sofia
    client.force_login(sofia)

    response = client.post(
        reverse("handoff:create"), {"account": account.pk, "host": "twitter.com"}, headers={"X-Fragment": "1"}
    )

    new = HandoffLink.objects.filter(account=account).latest("pk")
    html = response.content.decode()
    assert response.status_code == 200 and f"Link Ref {new.ref_code} is ready" in html
    assert recent_ids(html) == [new.pk] + [link.pk for link in reversed(older)][:4]


def test_the_first_link_replaces_no_links_yet(client):
    sofia = make_agent(role=User.Role.SOCIAL)
    account = make_x_account(make_inbox(members=(sofia,)))
    client.force_login(sofia)
    assert "No links yet." in client.get(reverse("handoff:page")).content.decode()

    response = client.post(
        reverse("handoff:create"), {"account": account.pk, "host": "twitter.com"}, headers={"X-Fragment": "1"}
    )

    html = response.content.decode()
    assert recent_ids(html) == [HandoffLink.objects.get().pk] and "No links yet." not in html
