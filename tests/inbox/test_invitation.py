"""Inviting an agent by email: allauth's set-password link, then logging in; one invitation per address."""

from __future__ import annotations

import re
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from inbox.models import InboxMembership
from inbox.services import staffing
from inbox.services.staffing import InvitationNotSent, ManagementError
from tests.factories import make_agent, make_inbox, make_team

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Blue-kettle-83-sings"


@pytest.fixture
def admin() -> User:
    return make_agent(role=User.Role.ADMIN, name="Ada Admin")


def invite(admin_client, django_capture_on_commit_callbacks, **data):
    form = {"email": "new.agent@example.test", "name": "Nia New", "role": User.Role.AGENT, **data}
    with django_capture_on_commit_callbacks(execute=True):
        return admin_client.post(reverse("manage:agent_invite"), form)


def link_in(message: EmailMessage) -> str:
    match = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_an_invitee_sets_a_password_on_allauths_page_and_logs_in(client, admin, django_capture_on_commit_callbacks):
    # given an admin inviting a new agent into a team and an inbox
    team, inbox = make_team(), make_inbox()
    client.force_login(admin)
    response = invite(client, django_capture_on_commit_callbacks, teams=[team.pk], inboxes=[inbox.pk])
    assert response.status_code == 302
    user = User.objects.get(email="new.agent@example.test")
    assert not user.has_usable_password()
    assert list(user.teams.all()) == [team] and InboxMembership.objects.filter(user=user, inbox=inbox).exists()

    # then one email went to them, from the admin, with a link to allauth's set-password page
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.agent@example.test"]
    assert "Ada Admin invited you to Backchannel" in message.subject
    assert "Hello Nia New" in message.body and "as Agent" in message.body
    link = link_in(message)

    # when the invitee, logged out, opens the link and chooses a password
    client.logout()
    opened = client.get(link)
    assert opened.status_code == 302 and opened["Location"].endswith("-set-password/")
    page = client.get(opened["Location"])
    assert page.status_code == 200 and b'name="password1"' in page.content
    done = client.post(opened["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302

    # then they log in with it, and the invitation is used up
    user.refresh_from_db()
    assert user.has_usable_password()
    login = client.post(reverse("account_login"), {"login": "new.agent@example.test", "password": NEW_PASSWORD})
    assert login.status_code == 302
    assert client.get("/").wsgi_request.user == user
    client.logout()
    assert b"invalid" in client.get(link, follow=True).content.lower()


def test_a_second_invitation_to_the_same_address_is_refused(client, admin, django_capture_on_commit_callbacks):
    client.force_login(admin)
    invite(client, django_capture_on_commit_callbacks)

    response = invite(client, django_capture_on_commit_callbacks, email="New.Agent@Example.test")

    assert response.status_code == 400
    assert "There is already an agent with the email new.agent@example.test" in response.content.decode()
    assert "resend their invitation instead" in response.content.decode()
    assert User.objects.filter(email__iexact="new.agent@example.test").count() == 1
    assert len(mail.outbox) == 1


def test_inviting_an_existing_agents_address_is_refused_by_the_service(admin):
    make_agent(email="taken@example.test")
    request = RequestFactory().post("/manage/agents/invite/")

    with pytest.raises(ManagementError, match="already an agent with the email taken@example.test") as refused:
        staffing.agent_invite(
            email="TAKEN@example.test",
            name="",
            role="agent",
            team_ids=[],
            inbox_ids=[],
            invited_by=admin,
            request=request,
        )
    assert refused.value.field == "email"


def test_an_invitation_can_be_resent_until_the_invitee_has_joined(client, admin, django_capture_on_commit_callbacks):
    client.force_login(admin)
    invite(client, django_capture_on_commit_callbacks)
    user = User.objects.get(email="new.agent@example.test")
    resend = reverse("manage:agent_invite_resend", args=[user.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend)
    assert response.status_code == 302
    assert len(mail.outbox) == 2 and link_in(mail.outbox[1])

    user.set_password(NEW_PASSWORD)
    user.save()
    refused = client.post(resend)
    assert refused.status_code == 400
    assert "has already joined" in refused.content.decode()
    assert len(mail.outbox) == 2


def test_the_agents_list_shows_who_is_invited_and_not_joined_yet(client, admin, django_capture_on_commit_callbacks):
    client.force_login(admin)
    invite(client, django_capture_on_commit_callbacks)

    page = client.get(reverse("manage:agents")).content.decode()

    row = page.split('data-agent="new.agent@example.test"')[1].split("</tr>")[0]
    assert "Invited, not joined yet" in row


def refuse_to_send(self, fail_silently=False):
    raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_an_email_that_cannot_be_sent_is_reported_after_the_agent_is_created(
    admin, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(EmailMessage, "send", refuse_to_send)

    with pytest.raises(InvitationNotSent, match=r"could not be sent \(Connection unexpectedly closed\)"):
        with django_capture_on_commit_callbacks(execute=True):
            staffing.agent_invite(
                email="later@example.test",
                name="",
                role="agent",
                team_ids=[],
                inbox_ids=[],
                invited_by=admin,
                request=RequestFactory().post("/"),
            )

    assert User.objects.filter(email="later@example.test").exists()


@pytest.mark.django_db(transaction=True)
def test_the_invite_page_sends_the_admin_to_the_agent_when_the_email_failed(client, monkeypatch):
    # given an admin whose mail server is down (a real commit: the email goes after it)
    admin = make_agent(role=User.Role.ADMIN)
    monkeypatch.setattr(EmailMessage, "send", refuse_to_send)
    client.force_login(admin)

    # when they invite someone
    response = client.post(reverse("manage:agent_invite"), {"email": "again@example.test", "role": "agent"})

    # then the agent exists, and their page says to resend the invitation
    user = User.objects.get(email="again@example.test")
    assert response.status_code == 302 and response["Location"] == reverse("manage:agent", args=[user.pk])
    page = client.get(response["Location"]).content.decode()
    assert "could not be sent (Connection unexpectedly closed)" in page
    assert "Resend invitation" in page
