"""Reads for the handoff pages: who may use them, which accounts, and each link's results."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Min, OuterRef, QuerySet, Subquery

from accounts.models import User
from inbox.models import Message
from inbox.selectors import access as inbox_selectors
from twitter_channel.models import HandoffBatch, HandoffLink, HandoffStart, XAccount

HANDOFF_ROLES = (User.Role.ADMIN, User.Role.LEAD, User.Role.SOCIAL)
NOT_ALLOWED = "Only social managers, leads and admins make “Send a private message” links."


def handoff_allowed(user: User) -> bool:
    """Social managers make links; leads and admins too (they watch the results). Agents answer DMs."""
    return user.is_authenticated and user.is_active and (user.is_admin or user.role in HANDOFF_ROLES)


def handoff_accounts(user: User) -> QuerySet[XAccount]:
    """The X accounts of the inboxes ``user`` sees, whatever their connection state (a link needs only
    the account's user id)."""
    inboxes = inbox_selectors.inboxes_visible_to(user).values("pk")
    return XAccount.objects.filter(inbox__in=inboxes).select_related("inbox").order_by("inbox__handle")


def handoff_links(user: User, *, campaign: str = "") -> QuerySet[HandoffLink]:
    links = HandoffLink.objects.filter(account__in=handoff_accounts(user).values("pk")).select_related("account__inbox")
    return links.filter(campaign=campaign) if campaign else links


def handoff_campaigns(user: User) -> list[str]:
    names = handoff_links(user).exclude(campaign="").values_list("campaign", flat=True).distinct()
    return sorted(names, key=str.casefold)


@dataclass
class LinkResult:
    link: HandoffLink
    conversations: int
    median_first_reply: timedelta | None
    waiting: int  # started conversations without a reply yet


def link_results(links: list[HandoffLink]) -> list[LinkResult]:
    """For each link: how many conversations it started, and the median time from the DM that started
    each one to the business's first reply X accepted after it. Two queries whatever the number of links."""
    ids = [link.pk for link in links]
    counts = dict(
        HandoffLink.objects.filter(pk__in=ids)
        .annotate(n=Count("starts__conversation", distinct=True))
        .values_list("pk", "n")
    )
    first_reply = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            direction=Message.Direction.OUTBOUND,
            x_event_id__isnull=False,
            occurred_at__gte=OuterRef("started_at"),
        )
        .values("conversation_id")
        .annotate(first=Min("occurred_at"))
        .values("first")
    )
    waits: dict[int, list[timedelta]] = {pk: [] for pk in ids}
    waiting: dict[int, int] = dict.fromkeys(ids, 0)
    starts = HandoffStart.objects.filter(link_id__in=ids).annotate(first_reply=Subquery(first_reply))
    for link_id, started_at, replied_at in starts.values_list("link_id", "started_at", "first_reply"):
        if replied_at is None:
            waiting[link_id] += 1
        else:
            waits[link_id].append(replied_at - started_at)
    # median works on timedeltas (it sorts them and halves the sum of two); typeshed allows numbers only.
    return [
        LinkResult(
            link=link,
            conversations=counts.get(link.pk, 0),
            median_first_reply=statistics.median(waits[link.pk]) if waits[link.pk] else None,  # type: ignore[type-var]
            waiting=waiting[link.pk],
        )
        for link in links
    ]


def link_conversations(link: HandoffLink) -> QuerySet[HandoffStart]:
    return link.starts.select_related("conversation__contact").order_by("-started_at")


def handoff_batches_visible(user: User) -> QuerySet[HandoffBatch]:
    """The batches of the X accounts ``user`` sees (whoever made them), newest first."""
    accounts = handoff_accounts(user).values("pk")
    return HandoffBatch.objects.filter(account__in=accounts).select_related("account__inbox", "created_by")
