"""How long X counts a public post, for the deep-link post composer (issue 9).

The rules are twitter-text's configuration v3: the text is NFC-normalised, then every code point
weighs 100 if it falls in one of ``WEIGHT_ONE_RANGES`` and 200 otherwise, every URL weighs 2300 (23
characters) whatever its length, and every emoji sequence weighs 200 (2 characters) however many code
points it has. The displayed count is the weighted sum divided by 100; a post is valid up to 280.
``static/js/handoff/post_length.js`` implements the same rules for the live counter in the browser
and must stay in step with this module (``tests/e2e/test_post_length_js.py`` compares the two).

Emoji are found as twitter-text finds them (a sequence regex, not grapheme clusters): a pair of
regional indicators (a flag), a keycap (``[#*0-9]`` + optional U+FE0F + U+20E3), or one or more
Extended_Pictographic code points joined by U+200D, each optionally followed by U+FE0F, a skin-tone
modifier or a tag sequence. A pictograph followed by U+FE0E asks for text presentation and is no
emoji; ©, ® and ™ are emoji only with U+FE0F (bare, © and ® weigh 1 as ordinary characters).

URL detection is a simplification of twitter-text's extractor:

- ``http://`` or ``https://`` URLs whose host is dot-separated labels (letters, marks, digits,
  inner hyphens) ending in any ASCII top-level domain of 2+ letters or an ``xn--`` one. twitter-text
  checks the TLD against IANA's list; any real ASCII TLD is accepted here, IDN TLDs such as ``.рф``
  are not (those URLs are counted character by character).
- Bare ASCII domains (``example.com/path``, ``www.example.com``) whose TLD is in ``GENERIC_TLDS``
  (common generic TLDs, a subset of IANA's list) or any two letters (standing for every ccTLD, plus
  some unassigned pairs). As in twitter-text, ``name.cc`` with a two-letter TLD, a single label and
  nothing after it (``node.js``, ``example.de``) is no URL, except ``t.co``; ``example.de/x`` and
  ``www.example.de`` are.
- A URL must not follow a letter, digit, ``@``, ``$`` or ``#`` (so e-mail addresses and
  ``@handles.com`` are no URLs); a bare domain must not follow ``.``, ``_``, ``/`` or ``-`` either.
- After the host come an optional port and a path, query or fragment made of URL characters (ASCII
  URL punctuation, Latin accents, Cyrillic). Trailing ``.,!?:;)]'"`` is left out of the URL unless a
  closing bracket balances an opening one inside it (``…/Foo_(bar)``).

twitter-text also marks a post invalid when it contains U+FFFE, U+FEFF or U+FFFF; so does this module.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
TRANSFORMED_URL_LENGTH = 23
WEIGHT_ONE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
)

GENERIC_TLDS: tuple[str, ...] = (
    "academy", "agency", "app", "art", "asia", "bank", "bar", "bio", "biz", "blog", "boutique", "build",
    "business", "cafe", "capital", "care", "careers", "center", "chat", "city", "click", "cloud", "club",
    "codes", "coffee", "com", "community", "company", "consulting", "coop", "dating", "design", "dev",
    "digital", "directory", "earth", "eco", "edu", "email", "energy", "events", "expert", "fashion",
    "finance", "fit", "foundation", "fun", "game", "games", "gallery", "global", "gov", "group", "guide",
    "guru", "health", "help", "host", "house", "info", "institute", "int", "international", "jobs", "land",
    "legal", "life", "link", "live", "llc", "ltd", "market", "marketing", "media", "mil", "mobi", "money",
    "museum", "music", "name", "net", "network", "news", "ninja", "one", "online", "org", "page", "photo",
    "photography", "photos", "pics", "plus", "post", "press", "pro", "rocks", "run", "sale", "school",
    "services", "shop", "shopping", "site", "social", "software", "solutions", "space", "store", "studio",
    "support", "systems", "team", "tech", "technology", "tel", "tips", "today", "tools", "top", "travel",
    "university", "video", "vip", "wiki", "work", "works", "world", "xyz", "zone",
)  # fmt: skip

_SPACES = r"\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WHITESPACE_ONLY = regex.compile(rf"[{_SPACES}]*")
_INVALID_CHARACTERS = regex.compile(r"[\ufffe\ufeff\uffff]")

_EMOJI_ELEMENT = (
    r"(?:[\u00a9\u00ae\u2122]\ufe0f"
    r"|(?![\u00a9\u00ae\u2122])\p{Extended_Pictographic}"
    r"(?:\ufe0f|\p{Emoji_Modifier}|[\U000e0020-\U000e007e]+\U000e007f|(?!\ufe0e)))"
)
_EMOJI = regex.compile(
    rf"\p{{Regional_Indicator}}{{2}}|[#*0-9]\ufe0f?\u20e3|{_EMOJI_ELEMENT}(?:\u200d{_EMOJI_ELEMENT})*"
)

_UNICODE_LABEL = r"[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?"
_ASCII_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_TLD_END = r"(?![a-z0-9@+-])"
_URL_CHARS = (
    r"a-z0-9!*';:=+,.$/%#\[\]\-_~&|@()?"
    r"\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u0400-\u04ff\u1e00-\u1eff"  # Latin accents, Cyrillic
)
# Matched against the text with ASCII letters lowered (same length, so indices carry over).
_URL = regex.compile(
    r"(?<![a-z0-9@\uff20$#\uff03\u202a-\u202e])"
    r"(?:(?P<scheme>https?://)(?:" + _UNICODE_LABEL + r"\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})" + _TLD_END
    + r"|(?<![._/-])(?P<bare>(?:" + _ASCII_LABEL + r"\.)+(?P<tld>" + "|".join(GENERIC_TLDS) + r"|[a-z]{2})"
    + _TLD_END + r"))"
    r"(?::[0-9]{1,5})?(?:[/?#][" + _URL_CHARS + r"]*)?"
)  # fmt: skip
_TRAILING = frozenset(".,!?:;)]'\"")
_OPENING = {")": "(", "]": "["}
_LOWER_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class UrlSpan:
    """A URL found in the NFC-normalised text: ``text[start:end] == url`` (code point indices)."""

    url: str
    start: int
    end: int


@dataclass(frozen=True)
class PostLength:
    """``weighted`` is the count X shows; ``remaining`` goes negative past the limit."""

    weighted: int
    remaining: int
    valid: bool
    urls: tuple[UrlSpan, ...]


def post_length(text: str) -> PostLength:
    """Count ``text`` as X counts a post (see the module docstring for the rules)."""
    normalized = unicodedata.normalize("NFC", text)
    urls = _find_urls(normalized)
    url_ends = {span.start: span.end for span in urls}
    emoji_ends = {match.start(): match.end() for match in _EMOJI.finditer(normalized)}
    weight = 0
    index = 0
    while index < len(normalized):
        if index in url_ends:
            weight += TRANSFORMED_URL_LENGTH * SCALE
            index = url_ends[index]
        elif index in emoji_ends:
            weight += DEFAULT_WEIGHT
            index = emoji_ends[index]
        else:
            weight += code_point_weight(ord(normalized[index]))
            index += 1
    weighted = weight // SCALE
    valid = (
        0 < weighted <= MAX_WEIGHTED_LENGTH
        and not _WHITESPACE_ONLY.fullmatch(normalized)
        and not _INVALID_CHARACTERS.search(normalized)
    )
    return PostLength(weighted=weighted, remaining=MAX_WEIGHTED_LENGTH - weighted, valid=valid, urls=urls)


def code_point_weight(code_point: int) -> int:
    """100 inside ``WEIGHT_ONE_RANGES``, else 200 (every code point outside the BMP weighs 200)."""
    for low, high in WEIGHT_ONE_RANGES:
        if low <= code_point <= high:
            return SCALE
    return DEFAULT_WEIGHT


def _find_urls(text: str) -> tuple[UrlSpan, ...]:
    lowered = text.translate(_LOWER_ASCII)
    spans = []
    position = 0
    while match := _URL.search(lowered, position):
        start, end = match.span()
        end = _without_trailing_punctuation(text, start, end)
        position = end
        if match["bare"] is not None and end == match.end("bare") and _is_short_cc_domain(match["bare"], match["tld"]):
            position = match.end()
            continue
        spans.append(UrlSpan(url=text[start:end], start=start, end=end))
    return tuple(spans)


def _without_trailing_punctuation(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING:
        closing = text[end - 1]
        if closing in _OPENING:
            inside = text[start:end]
            if inside.count(_OPENING[closing]) >= inside.count(closing):
                break
        end -= 1
    return end


def _is_short_cc_domain(host: str, tld: str) -> bool:
    return len(tld) == 2 and host.count(".") == 1 and host != "t.co"
