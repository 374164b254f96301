"""Public-to-private handoff: "Send a private message" links for public replies, and attributing the DMs
they start to the link, the public post and the campaign.

A link carries a short reference code in the text X prefills for the customer ("Ref K7Q2"). A DM is
attributed to a link of its account, most specific first:

1. a reference code in the DM's text (the customer may edit the prefill, so the code is read leniently);
2. X's ``initiated_via.tweet_id``: the post whose button the customer pressed, matched to our posted
   reply (``reply_post_id``) or, failing that, to the customer's post we answered (``post_id``);
3. X's ``initiated_via.welcome_message_id`` matched to the newest link with that welcome message.

Each (link, conversation) is recorded once; a conversation restarted later from another link gets a
second record, and its header shows the newest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from accounts.models import User
from inbox.models import Conversation, Message
from inbox.services.ingest import IngestResult
from inbox.services.origins import conversation_origin_record
from twitter_channel.handoff.deeplinks import (
    DeepLinkError,
    DmLink,
    dm_link_build,
    ref_code_generate,
    ref_code_phrase,
    ref_codes_in,
)
from twitter_channel.handoff.post_length import MAX_WEIGHTED_LENGTH, post_length
from twitter_channel.models import HandoffBatch, HandoffLink, HandoffStart, XAccount

_POST_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?:i/web|i|(?P<author>[A-Za-z0-9_]{1,15}))/status(?:es)?/"
    r"(?P<id>\d{1,20})(?:[/?#].*)?$"
)


class HandoffError(ValueError):
    """The link cannot be made as asked; the message says why, in words a social manager understands."""


def post_reference_parse(value: str) -> tuple[str, str]:
    """``(post id, author handle)`` from a post URL (x.com, twitter.com, mobile) or a bare numeric id;
    the handle is empty when the input does not name one. ``("", "")`` for empty input."""
    value = value.strip()
    if not value:
        return "", ""
    if value.isdigit() and len(value) <= 20:
        return value, ""
    match = _POST_URL.match(value)
    if match is None:
        raise HandoffError(
            f"Not a post: {value[:80]!r}. Paste the post's address (https://x.com/<handle>/status/<id>) or its id."
        )
    return match["id"], match["author"] or ""


def _lines(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; X (and a DM link) wants ``\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def handoff_prefill(text: str, ref_code: str) -> str:
    """The DM text X prefills: the manager's text, then the reference code on a line of its own."""
    text = _lines(text).strip()
    phrase = ref_code_phrase(ref_code)
    return f"{text}\n{phrase}" if text else phrase


def handoff_link_url(link: HandoffLink) -> str:
    return dm_link_build(
        DmLink(
            recipient_id=link.account.inbox.x_user_id,
            text=link.prefill_text,
            welcome_message_id=link.welcome_message_id,
            host=link.host,
        )
    )


def handoff_public_reply(link: HandoffLink) -> str:
    """What the social manager posts publicly: their reply, a space, then the link (X shows it as a button)."""
    url = handoff_link_url(link)
    return f"{link.reply_text} {url}" if link.reply_text else url


def reply_fits(reply_text: str) -> tuple[int, int]:
    """``(weighted length, what is left)`` of ``reply_text`` followed by a link, as X counts a post."""
    counted = post_length(f"{reply_text.strip()} https://twitter.com/messages/compose?recipient_id=1".strip())
    return counted.weighted, MAX_WEIGHTED_LENGTH - counted.weighted


def handoff_link_create(
    *,
    account: XAccount,
    created_by: User | None,
    reply_text: str = "",
    prefill_text: str = "",
    campaign: str = "",
    post: str = "",
    welcome_message_id: str = "",
    host: str = HandoffLink.Host.TWITTER,
    batch: HandoffBatch | None = None,
) -> HandoffLink:
    """Make a link for ``account`` with a fresh reference code, after checking that the public reply
    with the link fits X's 280 weighted characters and that the link itself is valid (digits for ids,
    the prefill within X's 10,000-character DM limit). ``post``: the customer's post being answered,
    as a URL or an id. Raises ``HandoffError``. Writes one row; publishes nothing."""
    reply_text = _lines(reply_text).strip()
    weighted, left = reply_fits(reply_text)
    if left < 0:
        raise HandoffError(
            f"The public reply with its link is {weighted} characters as X counts them, {-left} over "
            f"{MAX_WEIGHTED_LENGTH} (the link counts 23; emoji and CJK characters count 2)."
        )
    if len(campaign) > 100:
        raise HandoffError("A campaign name has at most 100 characters.")
    post_id, author = post_reference_parse(post)
    for _attempt in range(5):
        code = ref_code_generate()
        link = HandoffLink(
            account=account,
            ref_code=code,
            campaign=campaign.strip(),
            post_id=post_id,
            post_author=author,
            reply_text=reply_text,
            prefill_text=handoff_prefill(prefill_text, code),
            welcome_message_id=welcome_message_id.strip(),
            host=host,
            batch=batch,
            created_by=created_by,
        )
        try:
            handoff_link_url(link)
        except DeepLinkError as exc:
            raise HandoffError(str(exc)) from exc
        try:
            with transaction.atomic():
                link.save()
            return link
        except IntegrityError:
            continue  # the code was taken meanwhile: draw another
    raise HandoffError("Could not find a free reference code; try again.")


def handoff_reply_post_set(*, link: HandoffLink, post: str) -> HandoffLink:
    """Remember the public reply once it is posted, so X's ``initiated_via`` finds the link."""
    post_id, _author = post_reference_parse(post)
    link.reply_post_id = post_id
    link.save(update_fields=["reply_post_id"])
    return link


def handoff_attribute(*, account: XAccount, results: Iterable[IngestResult]) -> list[HandoffStart]:
    """Attribute the customer DMs just ingested for ``account`` to the links that started them (rules in
    the module docstring). Records a ``HandoffStart`` and tells the inbox (``conversation_origin_record``:
    an activity line, the header's origin, a live update). Safe to run twice for the same DM."""
    started = []
    for result in results:
        message = result.message
        if not result.created or message.direction != Message.Direction.INBOUND or not _carries_a_clue(message):
            continue
        found = _link_for(account, message)
        if found is None:
            continue
        link, matched_by = found
        start = _start_record(link=link, message=message, matched_by=matched_by)
        if start is not None:
            started.append(start)
    return started


def _carries_a_clue(message: Message) -> bool:
    """Whether a link could match ``message`` at all: a reference code in its text, the post it was started
    from or a welcome message. Most DMs carry none, and building the link lookups for each of them was a
    tenth of a one-DM drain's CPU."""
    return bool(message.initiated_via_post_id or message.welcome_message_id or ref_codes_in(message.text or ""))


def _link_for(account: XAccount, message: Message) -> tuple[HandoffLink, str] | None:
    links = HandoffLink.objects.filter(account=account).select_related("account__inbox")
    codes = ref_codes_in(message.text or "")
    if codes:
        link = links.filter(ref_code__in=codes).first()
        if link is not None:
            return link, HandoffStart.MatchedBy.REF_CODE
    if message.initiated_via_post_id:
        post = message.initiated_via_post_id
        link = links.filter(reply_post_id=post).first() or links.filter(post_id=post).first()
        if link is not None:
            return link, HandoffStart.MatchedBy.POST
    if message.welcome_message_id:
        link = links.filter(welcome_message_id=message.welcome_message_id).first()
        if link is not None:
            return link, HandoffStart.MatchedBy.WELCOME_MESSAGE
    return None


def _start_record(*, link: HandoffLink, message: Message, matched_by: str) -> HandoffStart | None:
    conversation_id = message.conversation_id
    if Conversation.objects.filter(pk=conversation_id, kind=Conversation.Kind.GROUP).exists():
        return None
    try:
        with transaction.atomic():
            start = HandoffStart.objects.create(
                link=link,
                conversation_id=conversation_id,
                message=message,
                matched_by=matched_by,
                started_at=message.occurred_at,
            )
            conversation_origin_record(
                conversation_id=conversation_id,
                message_id=message.pk,
                post_id=link.post_id,
                summary=handoff_summary(link),
            )
    except IntegrityError:
        return None  # this link already started this conversation
    return start


def handoff_summary(link: HandoffLink) -> str:
    parts = [f"Link {link.ref_code}"]
    if link.campaign:
        parts.append(f"campaign {link.campaign}")
    if link.post_author:
        parts.append(f"reply to @{link.post_author}")
    return " · ".join(parts)
