"""The inbox page and its fragments over HTTP: views, counts, paging, search, the thread, access."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from inbox.dm_events import XUserProfile
from inbox.models import Conversation, Message
from inbox.services.assignment import conversation_assign
from inbox.services.conversations import conversation_status_set
from inbox.services.ingest import dm_event_ingest
from inbox.services.notes import note_create
from inbox.services.reads import conversation_mark_read
from tests.factories import BASE_TIME, dm, make_agent, make_inbox, make_team, minutes

pytestmark = pytest.mark.django_db


def customer(n: int, **fields) -> XUserProfile:
    return XUserProfile(
        x_user_id=str(3_000 + n),
        handle=fields.pop("handle", f"cust{n}"),
        name=fields.pop("name", f"Customer {n}"),
        **fields,
    )


def conversation_with(inbox, n: int, text: str = "Hello", at=None, **profile) -> Conversation:
    person = customer(n, **profile)
    event = dm(inbox, person.x_user_id, text=text, at=at or BASE_TIME + minutes(n), profile=person)
    return dm_event_ingest(inbox=inbox, event=event).message.conversation


def row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="row-(\d+)"', html)]


@pytest.fixture
def agent(client):
    user = make_agent(name="Alice Agent")
    client.force_login(user)
    return user


def test_each_view_lists_its_conversations_latest_activity_first(client, agent):
    inbox = make_inbox(members=(agent,))
    mine = conversation_with(inbox, 1)
    free = conversation_with(inbox, 2)
    waiting = conversation_with(inbox, 3)
    done = conversation_with(inbox, 4)
    conversation_assign(conversation_id=mine.pk, assignee=agent, actor=agent)
    conversation_status_set(conversation_id=waiting.pk, status="pending", actor=agent)
    conversation_status_set(conversation_id=done.pk, status="resolved", actor=agent)

    def listed(view: str) -> list[int]:
        response = client.get(reverse("inbox:home"), {"view": view})
        assert response.status_code == 200
        return row_ids(response.content.decode())

    assert listed("mine") == [mine.pk]
    assert listed("unassigned") == [free.pk]
    assert listed("open") == [free.pk, mine.pk]
    assert listed("pending") == [waiting.pk]
    assert listed("resolved") == [done.pk]
    assert listed("all") == [done.pk, waiting.pk, free.pk, mine.pk]
    assert listed(f"account-{inbox.pk}") == [free.pk, mine.pk]


def test_the_views_show_how_many_conversations_wait_in_each(client, agent):
    team = make_team(members=(agent,))
    inbox = make_inbox(members=(agent,))
    for n in range(3):
        conversation_with(inbox, n)
    first = Conversation.objects.order_by("pk").first()
    conversation_assign(conversation_id=first.pk, assignee=agent, actor=agent)
    Conversation.objects.filter(pk=first.pk).update(team=team)
    conversation_status_set(
        conversation_id=Conversation.objects.order_by("pk").last().pk, status="snoozed", actor=agent
    )

    html = client.get(reverse("inbox:counts")).content.decode()

    counts = dict(re.findall(r'data-count="([\w-]+)">(\d+)<', html))
    assert counts == {"mine": "1", "unassigned": "1", "open": "2", "pending": "0", "snoozed": "1",
                      f"team-{team.pk}": "1", f"account-{inbox.pk}": "2"}  # fmt: skip
    assert 'data-count="resolved"' not in html  # history is not a queue: not counted


def test_unknown_views_and_other_peoples_team_queues_are_a_clear_400(client, agent):
    other_team = make_team()

    unknown = client.get(reverse("inbox:home"), {"view": "closed"})
    foreign = client.get(reverse("inbox:list"), {"view": f"team-{other_team.pk}"})

    assert unknown.status_code == foreign.status_code == 400
    assert unknown.content.decode().startswith("Unknown view 'closed'; use one of: mine, unassigned, open,")
    assert foreign.content.decode().startswith(f"Unknown view 'team-{other_team.pk}'")


def test_the_list_pages_through_every_conversation_once_in_order(client, agent):
    inbox = make_inbox(members=(agent,))
    expected = [conversation_with(inbox, n).pk for n in range(120)][::-1]
    Conversation.objects.filter(pk__in=expected[:10]).update(last_message_at=BASE_TIME)  # ties broken by id

    seen, before = [], None
    for _ in range(5):
        params = {"view": "open", **({"before": before} if before else {})}
        html = client.get(reverse("inbox:list"), params).content.decode()
        seen += row_ids(html)
        match = re.search(r'data-before="([^"]+)"', html)
        if not match:
            break
        before = match.group(1).replace("&#x2B;", "+")

    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)) == 120
    ordered = list(
        Conversation.objects.filter(pk__in=expected).order_by("-last_message_at", "-pk").values_list("pk", flat=True)
    )
    assert seen == ordered


def test_a_bad_list_position_is_a_400(client, agent):
    response = client.get(reverse("inbox:list"), {"before": "yesterday|x"})

    assert response.status_code == 400
    assert "Not a list position" in response.content.decode()


def test_the_list_costs_the_same_queries_for_5_or_60_conversations(client, agent):
    inbox = make_inbox(members=(agent,))
    for n in range(5):
        conversation_with(inbox, n)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("inbox:home")).status_code == 200
    for n in range(5, 60):
        conversation_with(inbox, n)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("inbox:home")).status_code == 200

    assert len(many) == len(few)


def test_search_finds_by_name_handle_and_message_text(client, agent):
    inbox = make_inbox(members=(agent,))
    maria = conversation_with(inbox, 1, name="María Fernández", handle="maria_codes")
    parcel = conversation_with(inbox, 2, text="Where is my parcel #4417?")
    conversation_with(inbox, 3, text="Unrelated")

    def found(q: str) -> list[int]:
        return row_ids(client.get(reverse("inbox:home"), {"view": "all", "q": q}).content.decode())

    assert found("maría") == [maria.pk]
    assert found("@maria_co") == [maria.pk]
    assert found("PARCEL #44") == [parcel.pk]
    assert found("nobody-says-this") == []
    short = client.get(reverse("inbox:home"), {"q": "m"})
    assert short.status_code == 400 and short.content.decode() == "Search for at least 2 characters."


def test_a_row_fragment_is_204_once_the_conversation_left_the_view(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1, name="Row Person")
    url = reverse("inbox:row", args=[conversation.pk])

    assert "Row Person" in client.get(url, {"view": "open"}).content.decode()
    conversation_status_set(conversation_id=conversation.pk, status="resolved", actor=agent)
    assert client.get(url, {"view": "open"}).status_code == 204


def test_unread_until_the_agent_reads_it_and_again_when_the_customer_writes(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1)
    url = reverse("inbox:row", args=[conversation.pk])
    assert 'class="row unread"' in client.get(url).content.decode()

    assert client.post(reverse("inbox:read", args=[conversation.pk])).status_code == 204
    assert 'class="row"' in client.get(url).content.decode()

    dm_event_ingest(inbox=inbox, event=dm(inbox, customer(1).x_user_id, text="again", at=BASE_TIME + minutes(30)))
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=BASE_TIME.replace(year=2099))
    assert 'class="row unread"' in client.get(url).content.decode()


def test_the_thread_shows_messages_in_order_with_notes_between(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1, text="first question")
    dm_event_ingest(
        inbox=inbox,
        event=dm(inbox, customer(1).x_user_id, text="our answer", from_business=True, at=BASE_TIME + minutes(5)),
    )
    note_create(conversation_id=conversation.pk, author=agent, body="Check the <b>order</b> system")

    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    html = html[html.index('id="timeline"') :]

    assert (
        html.index("first question")
        < html.index("our answer")
        < html.index("Check the &lt;b&gt;order&lt;/b&gt; system")
    )
    assert "Internal note · <bdi>Alice Agent</bdi>" in html  # an agent's name may be right-to-left
    assert 'class="item message outbound' in html and 'class="item message inbound' in html


def test_earlier_messages_load_in_windows(client, agent):
    inbox = make_inbox(members=(agent,))
    person = customer(1)
    for n in range(60):
        dm_event_ingest(
            inbox=inbox, event=dm(inbox, person.x_user_id, text=f"message number {n:02d}", at=BASE_TIME + minutes(n))
        )
    conversation = Conversation.objects.get()

    latest = client.get(reverse("inbox:timeline", args=[conversation.pk])).content.decode()
    before = re.search(r'data-before="(\d+)"', latest).group(1)
    earlier = client.get(reverse("inbox:timeline", args=[conversation.pk]), {"before": before}).content.decode()

    assert "message number 10" in latest and "message number 09" not in latest
    assert re.findall(r"message number (\d+)", earlier) == [f"{n:02d}" for n in range(10)]
    assert "data-before" not in earlier
    bad = client.get(reverse("inbox:timeline", args=[conversation.pk]), {"before": "abc"})
    assert bad.status_code == 400


def test_another_inboxs_conversation_is_a_404_everywhere(client, agent):
    theirs = make_inbox()
    conversation = conversation_with(theirs, 1)
    message = Message.objects.get()

    for url in [
        reverse("inbox:conversation", args=[conversation.pk]),
        reverse("inbox:thread", args=[conversation.pk]),
        reverse("inbox:header", args=[conversation.pk]),
        reverse("inbox:timeline", args=[conversation.pk]),
        reverse("inbox:message", args=[conversation.pk, message.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    for url in ["reply", "add_note", "read", "assign", "status"]:
        assert client.post(reverse(f"inbox:{url}", args=[conversation.pk])).status_code == 404, url
    assert row_ids(client.get(reverse("inbox:home"), {"view": "all"}).content.decode()) == []


def test_hostile_text_and_names_render_as_text_and_links_only_to_the_web(client, agent):
    inbox = make_inbox(members=(agent,))
    hostile = "<script>alert(1)</script> <img src=x onerror=alert(2)> javascript:alert(3)"
    person = customer(1, name='<img src=x onerror="alert(4)">', handle="evil")
    event = dm(inbox, person.x_user_id, text=hostile + " https://t.co/a https://t.co/b", profile=person)
    start = len(hostile) + 1
    event = event.__class__(**{**event.__dict__, "entities": {"urls": [
        {"start": start, "end": start + 14, "url": "https://t.co/a", "expanded_url": "javascript:alert(5)",
         "display_url": "x"},
        {"start": start + 15, "end": start + 29, "url": "https://t.co/b",
         "expanded_url": "https://example.com/ok?a=1&b=2", "display_url": "example.com/ok"},
    ]}})  # fmt: skip
    conversation = dm_event_ingest(inbox=inbox, event=event).message.conversation

    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()

    assert "<script>alert(1)" not in html and "<img src=x onerror" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(4)&quot;&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="https://t.co/a"' in html  # X's own short link stays when its target is not a web address
    assert (
        '<a href="https://example.com/ok?a=1&amp;b=2" target="_blank" rel="noopener noreferrer nofollow">'
        "example.com/ok</a>" in html
    )


def test_assign_to_me_and_the_second_agent_is_told_who_won(client, agent):
    bob = make_agent(name="Bob Agent")
    inbox = make_inbox(members=(agent, bob))
    conversation = conversation_with(inbox, 1)
    url = reverse("inbox:assign", args=[conversation.pk])
    conversation_assign(conversation_id=conversation.pk, assignee=bob, actor=bob, expected_assignee_id=None)

    lost = client.post(url, {"assignee": "me", "expected": ""}, headers={"X-Fragment": "1"})

    assert lost.status_code == 409
    assert lost.content.decode() == "Already assigned to Bob Agent: someone changed it while you were looking."
    assert Conversation.objects.get().assignee == bob


def test_an_agent_assigns_to_themselves_but_not_to_others(client, agent):
    bob = make_agent(name="Bob Agent")
    inbox = make_inbox(members=(agent, bob))
    conversation = conversation_with(inbox, 1)
    url = reverse("inbox:assign", args=[conversation.pk])

    taken = client.post(url, {"assignee": "me", "expected": ""}, headers={"X-Fragment": "1"})
    handed = client.post(url, {"assignee": str(bob.pk)}, headers={"X-Fragment": "1"})

    assert taken.status_code == 200 and "Assigned to Alice Agent" in taken.content.decode()
    assert handed.status_code == 403
    assert handed.content.decode() == "Agents can only assign conversations to themselves; ask a lead to reassign."
    assert Conversation.objects.get().assignee == agent


def test_a_lead_assigns_anyone_who_is_a_member(client):
    lead = make_agent(role=User.Role.LEAD)
    bob, stranger = make_agent(name="Bob Agent"), make_agent(name="Stranger")
    inbox = make_inbox(members=(lead, bob))
    conversation = conversation_with(inbox, 1)
    client.force_login(lead)
    url = reverse("inbox:assign", args=[conversation.pk])

    assert client.post(url, {"assignee": str(bob.pk)}, headers={"X-Fragment": "1"}).status_code == 200
    refused = client.post(url, {"assignee": str(stranger.pk)}, headers={"X-Fragment": "1"})
    assert refused.status_code == 403 and "not a member" in refused.content.decode()
    assert Conversation.objects.get().assignee == bob


def test_resolve_and_a_plain_form_post_redirects_back_with_a_message(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1)

    response = client.post(
        reverse("inbox:status", args=[conversation.pk]), {"status": "resolved", "return_query": "view=open"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation", args=[conversation.pk]) + "?view=open"
    assert Conversation.objects.get().status == "resolved"
    bad = client.post(
        reverse("inbox:status", args=[conversation.pk]), {"status": "closed"}, headers={"X-Fragment": "1"}
    )
    assert bad.status_code == 400 and "Unknown status 'closed'" in bad.content.decode()


def test_a_note_is_added_and_an_empty_one_refused(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1)
    url = reverse("inbox:add_note", args=[conversation.pk])

    added = client.post(url, {"body": "VIP customer"}, headers={"X-Fragment": "1"})
    empty = client.post(url, {"body": "   "}, headers={"X-Fragment": "1"})

    assert added.status_code == 200 and "VIP customer" in added.content.decode()
    assert empty.status_code == 400 and empty.content.decode() == "A note needs some text."


def test_a_reply_is_queued_once_per_token(client, agent):
    inbox = make_inbox(members=(agent,))
    conversation = conversation_with(inbox, 1)
    url = reverse("inbox:reply", args=[conversation.pk])

    first = client.post(url, {"text": "We are on it", "client_token": "t-1"}, headers={"X-Fragment": "1"})
    again = client.post(url, {"text": "We are on it", "client_token": "t-1"}, headers={"X-Fragment": "1"})

    assert first.status_code == again.status_code == 200
    assert "We are on it" in first.content.decode() and "Queued" in first.content.decode()
    assert Message.objects.filter(direction="outbound").count() == 1
    too_long = client.post(url, {"text": "x" * 10_001, "client_token": "t-2"}, headers={"X-Fragment": "1"})
    assert too_long.status_code == 400 and "10,000" in too_long.content.decode()


def test_social_managers_read_but_do_not_write(client):
    social = make_agent(role=User.Role.SOCIAL)
    inbox = make_inbox(members=(social,))
    conversation = conversation_with(inbox, 1)
    client.force_login(social)

    page = client.get(reverse("inbox:conversation", args=[conversation.pk]))
    reply = client.post(
        reverse("inbox:reply", args=[conversation.pk]), {"text": "hi", "client_token": "t"}, headers={"X-Fragment": "1"}
    )

    assert page.status_code == 200 and 'id="composer"' not in page.content.decode()
    assert reply.status_code == 403
    assert not Message.objects.filter(direction="outbound").exists()
    conversation_mark_read(conversation_id=conversation.pk, user=social)


def test_leads_get_a_list_of_the_inboxs_agents_to_assign_and_agents_do_not(client):
    lead, bob = make_agent(role=User.Role.LEAD, name="Lena Lead"), make_agent(name="Bob Agent")
    social, outsider = make_agent(role=User.Role.SOCIAL, name="Sam Social"), make_agent(name="Olga Outsider")
    team = make_team(members=(bob,))
    inbox = make_inbox(members=(lead, social), teams=(team,))
    conversation = conversation_with(inbox, 1)

    client.force_login(lead)
    header = client.get(reverse("inbox:header", args=[conversation.pk])).content.decode()
    assigned = client.post(
        reverse("inbox:assign", args=[conversation.pk]), {"assignee": str(bob.pk)}, headers={"X-Fragment": "1"}
    )
    client.force_login(bob)
    agents_header = client.get(reverse("inbox:header", args=[conversation.pk])).content.decode()

    picker = header[header.index('name="assignee">') : header.index("</select>", header.index('name="assignee">'))]
    options = re.findall(r'<option value="(\w+)"[^>]*>([^<]+)</option>', picker)
    assert options == [("none", "Unassigned"), (str(bob.pk), "Bob Agent"), (str(lead.pk), "Lena Lead")]
    assert assigned.status_code == 200 and "Assigned to Bob Agent" in assigned.content.decode()
    assert 'name="assignee"' in agents_header and 'name="assignee">' not in agents_header  # no picker
    assert outsider.display_name not in header and social.display_name not in header
