"""Every URL × every role × a conversation in the agent's own inbox or another one: allowed or denied as the
roles say (admin: everything; lead and agent: their inboxes; social: read-only), and never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from inbox.models import Conversation, Label, Message, MessageAttachment
from inbox.services.attachments import attachment_file_store
from inbox.services.ingest import dm_event_ingest
from inbox.services.replies import reply_create, reply_mark_failed
from tests.factories import dm, make_agent, make_inbox, make_x_account

pytestmark = pytest.mark.django_db

ROLES = [User.Role.ADMIN, User.Role.LEAD, User.Role.AGENT, User.Role.SOCIAL]
ALLOWED = {200, 204, 302, 400, 409}  # 400/409: allowed in, refused for the data (e.g. too late to undo)
DENIED = {403, 404}


def world(role: str):
    user = make_agent(role=role)
    own, other = make_inbox(members=(user,)), make_inbox()
    author = make_agent(role=User.Role.ADMIN)  # writes the failed reply in both inboxes
    conversations = {}
    for name, inbox in (("own", own), ("other", other)):
        message = dm_event_ingest(inbox=inbox, event=dm(inbox, f"9{inbox.pk}")).message
        attachment = MessageAttachment.objects.create(message=message, media_type="photo")
        attachment_file_store(attachment_id=attachment.pk, content=b"GIF89a;", content_type="image/gif", name="a.gif")
        failed = reply_create(conversation_id=message.conversation_id, author=author, text="x", client_token=f"{name}")
        reply_mark_failed(message_id=failed.pk, detail="X refused it.")
        make_x_account(inbox)
        conversations[name] = (message.conversation, message, failed)
    return user, conversations


def requests_for(conversation, message, failed, label):
    c, m = conversation.pk, message.pk
    attachment = MessageAttachment.objects.get(message=message).pk
    reads = [
        ("GET", reverse("inbox:conversation", args=[c]), {}),
        ("GET", reverse("inbox:thread", args=[c]), {}),
        ("GET", reverse("inbox:header", args=[c]), {}),
        ("GET", reverse("inbox:timeline", args=[c]), {}),
        ("GET", reverse("inbox:message", args=[c, m]), {}),
        ("GET", reverse("inbox:row", args=[c]), {"view": "all"}),
        ("GET", reverse("inbox:canned", args=[c]), {"q": "a"}),
        ("GET", reverse("inbox:attachment", args=[attachment]), {}),
        ("GET", reverse("x_send_budget", args=[conversation.inbox_id]), {}),
        ("POST", reverse("inbox:read", args=[c]), {}),
    ]
    writes = [
        ("POST", reverse("inbox:reply", args=[c]), {"text": "hi", "client_token": f"t{c}"}),
        ("POST", reverse("inbox:add_note", args=[c]), {"body": "note"}),
        ("POST", reverse("inbox:assign", args=[c]), {"assignee": "me"}),
        ("POST", reverse("inbox:status", args=[c]), {"status": "pending"}),
        ("POST", reverse("inbox:team", args=[c]), {"team": "none"}),
        ("POST", reverse("inbox:priority", args=[c]), {"priority": "2"}),
        ("POST", reverse("inbox:labels", args=[c]), {"label": [label.pk]}),
        ("POST", reverse("inbox:retry", args=[c, failed.pk]), {}),
        ("POST", reverse("inbox:undo", args=[c, failed.pk]), {}),
    ]
    return reads, writes


@pytest.mark.parametrize("role", ROLES)
def test_conversation_urls_for_each_role_in_own_and_other_inboxes(client, role):
    user, conversations = world(role)
    label = Label.objects.create(name="L")
    client.force_login(user)
    outcomes = []
    for where, (conversation, message, failed) in conversations.items():
        reads, writes = requests_for(conversation, message, failed, label)
        sees = where == "own" or role == User.Role.ADMIN
        for kind, requests in (("read", reads), ("write", writes)):
            for method, url, data in requests:
                response = getattr(client, method.lower())(url, data, headers={"X-Fragment": "1"})
                allowed = sees and (kind == "read" or role != User.Role.SOCIAL)
                if url.endswith(("/undo/", "/team/")):  # undo: the author, a lead or an admin; teams: leads, admins
                    allowed = allowed and role in (User.Role.ADMIN, User.Role.LEAD)
                expected = ALLOWED if allowed else DENIED
                if response.status_code not in expected:
                    outcomes.append((where, method, url, response.status_code, "allowed" if allowed else "denied"))
    assert outcomes == [], outcomes
    assert Message.objects.filter(direction="outbound", sender_agent=user).count() == (
        0 if role == User.Role.SOCIAL else 1 + (role == User.Role.ADMIN)
    )


def manage_requests():
    """The /manage/ pages (GET) and changes (POST) on a fresh agent, team and inbox; the team is deleted last."""
    from tests.factories import make_team

    agent, team, inbox = make_agent(), make_team(), make_inbox()
    gets = [
        reverse("manage:agents"),
        reverse("manage:agent_invite"),
        reverse("manage:agent", args=[agent.pk]),
        reverse("manage:teams"),
        reverse("manage:team", args=[team.pk]),
        reverse("manage:inboxes"),
        reverse("manage:inbox", args=[inbox.pk]),
    ]
    posts = [
        (reverse("manage:agent_invite"), {"email": "invitee@example.test", "role": "agent"}),
        (reverse("manage:agent", args=[agent.pk]), {"name": "N", "role": "lead", "capacity": "3"}),
        (reverse("manage:agent_memberships", args=[agent.pk]), {"teams": [team.pk], "inboxes": [inbox.pk]}),
        (reverse("manage:agent_invite_resend", args=[agent.pk]), {}),
        (reverse("manage:agent_deactivate", args=[agent.pk]), {}),
        (reverse("manage:agent_reactivate", args=[agent.pk]), {}),
        (reverse("manage:teams"), {"name": "New team"}),
        (reverse("manage:team", args=[team.pk]), {"name": "Renamed"}),
        (reverse("manage:team_members", args=[team.pk]), {"members": [agent.pk]}),
        (reverse("manage:team_inboxes", args=[team.pk]), {"inboxes": [inbox.pk]}),
        (reverse("manage:inbox_members", args=[inbox.pk]), {"members": [agent.pk]}),
        (reverse("manage:inbox_teams", args=[inbox.pk]), {"teams": [team.pk]}),
        (reverse("manage:inbox_auto_assign", args=[inbox.pk]), {"auto_assign": "on"}),
        (reverse("manage:team_delete", args=[team.pk]), {}),
    ]
    return agent, gets, posts


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages_are_for_admins_only_and_the_rest_for_everyone(client, role):
    client.force_login(make_agent(role=role))
    is_admin = role == User.Role.ADMIN

    for url in [reverse("inbox:audit"), reverse("x_accounts:list")]:
        assert client.get(url).status_code == (200 if is_admin else 403), url
    target, manage_gets, manage_posts = manage_requests()
    for url in manage_gets:
        assert client.get(url).status_code == (200 if is_admin else 403), url
    for url, data in manage_posts:
        status = client.post(url, data).status_code
        assert status in ({302, 400} if is_admin else {403}), (url, status)
    target.refresh_from_db()
    assert (target.role == User.Role.LEAD) == is_admin
    for url in [reverse("inbox:home"), reverse("inbox:counts"), reverse("inbox:list"), reverse("inbox:notifications")]:
        assert client.get(url).status_code == 200, url
    leads = role in (User.Role.ADMIN, User.Role.LEAD)
    assert client.get(reverse("inbox:reports")).status_code == (200 if leads else 403)
    makes_links = role != User.Role.AGENT
    for name in ("page", "links", "button"):
        assert client.get(reverse(f"handoff:{name}")).status_code == (200 if makes_links else 403), name


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    _, conversations = world(User.Role.AGENT)
    conversation, message, failed = conversations["own"]
    reads, writes = requests_for(conversation, message, failed, Label.objects.create(name="L"))

    for method, url, data in [*reads, *writes, ("GET", reverse("inbox:home"), {})]:
        response = getattr(client, method.lower())(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("role", ROLES)
def test_bulk_actions_change_only_what_the_role_may_change_in_its_own_inboxes(client, role):
    """Bulk actions answer per conversation: the request is allowed, each conversation the role may not
    change is listed as refused and left as it was; social managers are refused outright (403)."""
    user, conversations = world(role)
    client.force_login(user)
    ids = {where: conversation.pk for where, (conversation, _message, _failed) in conversations.items()}

    response = client.post(
        reverse("inbox:bulk"),
        {"conversation": list(ids.values()), "choice": "status:pending"},
        headers={"X-Fragment": "1"},
    )

    pending = set(Conversation.objects.filter(status="pending").values_list("pk", flat=True))
    if role == User.Role.SOCIAL:
        assert response.status_code == 403 and pending == set()
        return
    assert response.status_code == 200
    expected = {ids["own"], ids["other"]} if role == User.Role.ADMIN else {ids["own"]}
    assert pending == expected
    assert set(response.json()["refused"]) == {str(pk) for pk in ids.values()} - {str(pk) for pk in expected}
