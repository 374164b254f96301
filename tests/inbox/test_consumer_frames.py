"""No websocket frame kills its socket: hostile frames get ``{"event": "error", "detail": ...}`` and the
socket stays open (it answers a ping afterwards), through the whole ASGI application on Redis.

A 10,000-deep JSON frame used to raise ``RecursionError`` inside the consumer and close the sender's
socket. The cases below are the known ones; the hypothesis test generates the rest.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.consumers import MAX_FRAME_CHARS
from tests.factories import make_agent
from tests.helpers import inbox_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_channel_layer")]

DEEP = 10_000
NOT_VISIBLE = "does not exist or is not in one of your inboxes"


async def answer(communicator: WebsocketCommunicator, frame: str | bytes) -> dict[str, Any]:
    """Send ``frame``, return the one frame the socket answers with."""
    # As the server hands frames over, empty ones included (WebsocketCommunicator.send_to refuses those).
    await communicator.send_input({"type": "websocket.receive", "bytes" if isinstance(frame, bytes) else "text": frame})
    return await communicator.receive_json_from(timeout=30)


async def still_open(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"action": "ping"})
    assert await communicator.receive_json_from(timeout=30) == {"event": "pong"}
    assert not communicator.future.done(), "the consumer ended"


def error(detail_part: str) -> Any:
    class Matches:
        def __eq__(self, other: object) -> bool:
            return (
                isinstance(other, dict)
                and other.get("event") == "error"
                and detail_part in other.get("detail", "")
                and set(other) == {"event", "detail"}
            )

        def __repr__(self) -> str:
            return f"an error mentioning {detail_part!r}"

    return Matches()


KNOWN_HOSTILE_FRAMES = [
    pytest.param("[" * DEEP + "]" * DEEP, error("Frame too large"), id="10,000-deep array"),
    pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, error("Frame too large"), id="10,000-deep object"),
    pytest.param("[" * 1500 + "]" * 1500, error("nested too deeply"), id="1,500-deep array within the size limit"),
    pytest.param('{"action": "ping", "pad": "' + "x" * 1_000_000 + '"}', error("Frame too large"), id="1 MB frame"),
    pytest.param(b"\x00\xff" * 50_000, error("not binary"), id="100 kB binary frame"),
    pytest.param(b"", error("not binary"), id="empty binary frame"),
    pytest.param("", error("Not valid JSON"), id="empty text frame"),
    pytest.param('{"action": "presence", "conversation_id": NaN, "state": "viewing"}', error("NaN"), id="NaN"),
    pytest.param('{"action": "presence_query", "conversation_id": Infinity}', error("Infinity"), id="Infinity"),
    pytest.param('{"action": "presence_query", "conversation_id": -Infinity}', error("Infinity"), id="-Infinity"),
    pytest.param(
        '{"action": "presence_query", "conversation_id": 1e999999}', error("must be an integer"), id="1e999999"
    ),
    pytest.param(
        '{"action": "presence_query", "conversation_id": ' + "9" * 4000 + "}", error(NOT_VISIBLE), id="4,000 digits"
    ),
    pytest.param('{"action": "\\ud800"}', error("Unknown action '\\ud800'"), id="lone surrogate"),
    pytest.param(
        '{"action": "presence", "conversation_id": 1, "state": "\\udc00\\ud800"}',
        error("Unknown state"),
        id="reversed pair",
    ),
    pytest.param(
        '{"action": "presence", "conversation_id": 1, "state": ' + "[" * 900 + "]" * 900 + "}",
        error("Unknown state [[[[...]]]]"),
        id="900-deep state",
    ),
    pytest.param('{"action": "presence", "conversation_id": "\\u0000"}', error("must be an integer"), id="NUL"),
    pytest.param("\ufeff{}", error("Not valid JSON"), id="byte order mark"),
    pytest.param("null", error("Unknown action None"), id="null"),
]


@pytest.mark.parametrize("frame, expected", KNOWN_HOSTILE_FRAMES)
async def test_a_hostile_frame_gets_an_error_and_the_socket_stays_open(frame, expected):
    agent = await sync_to_async(make_agent)()
    communicator = await inbox_socket(await sync_to_async(session_cookie)(agent))

    assert await answer(communicator, frame) == expected

    await still_open(communicator)
    await communicator.disconnect()


async def test_a_flood_of_bad_frames_gets_one_error_each_and_the_socket_stays_open():
    agent = await sync_to_async(make_agent)()
    communicator = await inbox_socket(await sync_to_async(session_cookie)(agent))
    flood = ["{not json", "[" * 5000 + "]" * 5000, '{"action": "launch"}', "NaN"] * 250

    for frame in flood:
        await communicator.send_to(text_data=frame)
    answers = [await communicator.receive_json_from(timeout=30) for _ in flood]

    assert all(a["event"] == "error" for a in answers)
    await still_open(communicator)
    await communicator.disconnect()


# Generated -----------------------------------------------------------------------------------------------

# Any character, lone surrogates and NUL included (they reach the consumer as JSON escapes).
any_char = st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\x00", "\ufffe"]))
strings = st.text(alphabet=any_char, max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | strings,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4),
    max_leaves=12,
)
actions = st.fixed_dictionaries(
    {"action": st.sampled_from(["ping", "presence", "presence_query", "PRESENCE", "", "left"]) | strings},
    optional={
        "conversation_id": json_values | st.integers(),
        "state": json_values | st.sampled_from(["viewing", "left"]),
    },
)


def encoded(value: Any) -> str:
    return json.dumps(value)  # NaN, Infinity and surrogates come out as Python writes them


frames = st.one_of(
    actions.map(encoded),
    json_values.map(encoded),
    strings,  # mostly not JSON
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=MAX_FRAME_CHARS - 10, max_value=MAX_FRAME_CHARS + 10).map(
        lambda n: '"' + "x" * (n - 2) + '"'
    ),
)


@given(batch=st.lists(frames, min_size=1, max_size=8))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_hostile_frames_never_kill_the_socket(batch, hostile_agent_cookie):
    """The agent sees no conversation, so every frame but a ping is refused with an error."""

    async def exchange() -> None:
        communicator = await inbox_socket(hostile_agent_cookie)
        for frame in batch:
            is_ping = isinstance(frame, str) and _is_ping(frame)
            got = await answer(communicator, frame)
            assert got == ({"event": "pong"} if is_ping else error("")), frame
        await still_open(communicator)
        assert await communicator.receive_nothing(timeout=0.05)
        await communicator.disconnect()

    async_to_sync(exchange)()


def _is_ping(frame: str) -> bool:
    """Whether the consumer must answer ``frame`` with a pong: a ping in plain JSON within the size limit."""

    def refuse(name: str) -> None:
        raise ValueError(name)

    if len(frame) > MAX_FRAME_CHARS:
        return False
    try:
        content = json.loads(frame, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return isinstance(content, dict) and content.get("action") == "ping"


@pytest.fixture
def hostile_agent_cookie() -> bytes:
    return session_cookie(make_agent())
