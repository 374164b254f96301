"""The Django admin for the inbox: labels and canned responses kept there through their services;
conversations, messages, contacts, inboxes and the activity log only shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.models import CannedResponse, Conversation, ConversationEvent, Label, Message
from inbox.services.ingest import dm_event_ingest
from inbox.services.labels import label_create
from inbox.services.triage import conversation_labels_set, conversation_priority_set
from tests.factories import dm, make_agent, make_inbox, make_superuser

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(client):
    admin = make_superuser()
    client.force_login(admin)
    return admin


def labelled_conversation(label: Label) -> Conversation:
    inbox = make_inbox()
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    conversation_labels_set(conversation_id=conversation.pk, label_ids=[label.pk], actor=None)
    return conversation


# Labels ----------------------------------------------------------------------------------------


def test_a_label_added_and_edited_in_the_admin_is_the_one_the_service_makes(client, site_admin):
    # given a label made by the service
    made = label_create(name="Refund", color="#ef4444", description="Money back")

    # when an admin adds one through the admin, then changes it
    added = client.post(reverse("admin:inbox_label_add"), {"name": "VIP", "color": "#22c55e", "description": "Big"})
    label = Label.objects.get(name="VIP")
    changed = client.post(
        reverse("admin:inbox_label_change", args=[label.pk]), {"name": "VIP+", "color": "#16a34a", "description": ""}
    )

    # then both are stored alike, and the admin's history names the change
    assert added.status_code == changed.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.color, label.description) == ("VIP+", "#16a34a", "")
    assert (made.name, made.color, made.description) == ("Refund", "#ef4444", "Money back")
    history = client.get(reverse("admin:inbox_label_history", args=[label.pk])).content.decode()
    assert "Added." in history and "Changed Name, Color and Description." in history


def test_a_label_name_taken_is_refused_in_the_admin_as_by_the_service(client, site_admin):
    label_create(name="Refund")

    response = client.post(reverse("admin:inbox_label_add"), {"name": "Refund", "color": "#ef4444"})

    assert response.status_code == 200 and "Label with this Name already exists." in response.content.decode()
    assert Label.objects.filter(name="Refund").count() == 1


def test_deleting_a_label_in_the_admin_takes_it_off_its_conversations(client, site_admin):
    label = label_create(name="Refund")
    conversation = labelled_conversation(label)

    response = client.post(reverse("admin:inbox_label_delete", args=[label.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Label.objects.exists()
    assert list(conversation.labels.all()) == []


def test_the_admins_delete_selected_action_deletes_labels_too(client, site_admin):
    labels = [label_create(name="A"), label_create(name="B"), label_create(name="Kept")]

    client.post(
        reverse("admin:inbox_label_changelist"),
        {"action": "delete_selected", "_selected_action": [labels[0].pk, labels[1].pk], "post": "yes"},
    )

    assert list(Label.objects.values_list("name", flat=True)) == ["Kept"]


# Canned responses ------------------------------------------------------------------------------


def test_a_canned_response_added_in_the_admin_is_offered_to_agents_and_says_who_made_it(client, site_admin):
    # given an agent's conversation
    agent = make_agent(name="Alice Agent")
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation

    # when an admin adds a canned response for every inbox, then fixes its text
    client.post(
        reverse("admin:inbox_cannedresponse_add"),
        {"shortcut": "refund", "title": "Refund", "body": "Hi {{agent.name}} here", "inbox": ""},
    )
    canned = CannedResponse.objects.get(shortcut="refund")
    client.post(
        reverse("admin:inbox_cannedresponse_change", args=[canned.pk]),
        {"shortcut": "refund", "title": "Refund", "body": "Hello, {{agent.name}} here.", "inbox": inbox.pk},
    )

    # then the agent typing /ref gets it, and it records its author
    client.force_login(agent)
    found = client.get(reverse("inbox:canned", args=[conversation.pk]), {"q": "/ref"}).json()["suggestions"]
    assert [(s["shortcut"], s["text"]) for s in found] == [("refund", "Hello, Alice Agent here.")]
    canned.refresh_from_db()
    assert canned.created_by == site_admin and canned.inbox == inbox


def test_a_canned_response_deleted_in_the_admin_is_gone(client, site_admin):
    client.post(reverse("admin:inbox_cannedresponse_add"), {"shortcut": "bye", "title": "Bye", "body": "Bye!"})
    canned = CannedResponse.objects.get()

    client.post(reverse("admin:inbox_cannedresponse_delete", args=[canned.pk]), {"post": "yes"})

    assert not CannedResponse.objects.exists()


# Read-only -------------------------------------------------------------------------------------


def test_conversations_and_messages_are_shown_in_the_admin_but_never_changed_there(client, site_admin):
    # given a conversation with a message and a line of activity
    inbox = make_inbox()
    message = dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="Where is my order?")).message
    conversation = conversation_priority_set(conversation_id=message.conversation_id, priority=2, actor=None)
    events = ConversationEvent.objects.filter(conversation=conversation).count()
    event = ConversationEvent.objects.filter(conversation=conversation).latest("pk")

    # then the admin may look at each...
    rows = {
        "conversation": conversation.pk,
        "message": message.pk,
        "contact": conversation.contact_id,
        "inbox": inbox.pk,
        "conversationevent": event.pk,
    }
    for model, pk in rows.items():
        page = client.get(reverse(f"admin:inbox_{model}_change", args=[pk]))
        assert page.status_code == 200, model
        assert 'name="_save"' not in page.content.decode(), f"{model}: no Save button"

    # ...but cannot add, change or delete any
    for model, pk in rows.items():
        assert client.get(reverse(f"admin:inbox_{model}_add")).status_code == 403, model
        assert client.post(reverse(f"admin:inbox_{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
    changed = client.post(
        reverse("admin:inbox_conversation_change", args=[conversation.pk]),
        {"status": "resolved", "priority": "4", "inbox": inbox.pk, "kind": "one_to_one"},
    )
    edited = client.post(reverse("admin:inbox_message_change", args=[message.pk]), {"text": "Rewritten"})

    assert changed.status_code == edited.status_code == 403
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority) == ("open", 2)
    assert Message.objects.get(pk=message.pk).text == "Where is my order?"
    assert ConversationEvent.objects.filter(conversation=conversation).count() == events
