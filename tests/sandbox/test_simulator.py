"""The customer simulator: pages where a person acts as a sandbox user and DMs a business account."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import requests

from tests.xsandbox import BUSINESS_ID, CUSTOMER_ID, Sandbox

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
THREAD = f"/simulator/maria_codes/c/{CUSTOMER_ID}-{BUSINESS_ID}/"
FIELDS = "dm_event.fields=id,text,event_type,sender_id,participant_ids,dm_conversation_id,attachments"


class _Textarea(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id, self.inside, self.value = element_id, False, None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "textarea" and dict(attrs).get("id") == self.element_id:
            self.inside, self.value = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.value += data


def textarea(page: str, element_id: str) -> str:
    parser = _Textarea(element_id)
    parser.feed(page)
    assert parser.value is not None, f"no textarea #{element_id}"
    # HTML drops one newline right after <textarea>; browsers show what follows.
    return parser.value[1:] if parser.value.startswith("\n") else parser.value


def post(sandbox: Sandbox, path: str, data: dict | None = None, **kwargs) -> requests.Response:
    return requests.post(sandbox.base_url + path, data=data, allow_redirects=False, timeout=10, **kwargs)


def get(sandbox: Sandbox, path: str) -> requests.Response:
    return requests.get(sandbox.base_url + path, timeout=10)


def offer(options: list[dict]) -> dict:
    """A control-API message from the business to María offering quick-reply options."""
    return {"to": "maria_codes", "text": "How can we help?", "quick_reply": {"type": "options", "options": options}}


def business_events(sandbox: Sandbox, query: str = FIELDS) -> list[dict]:
    response = sandbox.api("GET", f"/2/dm_events?{query}", sandbox.token("AcmeSupport"))
    assert response.status_code == 200, response.text
    return response.json().get("data", [])


def test_home_lists_users_with_business_accounts_marked(sandbox: Sandbox):
    page = get(sandbox, "/").text

    assert 'href="/simulator/maria_codes/"' in page and 'href="/simulator/AcmeSupport/"' in page
    assert re.search(r"@AcmeSupport</span>\s*<span class=\"badge business\">Business</span>", page)
    assert "@maria_codes</span>\n" in page


def test_create_user_through_the_form_then_act_as_them(sandbox: Sandbox):
    response = post(sandbox, "/", {"username": "new_person", "name": "Nuevo Ñandú", "avatar_url": ""})

    assert response.status_code == 303 and response.headers["location"] == "/simulator/new_person/"
    users = {u["username"]: u for u in sandbox.control("GET", "users")}
    assert users["new_person"]["name"] == "Nuevo Ñandú" and not users["new_person"]["is_business"]
    assert "Nuevo Ñandú" in get(sandbox, "/simulator/new_person/").text


def test_create_business_user_with_avatar(sandbox: Sandbox):
    form = {"username": "ShopCo", "name": "Shop Co", "avatar_url": "https://example.com/a.png", "is_business": "1"}

    post(sandbox, "/", form)

    users = {u["username"]: u for u in sandbox.control("GET", "users")}
    assert users["ShopCo"]["is_business"] and users["ShopCo"]["profile_image_url"] == "https://example.com/a.png"


def test_bad_username_answers_400_with_the_reason_and_keeps_the_form(sandbox: Sandbox):
    response = post(sandbox, "/", {"username": "not valid!", "name": "Kept name"})

    assert response.status_code == 400
    text = html.unescape(response.text)
    assert "username: 1 to 15 letters, digits or '_'" in text
    assert 'value="Kept name"' in text
    assert "not valid!" not in [u["username"] for u in sandbox.control("GET", "users")]


def test_taken_username_and_bad_avatar_are_refused(sandbox: Sandbox):
    taken = post(sandbox, "/", {"username": "MARIA_CODES", "name": "x"})
    bad_avatar = post(sandbox, "/", {"username": "okname", "name": "x", "avatar_url": "javascript:alert(1)"})

    assert taken.status_code == 400 and "username @MARIA_CODES is taken" in taken.text
    assert bad_avatar.status_code == 400 and "avatar URL" in bad_avatar.text


def test_customer_sends_a_dm_that_the_business_lists_with_get_dm_events(sandbox: Sandbox):
    opened = post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport"})
    assert opened.status_code == 303 and opened.headers["location"] == THREAD

    sent = post(sandbox, THREAD + "send", {"text": "Hola 👋 my order #4417 hasn't arrived\r\nsecond line"})

    assert sent.status_code == 303 and sent.headers["location"] == THREAD
    [event] = business_events(sandbox)
    assert event["text"] == "Hola 👋 my order #4417 hasn't arrived\nsecond line"
    assert event["sender_id"] == CUSTOMER_ID and event["dm_conversation_id"] == f"{CUSTOMER_ID}-{BUSINESS_ID}"
    page = get(sandbox, THREAD).text
    assert "Hola 👋 my order #4417 hasn&#x27;t arrived<br>second line" in page


def test_conversation_list_shows_last_message(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport", "text": "first"})
    sandbox.control("POST", "users/AcmeSupport/messages", {"to": "maria_codes", "text": "We are on it"})

    page = get(sandbox, "/simulator/maria_codes/").text

    assert f'href="{THREAD}">Acme Support (@AcmeSupport)</a>' in page
    assert "Acme Support: We are on it" in page


def test_empty_message_is_refused_with_400(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport"})

    response = post(sandbox, THREAD + "send", {"text": "  "})

    assert response.status_code == 400 and "Write a message or attach an image." in response.text
    assert business_events(sandbox) == []


def test_image_and_gif_attachments_are_sent_and_shown_to_participants_only(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport"})

    post(sandbox, THREAD + "send", {"text": ""}, files={"attachment": ("pic.png", PNG, "image/png")})
    post(sandbox, THREAD + "send", {"text": "a gif"}, files={"attachment": ("a.gif", GIF, "image/gif")})

    gif_event, png_event = business_events(sandbox)
    assert png_event["attachments"]["media_keys"][0].startswith("3_")
    assert gif_event["attachments"]["media_keys"][0].startswith("16_")
    media_id = png_event["attachments"]["media_keys"][0].split("_")[1]
    assert f'src="/simulator/maria_codes/media/{media_id}"' in get(sandbox, THREAD).text
    image = get(sandbox, f"/simulator/maria_codes/media/{media_id}")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    assert get(sandbox, f"/simulator/AcmeSupport/media/{media_id}").status_code == 200
    assert get(sandbox, f"/simulator/kenji_t/media/{media_id}").status_code == 404


def test_a_file_that_is_not_an_image_is_refused(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport"})

    response = post(sandbox, THREAD + "send", {"text": "hi"}, files={"attachment": ("x.png", b"%PDF-1.4", "image/png")})

    assert response.status_code == 400 and "PNG, JPEG, WebP or GIF" in response.text
    assert business_events(sandbox) == []


def test_compose_deep_link_prefills_the_text(sandbox: Sandbox):
    text = "¡Hola! Pedido #4417 & café ☕ + 2 items\nSegunda línea 100%"
    link = "/messages/compose?" + urlencode({"recipient_id": BUSINESS_ID, "text": text})

    response = get(sandbox, link)

    assert response.status_code == 200
    assert "Send a private message to Acme Support" in response.text
    assert textarea(response.text, "text") == text


def test_compose_sends_as_the_chosen_user_and_opens_the_thread(sandbox: Sandbox):
    link = "/messages/compose?" + urlencode({"recipient_id": BUSINESS_ID, "text": "x", "as": "maria_codes"})
    assert re.search(r'<option value="maria_codes" selected>', get(sandbox, link).text)

    form = {"recipient_id": BUSINESS_ID, "as": "maria_codes", "text": "Order #1 & more\r\n🙂"}
    response = post(sandbox, "/messages/compose", {**form, "welcome_message_id": "9"})

    assert response.status_code == 303 and response.headers["location"] == THREAD
    [event] = business_events(sandbox)
    assert event["text"] == "Order #1 & more\n🙂" and event["sender_id"] == CUSTOMER_ID


def test_compose_without_a_sender_keeps_the_text(sandbox: Sandbox):
    response = post(sandbox, "/messages/compose", {"recipient_id": BUSINESS_ID, "text": "keep me"})

    assert response.status_code == 400 and "Choose who you are." in response.text
    assert textarea(response.text, "text") == "keep me"


def test_compose_to_an_unknown_recipient_is_a_404_page(sandbox: Sandbox):
    response = get(sandbox, "/messages/compose?recipient_id=123&text=hi")

    assert response.status_code == 404
    assert "No sandbox user has the id" in html.unescape(response.text) and "<h1>Not found</h1>" in response.text


def test_quick_reply_buttons_answer_with_label_and_metadata(sandbox: Sandbox):
    options = [
        {"label": "Track my order", "description": "Where is it?", "metadata": "track"},
        {"label": "Talk to a person", "description": "An agent answers", "metadata": "human"},
    ]
    sent = sandbox.control("POST", "users/AcmeSupport/messages", offer(options))
    page = get(sandbox, THREAD).text
    assert "Track my order" in page and "An agent answers" in page
    assert f'name="event_id" value="{sent["dm_event_id"]}"' in page

    assert get(sandbox, THREAD + "events.json").json()["quick_reply_key"] == sent["dm_event_id"]

    response = post(sandbox, THREAD + "quick-reply", {"event_id": sent["dm_event_id"], "option": "1"})

    assert response.status_code == 303
    assert business_events(sandbox)[0]["text"] == "Talk to a person"
    poll = get(sandbox, THREAD + "events.json").json()
    assert poll["quick_reply_key"] == "" and "Track my order" not in poll["quick_replies_html"]
    events = poll["events"]
    assert events[-1]["quick_reply_response"] == {"type": "options", "metadata": "human"}
    assert events[-1]["sender_username"] == "maria_codes"
    assert "Track my order" not in get(sandbox, THREAD).text
    again = post(sandbox, THREAD + "quick-reply", {"event_id": sent["dm_event_id"], "option": "0"})
    assert again.status_code == 400 and "no longer offered" in again.text


def test_poll_returns_only_newer_events_with_escaped_html(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport", "text": "first"})
    first = get(sandbox, THREAD + "events.json").json()
    assert [e["text"] for e in first["events"]] == ["first"]

    sandbox.api("POST", f"/2/dm_conversations/with/{CUSTOMER_ID}/messages", sandbox.token(),
                json={"text": "<script>alert('reply')</script>"})  # fmt: skip
    newer = get(sandbox, THREAD + f"events.json?after={first['last_seq']}").json()
    nothing = get(sandbox, THREAD + f"events.json?after={newer['last_seq']}").json()

    assert [e["text"] for e in newer["events"]] == ["<script>alert('reply')</script>"]
    assert "&lt;script&gt;alert(&#x27;reply&#x27;)&lt;/script&gt;" in newer["events"][0]["html"]
    assert "<script>" not in newer["events"][0]["html"]
    assert nothing["events"] == [] and nothing["last_seq"] == newer["last_seq"]
    assert get(sandbox, THREAD + "events.json?after=abc").status_code == 400


def test_user_text_is_escaped_on_every_page(sandbox: Sandbox):
    post(sandbox, "/", {"username": "evil", "name": "<b>Evil</b>"})
    post(sandbox, "/simulator/evil/dm", {"to": "AcmeSupport", "text": "<script>alert(1)</script>"})

    home = get(sandbox, "/").text
    thread = get(sandbox, "/simulator/AcmeSupport/").text + get(sandbox, "/simulator/evil/").text

    assert "<b>Evil</b>" not in home and "&lt;b&gt;Evil&lt;/b&gt;" in home
    assert "<script>alert(1)</script>" not in thread and "&lt;script&gt;alert(1)&lt;/script&gt;" in thread


def test_group_create_join_and_leave_are_participant_events_in_the_api(sandbox: Sandbox):
    created = post(sandbox, "/simulator/maria_codes/groups",
                   {"participants": ["AcmeSupport", "kenji_t"], "text": "Group hello"})  # fmt: skip
    assert created.status_code == 303
    conversation_id = created.headers["location"].split("/c/")[1].strip("/")

    left = post(sandbox, f"/simulator/kenji_t/groups/{conversation_id}/leave")
    joined = post(sandbox, f"/simulator/tom_h/groups/{conversation_id}/join")

    assert left.status_code == 303 and joined.status_code == 303
    assert joined.headers["location"] == f"/simulator/tom_h/c/{conversation_id}/"
    events = business_events(sandbox)[::-1]
    assert [e["event_type"] for e in events] == ["ParticipantsJoin", "MessageCreate", "ParticipantsLeave",
                                                 "ParticipantsJoin"]  # fmt: skip
    assert sorted(events[0]["participant_ids"]) == sorted([CUSTOMER_ID, BUSINESS_ID, "783214"])
    assert events[2]["participant_ids"] == ["783214"] and events[3]["participant_ids"] == ["944480690"]
    assert all(e["dm_conversation_id"] == conversation_id for e in events)
    kenji = get(sandbox, f"/simulator/kenji_t/c/{conversation_id}/").text
    assert "You left this group" in kenji and "Join again" in kenji


def test_group_needs_two_others_and_a_message(sandbox: Sandbox):
    one = post(sandbox, "/simulator/maria_codes/groups", {"participants": ["kenji_t"], "text": "hi"})
    silent = post(sandbox, "/simulator/maria_codes/groups", {"participants": ["kenji_t", "tom_h"], "text": ""})

    assert one.status_code == 400 and "A group needs 2 to 49 other people." in one.text
    assert silent.status_code == 400 and "A group starts with a message" in silent.text
    assert 'value="kenji_t"\n        checked' in silent.text


def test_unknown_user_and_foreign_thread_are_404_pages(sandbox: Sandbox):
    post(sandbox, "/simulator/maria_codes/dm", {"to": "AcmeSupport", "text": "private"})

    assert get(sandbox, "/simulator/nobody/").status_code == 404
    foreign = get(sandbox, f"/simulator/kenji_t/c/{CUSTOMER_ID}-{BUSINESS_ID}/")
    assert foreign.status_code == 404 and "private" not in foreign.text
    assert get(sandbox, f"/simulator/kenji_t/c/{CUSTOMER_ID}-{BUSINESS_ID}/events.json").status_code == 404
