"""What the presence tests share: presence on Redis or in memory, and a team of agents around a conversation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import redis
from channels.layers import channel_layers

from accounts.models import User
from inbox import realtime
from inbox.models import Conversation
from inbox.services import presence_store
from inbox.services.ingest import dm_event_ingest
from tests.factories import dm, make_agent, make_inbox

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"


@pytest.fixture
def redis_mode(settings):
    """Presence and the channel layer on Redis, as in production."""
    settings.REDIS_URL = REDIS_URL
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": settings.CHANNEL_LAYER_SOCKET_TIMEOUT}],
                "prefix": "backchannel",  # what a second process started with tests.settings uses
            },
        }
    }
    channel_layers.backends.clear()
    presence_store.redis_store(REDIS_URL).clear()
    yield redis.Redis.from_url(REDIS_URL, decode_responses=True)
    presence_store.redis_store(REDIS_URL).clear()
    channel_layers.backends.clear()


@pytest.fixture
def local_mode(settings):
    """The quick start: no Redis at all, in-memory channel layer."""
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    presence_store.local_store.clear()
    yield
    presence_store.local_store.clear()
    channel_layers.backends.clear()


@dataclass
class Team:
    alice: User
    bob: User
    carol: User
    outsider: User  # an agent of another inbox only
    conversation: Conversation


def make_team_and_conversation() -> Team:
    alice, bob, carol = make_agent(name="Alice"), make_agent(name="Bob"), make_agent(name="Carol")
    outsider = make_agent(name="Olga")
    inbox = make_inbox(members=(alice, bob, carol))
    make_inbox(members=(outsider,))
    conversation = dm_event_ingest(inbox=inbox, event=dm(inbox, "2244994945")).message.conversation
    # The DM's own events go out after commit without waiting: let them reach the layer before any socket
    # joins the inbox's group, or a loaded machine delivers them in the middle of a test's exchange.
    realtime.flush()
    return Team(alice=alice, bob=bob, carol=carol, outsider=outsider, conversation=conversation)
