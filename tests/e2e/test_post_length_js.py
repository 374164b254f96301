"""The browser's post length counter (``static/js/handoff/post_length.js``) agrees with the Python one.

The module is loaded into a blank page of Debian's Chromium as an inline ES module; no server needed.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page

from tests.twitter_channel.handoff.test_post_length import CASES, case_text
from twitter_channel.handoff.post_length import GENERIC_TLDS, WEIGHT_ONE_RANGES, PostLength, post_length

pytestmark = pytest.mark.e2e

MODULE = Path(settings.BASE_DIR) / "static" / "js" / "handoff" / "post_length.js"

PIECES = [
    *"abcxyzABCXYZ0123456789",
    *".,!?:;()[]'\"@#$/-_~&=%+*",
    " ", "  ", "\n", "\t", "\u00a0", "\u3000",
    "é", "è", "ñ", "ü", "ç", "e\u0301", "A\u030a", "\u1100\u1161", "ß", "ø",
    "日", "本", "語", "字", "中", "こんにちは", "カタカナ", "안녕", "مرحبا", "שלום", "Привет",
    "…", "“", "”", "‘", "’", "–", "—", "•", "′", "″", "€",
    "😀", "🙏", "👍🏽", "👋🏿", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "❤️\u200d🔥", "🇫🇷", "🇯🇵", "🇩", "1️⃣", "#️⃣",
    "❤️", "❤", "☺\ufe0e", "©", "©️", "®", "™", "✅", "\u200d", "\ufe0f", "\ufe0e", "🏻", "𝐀", "𠀀",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "https://", "http://", "HTTPS://", "www.", "example.com", "EXAMPLE.COM", "a.io", ".com", ".de", ".co.uk",
    "example.de", "t.co", "x.com", "/path", "/wiki/Foo_(bar)", "?q=1&r=2", "#frag", ":8080", "@", "user@",
    "support@example.com", "https://example.com/a", "www.example.org", "example.com/help", "localhost",
    "https://twitter.com/messages/compose?recipient_id=123&text=Hi%20there", "xn--bcher-kva.com", "пример.рф",
]  # fmt: skip


def random_texts(count: int, seed: int = 20240914) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40))) for _ in range(count)]


@pytest.fixture
def js_page(page: Page) -> Page:
    page.set_content("<!doctype html><title>post length</title>")
    source = MODULE.read_text(encoding="utf-8")
    page.add_script_tag(
        content=f"{source}\nwindow.postLengthModule = {{ postLength, GENERIC_TLDS, WEIGHT_ONE_RANGES }};",
        type="module",
    )
    page.wait_for_function("() => window.postLengthModule !== undefined")
    return page


def utf16_index(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def as_js(result: PostLength, text: str) -> dict:
    """The Python result in the JS shape (URL indices in UTF-16 units of the NFC text)."""
    normalized = unicodedata.normalize("NFC", text)
    return {
        "weighted": result.weighted,
        "remaining": result.remaining,
        "valid": result.valid,
        "urls": [
            {"url": span.url, "start": utf16_index(normalized, span.start), "end": utf16_index(normalized, span.end)}
            for span in result.urls
        ],
    }


def js_results(page: Page, texts: list[str]) -> list[dict]:
    return page.evaluate("(texts) => texts.map((text) => window.postLengthModule.postLength(text))", texts)


def test_the_rule_constants_are_the_same(js_page: Page) -> None:
    constants = js_page.evaluate("() => window.postLengthModule")
    assert constants["GENERIC_TLDS"] == list(GENERIC_TLDS)
    assert [tuple(pair) for pair in constants["WEIGHT_ONE_RANGES"]] == list(WEIGHT_ONE_RANGES)


def test_every_hand_worked_case(js_page: Page) -> None:
    texts = [case_text(case) for case in CASES]
    wrong = [
        (case["note"], result["weighted"], case["weighted"])
        for case, result in zip(CASES, js_results(js_page, texts), strict=True)
        if result["weighted"] != case["weighted"] or result["valid"] is not case.get("valid", result["valid"])
    ]
    assert not wrong


def test_random_texts_count_the_same_as_in_python(js_page: Page) -> None:
    texts = random_texts(600)
    expected = [as_js(post_length(text), text) for text in texts]
    actual = js_results(js_page, texts)
    differing = [(text, js, py) for text, js, py in zip(texts, actual, expected, strict=True) if js != py]

    assert not differing, differing[:5]
    assert sum(bool(result["urls"]) for result in expected) > 50, "the random texts should hold many URLs"
