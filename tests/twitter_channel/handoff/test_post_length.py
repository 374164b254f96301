"""A post's length as X counts it (``twitter_channel.handoff.post_length``): hand-worked cases and properties."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twitter_channel.handoff.post_length import (
    MAX_WEIGHTED_LENGTH,
    UrlSpan,
    code_point_weight,
    post_length,
)

CASES_FILE = Path(__file__).with_name("post_length_cases.json")
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def case_text(case: dict) -> str:
    return case["text"] * case.get("repeat", 1)


PIECES = st.sampled_from(
    [
        "a", "Z", "é", "e\u0301", "日本", "こんにちは", "안녕", "مرحبا", "שלום", "…", "—", "“", "\n", " ", ".", ",",
        "!", ")", "(", "@", "#", "😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇫🇷", "1️⃣", "❤️",
        "☺\ufe0e", "©", "\u200d", "\ufe0f", "𝐀",
        "https://example.com", "http://a.io/x?y=1", "www.example.org", "example.com/help", "example.de", "x.com",
        "support@example.com", "/path", "https://", ".com",
    ]
)  # fmt: skip
MIXED_TEXT = st.lists(st.one_of(st.text(max_size=4), PIECES), max_size=12).map("".join)
URL_PATH = st.text(alphabet="abcXYZ0189-_~/=&%", max_size=400)
HOSTS = st.sampled_from(["example.com", "a.io", "www.example.co.uk", "twitter.com", "sub.domain.example.org"])


def weighted(text: str) -> int:
    return post_length(text).weighted


@pytest.mark.parametrize("case", CASES, ids=[f"{number}:{case['note'][:40]}" for number, case in enumerate(CASES)])
def test_hand_worked_cases(case: dict) -> None:
    result = post_length(case_text(case))

    assert result.weighted == case["weighted"], case["note"]
    assert result.remaining == MAX_WEIGHTED_LENGTH - case["weighted"]
    if "valid" in case:
        assert result.valid is case["valid"], case["note"]


def test_the_table_covers_enough_cases() -> None:
    assert len(CASES) >= 30
    assert all(set(case) <= {"text", "repeat", "weighted", "valid", "note"} for case in CASES)


def test_url_spans_index_the_normalised_text_without_trailing_punctuation() -> None:
    assert post_length("Go to https://example.com/page.").urls == (UrlSpan("https://example.com/page", 6, 30),)
    assert post_length("e\u0301 www.example.com, and x.com/a!").urls == (
        UrlSpan("www.example.com", 2, 17),
        UrlSpan("x.com/a", 23, 30),
    )
    assert post_length("write to support@example.com").urls == ()


def test_weights_of_single_code_points_follow_the_ranges() -> None:
    assert [code_point_weight(cp) for cp in (0x41, 0x10FF, 0x1100, 0x200D, 0x200E, 0x201F, 0x2026, 0x2037)] == [
        100, 100, 200, 100, 200, 100, 200, 100,
    ]  # fmt: skip
    assert code_point_weight(0x1F600) == 200


@settings(deadline=None)
@given(MIXED_TEXT)
def test_adding_an_ascii_letter_adds_one(text: str) -> None:
    assert weighted(text + " x") == weighted(text + " ") + 1


@settings(deadline=None)
@given(MIXED_TEXT)
def test_adding_a_cjk_ideograph_adds_two(text: str) -> None:
    assert weighted(text + " 中") == weighted(text + " ") + 2


@settings(deadline=None)
@given(MIXED_TEXT, st.sampled_from(["http://", "https://", "HTTPS://"]), HOSTS, URL_PATH)
def test_a_url_counts_23_whatever_its_length(text: str, scheme: str, host: str, path: str) -> None:
    assert weighted(f"{scheme}{host}/{path}") == 23
    assert weighted(f"{text} {scheme}{host}/{path}") == weighted(text + " ") + 23


@settings(deadline=None)
@given(MIXED_TEXT, MIXED_TEXT)
def test_joining_with_a_space_adds_the_lengths_and_one(first: str, second: str) -> None:
    assert weighted(f"{first} {second}") == weighted(first) + 1 + weighted(second)


@settings(deadline=None)
@given(MIXED_TEXT)
def test_the_result_is_consistent(text: str) -> None:
    result = post_length(text)
    normalized = unicodedata.normalize("NFC", text)

    assert result == post_length(normalized)
    assert result.remaining == MAX_WEIGHTED_LENGTH - result.weighted
    assert not result.valid or 0 < result.weighted <= MAX_WEIGHTED_LENGTH
    assert result.weighted <= 2 * len(normalized) + 23 * len(result.urls)
    previous_end = 0
    for span in result.urls:
        assert normalized[span.start : span.end] == span.url
        assert previous_end <= span.start < span.end
        previous_end = span.end
