"""What the bulk-generation tests share: a connected account, its social manager, posts and batches."""

from __future__ import annotations

import csv
import io

import pytest

from accounts.models import User
from inbox.services.inboxes import inbox_member_add
from tests.factories import make_agent, make_inbox, make_x_account
from twitter_channel.handoff import batches as handoff_batches
from twitter_channel.handoff.batches import handoff_batch_create
from twitter_channel.models import HandoffBatch, XAccount

URL = "https://x.com/{}/status/{}"


def connected_account() -> XAccount:
    return make_x_account(make_inbox(x_user_id="783214"))


def social_manager_of(account: XAccount) -> User:
    user = make_agent(role=User.Role.SOCIAL, name="Sam Social")
    inbox_member_add(inbox=account.inbox, user=user)
    return user


def posts(n: int, first: int = 1790000000000000001) -> str:
    return "\n".join(URL.format(f"customer_{i}", first + i) for i in range(n))


class FakeClock:
    """``handoff_batches._clock``: time passes only when a link is made (``step`` seconds each)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, step: float) -> None:
        self.now, self.step = 1000.0, step
        monkeypatch.setattr(handoff_batches, "_clock", lambda: self.now)
        make = handoff_batches.handoff_link_create

        def slow_make(**kwargs):  # noqa: ANN003, ANN202
            self.now += self.step
            return make(**kwargs)

        monkeypatch.setattr(handoff_batches, "handoff_link_create", slow_make)


def make_batch(account: XAccount, manager: User, text: str, **fields) -> HandoffBatch:
    """A batch created without running it (its task is enqueued on commit, which never comes here)."""
    return handoff_batch_create(
        account=account,
        created_by=manager,
        campaign=fields.pop("campaign", "Spring delays"),
        reply_template=fields.pop("reply_template", "Sorry {author}, DM us and we'll sort it out."),
        prefill_template=fields.pop("prefill_template", "Hi, about my post:"),
        text=text,
        **fields,
    )


def read_csv(content: str) -> list[dict[str, str]]:
    """A downloaded batch CSV as rows (it starts with a BOM, for spreadsheets)."""
    assert content.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(content.removeprefix("\ufeff"))))
