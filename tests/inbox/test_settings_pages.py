"""Settings → Canned responses and Labels: who may open and change what, the services' checks shown on the
forms (never a 500), and the live preview of placeholders."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import User
from inbox.models import CannedResponse, Label
from inbox.selectors.canned import canned_preview, canned_suggestions
from inbox.services.canned import CannedForbidden, canned_response_create, canned_response_update
from inbox.services.ingest import dm_event_ingest
from inbox.services.labels import LabelForbidden, label_create, label_update
from tests.factories import dm, make_agent, make_inbox, make_superuser, make_team

pytestmark = pytest.mark.django_db

PAGES = [
    ("GET", "settings:home", {}),
    ("GET", "settings:canned", {}),
    ("POST", "settings:canned", {"shortcut": "hi", "title": "Hi", "body": "Hi!", "inbox": ""}),
    ("POST", "settings:canned_preview", {"body": "Hi {{contact.name}}"}),
    ("GET", "settings:labels", {}),
    ("POST", "settings:labels", {"name": "VIP", "color": "#22c55e"}),
]


def page(client, method: str, name: str, data: dict, *args: int):
    url = reverse(name, args=args)
    return client.get(url, data) if method == "GET" else client.post(url, data)


# Who may open what -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [User.Role.AGENT, User.Role.SOCIAL])
def test_agents_and_social_managers_get_403_on_every_settings_page(client, role):
    canned = CannedResponse.objects.create(shortcut="x", title="X", body="X")
    label = Label.objects.create(name="L")
    client.force_login(make_agent(role=role))

    urls = [*PAGES]
    urls += [("GET", "settings:canned_edit", {}, canned.pk), ("POST", "settings:canned_delete", {}, canned.pk)]
    urls += [("GET", "settings:label_edit", {}, label.pk), ("POST", "settings:label_delete", {}, label.pk)]
    statuses = {
        (method, name): page(client, method, name, data, *args).status_code for method, name, data, *args in urls
    }

    assert set(statuses.values()) == {403}, statuses
    assert CannedResponse.objects.count() == 1 and Label.objects.count() == 1


def test_an_admin_opens_every_settings_page_and_the_topbar_links_there(client):
    client.force_login(make_agent(role=User.Role.ADMIN))

    home = client.get(reverse("settings:home"))
    canned = client.get(reverse("settings:canned"))
    labels = client.get(reverse("settings:labels"))

    assert home.status_code == 302 and home["Location"] == reverse("settings:canned")
    assert canned.status_code == labels.status_code == 200
    text = canned.content.decode()
    assert f'href="{reverse("settings:canned")}">Settings</a>' in text
    assert f'href="{reverse("settings:labels")}"' in text and f'href="{reverse("x_accounts:list")}"' in text


def test_a_lead_sees_canned_responses_but_not_labels_or_x_accounts(client):
    lead = make_agent(role=User.Role.LEAD)
    client.force_login(lead)

    canned = client.get(reverse("settings:canned"))

    assert canned.status_code == 200
    text = canned.content.decode()
    assert ">Settings</a>" in text and f'href="{reverse("settings:labels")}"' not in text
    assert f'href="{reverse("x_accounts:list")}"' not in text
    assert client.get(reverse("settings:labels")).status_code == 403


def test_agents_have_no_settings_link_in_the_topbar(client):
    client.force_login(make_agent())

    assert ">Settings</a>" not in client.get(reverse("inbox:home")).content.decode()


# Leads and their inboxes -------------------------------------------------------------------------


def test_a_lead_keeps_canned_responses_of_the_inboxes_they_work_directly_or_through_a_team(client):
    lead = make_agent(role=User.Role.LEAD)
    direct, through_team, other = (
        make_inbox(members=(lead,)),
        make_inbox(teams=(make_team(members=(lead,)),)),
        make_inbox(),
    )
    client.force_login(lead)

    for inbox in (direct, through_team):
        response = client.post(
            reverse("settings:canned"),
            {"shortcut": f"s{inbox.pk}", "title": "T", "body": "Hello {{contact.name}}", "inbox": inbox.pk},
        )
        assert response.status_code == 302
    refused = client.post(
        reverse("settings:canned"), {"shortcut": "theirs", "title": "T", "body": "B", "inbox": other.pk}
    )
    everywhere = client.post(reverse("settings:canned"), {"shortcut": "all", "title": "T", "body": "B", "inbox": ""})

    assert refused.status_code == everywhere.status_code == 400
    assert set(CannedResponse.objects.values_list("inbox_id", flat=True)) == {direct.pk, through_team.pk}


def test_a_lead_cannot_edit_or_delete_another_inboxs_canned_response(client):
    lead = make_agent(role=User.Role.LEAD)
    mine, other = make_inbox(members=(lead,)), make_inbox()
    theirs = CannedResponse.objects.create(shortcut="theirs", title="T", body="Theirs", inbox=other)
    everyone = CannedResponse.objects.create(shortcut="everyone", title="E", body="Everyone")
    client.force_login(lead)

    listed = client.get(reverse("settings:canned")).content.decode()
    responses = [
        client.get(reverse("settings:canned_edit", args=[theirs.pk])),
        client.post(
            reverse("settings:canned_edit", args=[theirs.pk]),
            {"shortcut": "mine-now", "title": "T", "body": "Mine", "inbox": mine.pk},
        ),
        client.post(reverse("settings:canned_delete", args=[theirs.pk])),
        client.post(
            reverse("settings:canned_edit", args=[everyone.pk]),
            {"shortcut": "everyone", "title": "E", "body": "Changed", "inbox": mine.pk},
        ),
        client.post(reverse("settings:canned_delete", args=[everyone.pk])),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    theirs.refresh_from_db()
    everyone.refresh_from_db()
    assert (theirs.shortcut, theirs.inbox_id, everyone.body) == ("theirs", other.pk, "Everyone")
    assert "/theirs" not in listed  # another inbox's: not shown at all
    assert "/everyone" in listed and reverse("settings:canned_edit", args=[everyone.pk]) not in listed  # read-only


def test_the_services_refuse_a_lead_outside_their_inboxes_whatever_calls_them():
    lead = make_agent(role=User.Role.LEAD)
    mine, other = make_inbox(members=(lead,)), make_inbox()
    canned = canned_response_create(shortcut="mine", title="M", body="B", inbox=mine, created_by=lead, actor=lead)

    with pytest.raises(CannedForbidden):
        canned_response_update(canned_response=canned, shortcut="mine", title="M", body="B", inbox=other, actor=lead)
    with pytest.raises(CannedForbidden):
        canned_response_create(shortcut="all", title="A", body="B", inbox=None, created_by=lead, actor=lead)
    with pytest.raises(LabelForbidden):
        label_create(name="VIP", actor=lead)
    canned.refresh_from_db()
    assert canned.inbox == mine and not Label.objects.exists()


# Canned responses: create, edit, delete, preview --------------------------------------------------


def test_an_admin_adds_edits_and_deletes_a_canned_response_and_agents_are_offered_it(client):
    admin = make_agent(role=User.Role.ADMIN, name="Ada Admin")
    agent = make_agent(name="Alice Agent")
    inbox = make_inbox(members=(agent,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "111")).message.conversation
    client.force_login(admin)

    created = client.post(
        reverse("settings:canned"),
        {"shortcut": "refund", "title": "Refund", "body": "Hi {{contact.name}}, {{agent.name}} here.", "inbox": ""},
    )
    canned = CannedResponse.objects.get()
    edited = client.post(
        reverse("settings:canned_edit", args=[canned.pk]),
        {"shortcut": "refund", "title": "Refund", "body": "Hello, {{agent.name}} here.", "inbox": inbox.pk},
    )

    assert created.status_code == edited.status_code == 302
    canned.refresh_from_db()
    assert (canned.inbox, canned.created_by, canned.body) == (inbox, admin, "Hello, {{agent.name}} here.")
    offered = canned_suggestions(conversation=conversation, agent=agent, prefix="ref")
    assert [(s.shortcut, s.text) for s in offered] == [("refund", "Hello, Alice Agent here.")]

    assert client.post(reverse("settings:canned_delete", args=[canned.pk])).status_code == 302
    assert canned_suggestions(conversation=conversation, agent=agent, prefix="ref") == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"shortcut": "", "title": "T", "body": "B"}, "shortcut", "This field is required."),
        ({"shortcut": "no spaces", "title": "T", "body": "B"}, "shortcut", "letters, numbers, underscores or hyphens"),
        ({"shortcut": "ok", "title": "", "body": "B"}, "title", "This field is required."),
        ({"shortcut": "ok", "title": "T", "body": ""}, "body", "This field is required."),
        ({"shortcut": "taken", "title": "T", "body": "B"}, "shortcut", "already exists"),
        ({"shortcut": "ok", "title": "T", "body": "Your {{order.id}}"}, "body", "Unknown placeholder {{order.id}}"),
        ({"shortcut": "ok", "title": "T", "body": "B", "inbox": "99999999"}, "inbox", "Select a valid choice"),
        ({"shortcut": "ok", "title": "T", "body": "B", "inbox": "x\x00"}, "inbox", "Null characters are not allowed."),
    ],
)
def test_bad_canned_responses_come_back_on_the_form_with_400(client, data, field, message):
    CannedResponse.objects.create(shortcut="taken", title="T", body="B")
    client.force_login(make_agent(role=User.Role.ADMIN))

    response = client.post(reverse("settings:canned"), {"inbox": "", **data})

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert CannedResponse.objects.count() == 1


def test_the_preview_fills_the_placeholders_and_names_unknown_ones(client):
    admin = make_agent(role=User.Role.ADMIN, name="Ada Admin")
    inbox = make_inbox()
    client.force_login(admin)

    response = client.post(
        reverse("settings:canned_preview"),
        {
            "body": "Hi {{contact.name}} ({{ contact.handle }}) from {{inbox.handle}}, {{agent.name}}. "
            "{{Order.Id}} <b>",
            "inbox": inbox.pk,
        },
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert f"Hi María Fernández (@maria_codes) from @{inbox.handle}, Ada Admin. {{{{Order.Id}}}} &lt;b&gt;" in text
    assert "Unknown placeholder: <code>{{Order.Id}}</code>" in text


def test_the_preview_of_a_text_with_every_placeholder_known_has_no_error():
    preview = canned_preview(
        "{{contact.name}} {{contact.handle}} {{agent.name}} {{inbox.handle}}", agent=make_agent(name="Bo")
    )

    assert preview.text == "María Fernández @maria_codes Bo @AcmeSupport" and preview.unknown == []


def test_the_list_page_shows_the_preview_of_a_refused_text(client):
    client.force_login(make_agent(role=User.Role.ADMIN))

    response = client.post(
        reverse("settings:canned"), {"shortcut": "x", "title": "X", "body": "{{ oops }}", "inbox": ""}
    )

    assert response.status_code == 400 and "Unknown placeholder: <code>{{ oops }}</code>" in response.content.decode()


# Labels ------------------------------------------------------------------------------------------


def test_an_admin_adds_edits_and_deletes_a_label(client):
    client.force_login(make_agent(role=User.Role.ADMIN))

    created = client.post(reverse("settings:labels"), {"name": "VIP", "color": "#22C55E", "description": "Big"})
    label = Label.objects.get()
    edited = client.post(
        reverse("settings:label_edit", args=[label.pk]), {"name": "VIP+", "color": "#16a34a", "description": ""}
    )
    listed = client.get(reverse("settings:labels")).content.decode()

    assert created.status_code == edited.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.color, label.description) == ("VIP+", "#16a34a", "")
    assert 'style="--label: #16a34a">VIP+</span>' in listed
    assert client.post(reverse("settings:label_delete", args=[label.pk])).status_code == 302
    assert not Label.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "color": "#ef4444"}, "name", "This field is required."),
        ({"name": "   ", "color": "#ef4444"}, "name", "This field is required."),
        ({"name": "Refund", "color": "#ef4444"}, "name", "already"),
        ({"name": "REFUND", "color": "#ef4444"}, "name", "There is already a label named 'REFUND'"),
        ({"name": "New", "color": "red"}, "color", "A colour is written #rrggbb"),
        ({"name": "New", "color": "#ef44"}, "color", "A colour is written #rrggbb"),
        ({"name": "New", "color": "#ggg000"}, "color", "A colour is written #rrggbb"),
        ({"name": "New", "color": "#ef4444;x"}, "color", "at most 7 characters"),
        ({"name": "x" * 51, "color": "#ef4444"}, "name", "at most 50 characters"),
    ],
)
def test_bad_labels_come_back_on_the_form_with_400(client, data, field, message):
    Label.objects.create(name="Refund")
    client.force_login(make_agent(role=User.Role.ADMIN))

    response = client.post(reverse("settings:labels"), data)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert list(Label.objects.values_list("name", flat=True)) == ["Refund"]


def test_renaming_a_label_to_another_labels_name_is_refused_and_keeping_its_own_is_not():
    admin = make_agent(role=User.Role.ADMIN)
    refund, vip = label_create(name="Refund", actor=admin), label_create(name="VIP", actor=admin)

    with pytest.raises(ValidationError) as refused:
        label_update(label=vip, name="refund", color="#ef4444", description="", actor=admin)
    kept = label_update(label=refund, name="REFUND", color="#ef4444", description="", actor=admin)

    assert "name" in refused.value.message_dict and kept.name == "REFUND"


# The Django admin: superusers only, the same checks --------------------------------------------------


def test_the_django_admin_refuses_a_bad_colour_and_an_unknown_placeholder_on_its_forms(client):
    client.force_login(make_superuser())

    label = client.post(reverse("admin:inbox_label_add"), {"name": "VIP", "color": "green", "description": ""})
    canned = client.post(
        reverse("admin:inbox_cannedresponse_add"), {"shortcut": "x", "title": "X", "body": "{{order.id}}", "inbox": ""}
    )

    assert label.status_code == canned.status_code == 200  # the form again, with its errors
    assert "A colour is written #rrggbb" in label.content.decode()
    assert "Unknown placeholder {{order.id}}" in canned.content.decode()
    assert not Label.objects.exists() and not CannedResponse.objects.exists()


def test_the_x_accounts_page_carries_the_settings_nav_with_itself_current(client):
    client.force_login(make_agent(role=User.Role.ADMIN))

    text = client.get(reverse("x_accounts:list")).content.decode()

    assert '<nav class="manage-nav settings-nav" aria-label="Settings">' in text
    assert f'<a href="{reverse("x_accounts:list")}" aria-current="page">X accounts</a>' in text
