"""Deep links to X's DM composer and reference codes (``twitter_channel.handoff.deeplinks``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twitter_channel.handoff.deeplinks import (
    DM_TEXT_MAX_LENGTH,
    REF_CODE_ALPHABET,
    DeepLinkError,
    DmLink,
    dm_link_build,
    dm_link_parse,
    dm_link_validate,
    ref_code_generate,
    ref_code_phrase,
    ref_codes_in,
)

COMPOSE = "https://twitter.com/messages/compose?recipient_id=123"


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("Hi there", "Hi%20there"),
        ("Hola 👋", "Hola%20%F0%9F%91%8B"),
        ("مرحبا", "%D9%85%D8%B1%D8%AD%D8%A8%D8%A7"),
        ("line one\nline two\tend", "line%20one%0Aline%20two%09end"),
        ("Q&A #1 + 100% = ok", "Q%26A%20%231%20%2B%20100%25%20%3D%20ok"),
        ("a/b?c:d@e", "a%2Fb%3Fc%3Ad%40e"),
        ("-._~", "-._~"),
        (
            "👨\u200d👩\u200d👧 🇫🇷 1️⃣",
            "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7%20%F0%9F%87%AB%F0%9F%87%B7%201%EF%B8%8F%E2%83%A3",
        ),
        ("e\u0301", "e%CC%81"),
        ("Ref K7Q2", "Ref%20K7Q2"),
    ],
)  # fmt: skip
def test_build_percent_encodes_the_text(text: str, encoded: str) -> None:
    assert dm_link_build(DmLink(recipient_id="123", text=text)) == f"{COMPOSE}&text={encoded}"


def test_build_leaves_out_empty_parts_and_appends_the_welcome_message() -> None:
    assert dm_link_build(DmLink(recipient_id="123")) == COMPOSE
    assert (
        dm_link_build(DmLink(recipient_id="9", text="Hi", welcome_message_id="1234567890123456789", host="x.com"))
        == "https://x.com/messages/compose?recipient_id=9&text=Hi&welcome_message_id=1234567890123456789"
    )
    assert dm_link_build(DmLink(recipient_id="9", welcome_message_id="77")) == (
        "https://twitter.com/messages/compose?recipient_id=9&welcome_message_id=77"
    )


def test_the_length_limit_counts_code_points_after_nfc_and_the_text_is_kept_as_written() -> None:
    assert dm_link_parse(dm_link_build(DmLink("1", "字" * DM_TEXT_MAX_LENGTH))).text == "字" * DM_TEXT_MAX_LENGTH
    decomposed = "e\u0301" * DM_TEXT_MAX_LENGTH  # 20,000 code points, 10,000 after NFC
    assert dm_link_parse(dm_link_build(DmLink("1", decomposed))).text == decomposed
    assert dm_link_parse(dm_link_build(DmLink("1", "😀" * DM_TEXT_MAX_LENGTH))).text == "😀" * DM_TEXT_MAX_LENGTH


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (
            DmLink(recipient_id="12a"),
            "recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not '12a'.",
        ),
        (
            DmLink(recipient_id=""),
            "recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not ''.",
        ),
        (
            DmLink(recipient_id="1" * 21),
            f"recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not '{'1' * 21}'.",
        ),
        (
            DmLink(recipient_id="١٢٣"),
            "recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not '١٢٣'.",
        ),
        (
            DmLink(recipient_id="123\n"),
            "recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not '123\\n'.",
        ),
        (
            DmLink(recipient_id=123),  # type: ignore[arg-type]
            "recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not 123.",
        ),
        (
            DmLink(recipient_id="1", welcome_message_id="wm-1"),
            "welcome_message_id must be empty or a numeric Welcome Message id (1 to 20 digits 0-9), not 'wm-1'.",
        ),
        (
            DmLink(recipient_id="1", host="twitter.com."),
            "The host must be 'twitter.com' or 'x.com', not 'twitter.com.'.",
        ),
        (DmLink(recipient_id="1", host="www.x.com"), "The host must be 'twitter.com' or 'x.com', not 'www.x.com'."),
        (DmLink(recipient_id="1", text=None), "The text must be a string, not NoneType."),  # type: ignore[arg-type]
        (
            DmLink(recipient_id="1", text="a" * (DM_TEXT_MAX_LENGTH + 1)),
            "The text is 10,001 characters long; an X direct message holds at most 10,000.",
        ),
        (
            DmLink(recipient_id="1", text="ok\x00"),
            "The text has U+0000 (a control character) at character 3; X refuses it in a message (tab and line "
            "feed are the only control characters allowed; write line breaks as \\n).",
        ),
        (
            DmLink(recipient_id="1", text="one\r\ntwo"),
            "The text has U+000D (a control character) at character 4; X refuses it in a message (tab and line "
            "feed are the only control characters allowed; write line breaks as \\n).",
        ),
    ],
)
def test_validation_errors_say_what_is_wrong(link: DmLink, message: str) -> None:
    with pytest.raises(DeepLinkError) as raised:
        dm_link_build(link)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("character", "description"),
    [
        ("\x1b", "U+001B (a control character)"),
        ("\x7f", "U+007F (a control character)"),
        ("\x85", "U+0085 (a control character)"),
        ("\ud800", "U+D800 (a lone surrogate, which is not text)"),
        ("\ufeff", "U+FEFF (the byte order mark)"),
        ("\ufdd0", "U+FDD0 (a noncharacter)"),
        ("\uffff", "U+FFFF (a noncharacter)"),
        ("\U0010fffe", "U+10FFFE (a noncharacter)"),
    ],
)
def test_characters_x_refuses_are_named(character: str, description: str) -> None:
    with pytest.raises(DeepLinkError) as raised:
        dm_link_validate(DmLink(recipient_id="1", text=f"a{character}"))
    assert str(raised.value).startswith(f"The text has {description} at character 2;")


def test_deep_link_error_is_a_value_error() -> None:
    assert issubclass(DeepLinkError, ValueError)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{COMPOSE}&text=Hi%20there", DmLink("123", "Hi there")),
        ("http://twitter.com/messages/compose?recipient_id=123", DmLink("123")),
        ("https://www.twitter.com/messages/compose/?recipient_id=123", DmLink("123")),
        ("https://mobile.twitter.com/messages/compose?recipient_id=123", DmLink("123")),
        ("https://x.com/messages/compose?recipient_id=123&text=a", DmLink("123", "a", host="x.com")),
        ("HTTPS://WWW.X.COM/messages/compose?text=a&recipient_id=123", DmLink("123", "a", host="x.com")),
        (f"  {COMPOSE}&welcome_message_id=55\n", DmLink("123", welcome_message_id="55")),
        (f"{COMPOSE}&text=1+2%2B3", DmLink("123", "1 2+3")),
        (f"{COMPOSE}&text=h%C3%A9llo%0A", DmLink("123", "héllo\n")),
        (f"{COMPOSE}&text=héllo", DmLink("123", "héllo")),
        (f"{COMPOSE}&text=", DmLink("123")),
        (f"{COMPOSE}&&utm_source=x&utm_source=y&ref_src=twsrc", DmLink("123")),
        ("https://x.com/messages/compose?recipient%5Fid=7", DmLink("7", host="x.com")),
    ],
)
def test_parse_reads_links(url: str, expected: DmLink) -> None:
    assert dm_link_parse(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x.com/messages/compose?recipient_id=1", "A deep link starts with https:// (or http://);"),
        ("x.com/messages/compose?recipient_id=1", "A deep link starts with https:// (or http://);"),
        ("https:x.com/messages/compose?recipient_id=1", "A deep link starts with https:// (or http://);"),
        ("https://example.com/messages/compose?recipient_id=1", "'example.com' is not X: the link must point at"),
        ("https://x.com.evil.io/messages/compose?recipient_id=1", "'x.com.evil.io' is not X"),
        ("https://x.com:8443/messages/compose?recipient_id=1", "'x.com:8443' is not X"),
        ("https://me@x.com/messages/compose?recipient_id=1", "'me@x.com' is not X"),
        ("https://[x.com/messages/compose?recipient_id=1", "This is not a well-formed link:"),
        ("https://x.com/messages?recipient_id=1", "The path must be /messages/compose, not '/messages'."),
        ("https://x.com/messages/compose//?recipient_id=1", "The path must be /messages/compose, not"),
        ("https://x.com/?recipient_id=1", "The path must be /messages/compose, not '/'."),
        ("https://x.com/messages/compose", "The link names no recipient: it needs ?recipient_id=<numeric X user id>."),
        ("https://x.com/messages/compose?recipient_id=&text=a", "The link names no recipient"),
        ("https://x.com/messages/compose?recipient_id=abc", "recipient_id must be the recipient's numeric X user id"),
        ("https://x.com/messages/compose?recipient_id=%31%32", None),
        ("https://x.com/messages/compose?recipient_id=1&recipient_id=2", "The link gives recipient_id more than once;"),
        ("https://x.com/messages/compose?recipient_id=1&text=a&text=b", "The link gives text more than once;"),
        ("https://x.com/messages/compose?recipient_id=1&text=a#b", "The link has a '#' fragment, which X never reads;"),
        ("https://x.com/messages/compose?recipient_id=1&text=a b", "The link has a raw U+0020 (a space) at character"),
        ("https://x.com/messages/compose?recipient_id=1&text=a\tb", "The link has a raw U+0009 (a control character)"),
        ("https://x.com/messages/compose?recipient_id=1&text=100%", "The text parameter has a '%' not followed by"),
        ("https://x.com/messages/compose?recipient_id=1&text=%E2%82", "The text parameter has percent-escapes that"),
        ("https://x.com/messages/compose?recipient_id=1&text=%00", "The text has U+0000 (a control character)"),
        ("https://x.com/messages/compose?recipient_id=1&welcome_message_id=x", "welcome_message_id must be empty"),
        (
            f"https://x.com/messages/compose?recipient_id=1&text={'a' * (DM_TEXT_MAX_LENGTH + 1)}",
            "The text is 10,001 characters long; an X direct message holds at most 10,000.",
        ),
    ],
)
def test_parse_errors_say_what_is_wrong(url: str, message: str | None) -> None:
    if message is None:  # percent-encoded digits are digits
        assert dm_link_parse(url).recipient_id == "12"
        return
    with pytest.raises(DeepLinkError) as raised:
        dm_link_parse(url)
    assert str(raised.value).startswith(message), str(raised.value)


def test_parse_refuses_what_is_not_a_string() -> None:
    with pytest.raises(DeepLinkError, match="A deep link is a string, not bytes."):
        dm_link_parse(b"https://x.com/messages/compose?recipient_id=1")  # type: ignore[arg-type]


IDS = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs"),
        include_characters="\t\n",
        exclude_characters="\ufeff\ufffe\uffff",
    ),
    max_size=300,
).filter(lambda text: not any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE for c in text))
LINKS = st.builds(
    DmLink,
    recipient_id=IDS,
    text=st.one_of(TEXT, st.sampled_from(["", "+", "%", "&text=x", "#", "%20", "a+b=c&d", "\n", " "])),
    welcome_message_id=st.one_of(st.just(""), IDS),
    host=st.sampled_from(["twitter.com", "x.com"]),
)


@settings(max_examples=300, deadline=None)
@given(LINKS)
def test_parse_reads_back_what_build_wrote(link: DmLink) -> None:
    assert dm_link_parse(dm_link_build(link)) == link


@settings(max_examples=300, deadline=None)
@given(LINKS)
def test_a_built_link_is_plain_ascii_with_ampersands_only_between_parameters(link: DmLink) -> None:
    url = dm_link_build(link)
    parts = urlsplit(url)

    assert url.isascii()
    assert not {" ", "#", "+", "\n", "\t"} & set(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", link.host, "/messages/compose", "")
    names = [pair.partition("=")[0] for pair in parts.query.split("&")]
    assert names == ["recipient_id"] + ["text"] * bool(link.text) + ["welcome_message_id"] * bool(
        link.welcome_message_id
    )


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Hi! Ref K7Q2", ["K7Q2"]),
        ("ref: k7q2 please", ["K7Q2"]),
        ("REF#K7Q2", ["K7Q2"]),
        ("ref #k7q2", ["K7Q2"]),
        ("Ref. K7Q2.", ["K7Q2"]),
        ("ref-k7q2", ["K7Q2"]),
        ("ref :  K7Q2", ["K7Q2"]),
        ("(Ref K7Q2)", ["K7Q2"]),
        ("Ref K7Q2, and ref: AB23, again Ref k7q2", ["K7Q2", "AB23"]),
        ("my order ref 9XY8WZ34 is late", ["9XY8WZ34"]),
        ("preference k7q2", []),
        ("xRef K7Q2", []),
        ("Ref K7Q2X9Z3W", []),
        ("Ref K7Q2é", []),
        ("Ref K7Q2_", []),
        ("RefK7Q2", []),
        ("Ref\nK7Q2", []),
        ("Ref K0Q2", []),
        ("Ref K1Q2", []),
        ("Ref KOQL", []),
        ("ref number 5", []),
        ("ref: see above", []),
        ("Ref 2345", []),
        ("Ref K7Q", []),
        ("", []),
    ],
)
def test_ref_codes_in_finds_codes_however_ref_is_written(text: str, codes: list[str]) -> None:
    assert ref_codes_in(text) == codes


def test_ref_code_generate_draws_mixed_codes_from_the_alphabet() -> None:
    codes = [ref_code_generate() for _ in range(200)]

    assert all(len(code) == 4 and set(code) <= set(REF_CODE_ALPHABET) for code in codes)
    assert all(any(c.isdigit() for c in code) and any(c.isalpha() for c in code) for code in codes)
    assert len(set(codes)) > 190
    assert len(ref_code_generate(8)) == 8
    assert not set("0O1IL") & set(REF_CODE_ALPHABET)
    assert REF_CODE_ALPHABET == "".join(sorted(set(REF_CODE_ALPHABET))) and REF_CODE_ALPHABET.isupper()


@pytest.mark.parametrize("length", [0, 3, 9])
def test_ref_code_generate_refuses_other_lengths(length: int) -> None:
    with pytest.raises(ValueError, match=f"A reference code has 4 to 8 characters, not {length}."):
        ref_code_generate(length)


def test_ref_code_phrase() -> None:
    assert ref_code_phrase("K7Q2") == "Ref K7Q2"
    assert ref_code_phrase("k7q2") == "Ref K7Q2"
    for bad in ("K0Q2", "KQXZ", "2345", "K7Q", "K7 Q2"):
        with pytest.raises(ValueError, match="is not a reference code"):
            ref_code_phrase(bad)


CODES = st.text(alphabet=REF_CODE_ALPHABET, min_size=4, max_size=8).filter(
    lambda code: any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
)
SURROUNDINGS = st.one_of(
    st.text(max_size=40), st.sampled_from(["ref", "Ref:", "ref #", "preference", "REF 23"])
).filter(lambda text: not ref_codes_in(text))


@settings(max_examples=300, deadline=None)
@given(CODES, SURROUNDINGS, SURROUNDINGS)
def test_a_prefilled_phrase_is_found_in_any_surrounding_text(code: str, before: str, after: str) -> None:
    assert code in ref_codes_in(f"{before} {ref_code_phrase(code)} {after}")
    assert ref_codes_in(ref_code_phrase(code)) == [code]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=4, max_value=8))
def test_generated_codes_make_phrases_that_are_found(length: int) -> None:
    code = ref_code_generate(length)
    assert ref_codes_in(f"Hello! {ref_code_phrase(code)}") == [code]
