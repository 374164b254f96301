"""Priority and labels: set from the thread header, shown in the header and the list, logged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.models import Conversation, ConversationEvent, Label
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    agent = make_agent(name="Alice Agent")
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111", text="refund please")).message.conversation
    client.force_login(agent)
    return agent, conversation


def test_priority_and_labels_are_set_shown_and_logged(client, setup):
    agent, conversation = setup
    refund = Label.objects.create(name="Refund", color="#ef4444")
    vip = Label.objects.create(name="VIP", color="red;x:y")
    fragment = {"X-Fragment": "1"}

    priority = client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "4"}, headers=fragment)
    labels = client.post(
        reverse("inbox:labels", args=[conversation.pk]), {"label": [refund.pk, vip.pk]}, headers=fragment
    )
    row = client.get(reverse("inbox:row", args=[conversation.pk])).content.decode()

    assert priority.status_code == 200 and "Urgent priority" in priority.content.decode()
    header = labels.content.decode()
    assert labels.status_code == 200 and ">Refund</span>" in header and ">VIP</span>" in header
    assert 'style="--label: #ef4444"' in header and "red;x:y" not in header  # a colour is only ever a colour
    assert ">Urgent</span>" in row and ">Refund</span>" in row
    conversation = Conversation.objects.get()
    assert conversation.priority == 4 and set(conversation.labels.values_list("name", flat=True)) == {"Refund", "VIP"}
    client.post(reverse("inbox:labels", args=[conversation.pk]), {"label": [vip.pk]}, headers=fragment)
    log = ConversationEvent.objects.filter(kind__in=["priority_changed", "labels_changed"]).order_by("pk")
    assert [(e.kind, e.actor, e.parameters) for e in log] == [
        ("priority_changed", agent, {"old": 0, "new": 4}),
        ("labels_changed", agent, {"added": ["Refund", "VIP"], "removed": []}),
        ("labels_changed", agent, {"added": [], "removed": ["Refund"]}),
    ]


def test_bad_priorities_and_labels_are_a_clear_400(client, setup):
    _, conversation = setup
    fragment = {"X-Fragment": "1"}

    word = client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "high"}, headers=fragment)
    big = client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "9"}, headers=fragment)
    missing = client.post(reverse("inbox:labels", args=[conversation.pk]), {"label": ["999"]}, headers=fragment)

    assert word.status_code == 400 and "from 0 (none) to 4 (urgent), not 'high'" in word.content.decode()
    assert big.status_code == 400 and big.content.decode().startswith("Unknown priority 9;")
    assert missing.status_code == 400 and missing.content.decode() == "No such label: 999."
    assert Conversation.objects.get().priority == 0


def test_the_activity_log_shows_among_the_messages(client, setup):
    agent, conversation = setup
    refund = Label.objects.create(name="Refund", color="#ef4444")
    fragment = {"X-Fragment": "1"}
    client.post(reverse("inbox:priority", args=[conversation.pk]), {"priority": "3"}, headers=fragment)
    client.post(reverse("inbox:labels", args=[conversation.pk]), {"label": [refund.pk]}, headers=fragment)
    client.post(reverse("inbox:assign", args=[conversation.pk]), {"assignee": "me"}, headers=fragment)
    client.post(reverse("inbox:status", args=[conversation.pk]), {"status": "pending"}, headers=fragment)

    html = client.get(reverse("inbox:timeline", args=[conversation.pk])).content.decode()

    lines = [" ".join(line.split(" · ")[0].split()) for line in html.split('class="item activity"')[1:]]
    assert [line.split(">", 1)[1] for line in lines] == [
        "Alice Agent set the priority to high",
        "Alice Agent added Refund (labels)",
        "Alice Agent assigned it to Alice Agent",
        "Alice Agent changed the status from Open to Pending",
    ]
    assert html.index("refund please") < html.index("set the priority")


def test_admins_see_every_inboxs_activity_in_the_audit_log_and_others_get_403(client, setup):
    agent, conversation = setup
    client.post(reverse("inbox:status", args=[conversation.pk]), {"status": "resolved"}, headers={"X-Fragment": "1"})
    admin = make_agent(role="admin", name="Ada Admin")

    refused = client.get(reverse("inbox:audit"))
    client.force_login(admin)
    html = client.get(reverse("inbox:audit")).content.decode()

    assert refused.status_code == 403
    assert "Alice Agent changed the status from Open to Resolved" in html
    assert reverse("inbox:conversation", args=[conversation.pk]) in html
