"""X's "Send a private message" deep links (issue 9) and the reference codes that attribute them.

A deep link (``docs/x-api.md`` §10) opens X's DM composer addressed to a business account, optionally
prefilled with text and tied to a Welcome Message::

    https://twitter.com/messages/compose?recipient_id=<id>&text=<percent-encoded>&welcome_message_id=<id>

The sandbox's compose page (``twitter_channel/sandbox/views/simulator.py``) opens the same links.

Decisions:

- The text is never altered (no NFC, no ``\\r\\n`` rewriting), so ``dm_link_parse(dm_link_build(x)) == x``
  for every link that validates. It is percent-encoded as UTF-8 with every byte outside
  ``A-Za-z0-9-._~`` escaped (a space is ``%20``, never ``+``).
- Characters X would refuse in a DM are rejected rather than dropped: C0 controls other than tab and
  line feed (so a carriage return too: write line breaks as ``\\n``; browsers submit textareas with
  ``\\r\\n``), DEL and the C1 controls, lone surrogates (not encodable), noncharacters (U+FDD0–U+FDEF,
  U+xxFFFE, U+xxFFFF) and U+FEFF, which twitter-text counts as invalid.
- The length limit is X's for DMs: 10,000 characters counted as Unicode code points after NFC.
- Parsing reads ``+`` as a space, as browsers' ``URLSearchParams`` and Django's ``QueryDict`` (behind
  the sandbox's compose page) do; the builder writes a literal plus as ``%2B``. Parsing is strict
  where guessing would change the text: malformed ``%`` escapes, escapes that are not UTF-8, raw
  spaces or control characters and a ``#`` fragment are errors. Unknown parameters (``utm_source``…)
  are ignored; a repeated ``recipient_id``, ``text`` or ``welcome_message_id`` is an error.

Reference codes attribute a conversation to the post whose link prefilled ``Ref K7Q2``. They use
``REF_CODE_ALPHABET`` (no 0/O/1/I/L) and always mix letters and digits, so that words a customer
writes after "ref" ("ref number", "ref: see above") are never taken for codes.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

DM_TEXT_MAX_LENGTH = 10_000
HOSTS = ("twitter.com", "x.com")
COMPOSE_PATH = "/messages/compose"

_PARSED_HOSTS = {
    "twitter.com": "twitter.com",
    "www.twitter.com": "twitter.com",
    "mobile.twitter.com": "twitter.com",
    "x.com": "x.com",
    "www.x.com": "x.com",
}
_PARAMETERS = ("recipient_id", "text", "welcome_message_id")
_ID = re.compile(r"[0-9]{1,20}")
_NONCHARACTERS = "".join(f"\\U{plane:04X}FFFE\\U{plane:04X}FFFF" for plane in range(0x1, 0x11))
_REFUSED = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffe\uffff" + _NONCHARACTERS + "]"
)
_RAW_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

REF_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REF_CODE_MIN_LENGTH = 4
REF_CODE_MAX_LENGTH = 8
_REF_DIGITS = frozenset("23456789")
_REF_SEPARATOR = r"(?:[ \t\u00a0]*[:#.\-][ \t\u00a0]*|[ \t\u00a0]+)"
_REF_MENTION = re.compile(
    rf"(?<!\w)[Rr][Ee][Ff]{_REF_SEPARATOR}([0-9A-Za-z]{{{REF_CODE_MIN_LENGTH},{REF_CODE_MAX_LENGTH}}})(?!\w)"
)


class DeepLinkError(ValueError):
    """A deep link (or its parts) that X would not open as intended; the message says why."""


@dataclass(frozen=True)
class DmLink:
    """The parts of a deep link; ``dm_link_build`` validates them."""

    recipient_id: str
    text: str = ""
    welcome_message_id: str = ""
    host: str = "twitter.com"


def dm_link_build(link: DmLink) -> str:
    """The ``https://<host>/messages/compose?…`` URL for ``link``; raises ``DeepLinkError`` if invalid."""
    dm_link_validate(link)
    query = f"recipient_id={link.recipient_id}"
    if link.text:
        query += "&text=" + quote(link.text, safe="")
    if link.welcome_message_id:
        query += f"&welcome_message_id={link.welcome_message_id}"
    return f"https://{link.host}{COMPOSE_PATH}?{query}"


def dm_link_validate(link: DmLink) -> None:
    """Raise ``DeepLinkError`` naming the first part of ``link`` that X would not accept."""
    if link.host not in HOSTS:
        raise DeepLinkError(f"The host must be 'twitter.com' or 'x.com', not {link.host!r}.")
    if not isinstance(link.recipient_id, str) or not _ID.fullmatch(link.recipient_id):
        raise DeepLinkError(
            f"recipient_id must be the recipient's numeric X user id (1 to 20 digits 0-9), not {link.recipient_id!r}."
        )
    if not isinstance(link.welcome_message_id, str) or (
        link.welcome_message_id and not _ID.fullmatch(link.welcome_message_id)
    ):
        raise DeepLinkError(
            "welcome_message_id must be empty or a numeric Welcome Message id (1 to 20 digits 0-9), "
            f"not {link.welcome_message_id!r}."
        )
    if not isinstance(link.text, str):
        raise DeepLinkError(f"The text must be a string, not {type(link.text).__name__}.")
    refused = _REFUSED.search(link.text)
    if refused:
        raise DeepLinkError(
            f"The text has {_describe(refused.group())} at character {refused.start() + 1}; X refuses it in a "
            "message (tab and line feed are the only control characters allowed; write line breaks as \\n)."
        )
    length = len(unicodedata.normalize("NFC", link.text))
    if length > DM_TEXT_MAX_LENGTH:
        raise DeepLinkError(
            f"The text is {length:,} characters long; an X direct message holds at most {DM_TEXT_MAX_LENGTH:,}."
        )


def dm_link_parse(url: str) -> DmLink:
    """Read a deep link back (http or https; twitter.com, x.com, their www. and mobile.twitter.com).

    Surrounding whitespace is ignored; anything else X would not open as this module builds it raises
    ``DeepLinkError``.
    """
    if not isinstance(url, str):
        raise DeepLinkError(f"A deep link is a string, not {type(url).__name__}.")
    url = url.strip()
    raw = _RAW_IN_URL.search(url)
    if raw:
        raise DeepLinkError(
            f"The link has a raw {_describe(raw.group())} at character {raw.start() + 1}; "
            "inside a link it must be percent-encoded."
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DeepLinkError(f"This is not a well-formed link: {exc}.") from exc
    if parts.scheme not in ("http", "https") or not url.lower().startswith(parts.scheme + "://"):
        raise DeepLinkError(f"A deep link starts with https:// (or http://); {url[:40]!r} does not.")
    host = _PARSED_HOSTS.get(parts.netloc.lower())
    if host is None:
        raise DeepLinkError(
            f"{parts.netloc!r} is not X: the link must point at twitter.com, x.com, www.twitter.com, www.x.com "
            "or mobile.twitter.com (without port or user name)."
        )
    if parts.path not in (COMPOSE_PATH, COMPOSE_PATH + "/"):
        raise DeepLinkError(f"The path must be {COMPOSE_PATH}, not {parts.path or '/'!r}.")
    if "#" in url:
        raise DeepLinkError(
            "The link has a '#' fragment, which X never reads; a '#' in the text must be encoded as %23."
        )
    values = _query_values(parts.query)
    if not values.get("recipient_id"):
        raise DeepLinkError("The link names no recipient: it needs ?recipient_id=<numeric X user id>.")
    link = DmLink(
        recipient_id=values["recipient_id"],
        text=values.get("text", ""),
        welcome_message_id=values.get("welcome_message_id", ""),
        host=host,
    )
    dm_link_validate(link)
    return link


def _query_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = _form_decode(raw_name, "A parameter name")
        if name not in _PARAMETERS:
            continue
        if name in values:
            raise DeepLinkError(f"The link gives {name} more than once; X would read only one of them.")
        values[name] = _form_decode(raw_value, f"The {name} parameter")
    return values


def _form_decode(encoded: str, what: str) -> str:
    bad = _BAD_ESCAPE.search(encoded)
    if bad:
        raise DeepLinkError(
            f"{what} has a '%' not followed by two hex digits ({encoded[bad.start() : bad.start() + 3]!r}); "
            "a literal percent sign is written %25."
        )
    try:
        return unquote(encoded.replace("+", " "), errors="strict")
    except UnicodeDecodeError as exc:
        raise DeepLinkError(f"{what} has percent-escapes that are not UTF-8 text.") from exc


def _describe(character: str) -> str:
    code_point = ord(character)
    if code_point <= 0x20 or 0x7F <= code_point <= 0x9F:
        kind = "a space" if character == " " else "a control character"
    elif 0xD800 <= code_point <= 0xDFFF:
        kind = "a lone surrogate, which is not text"
    elif code_point == 0xFEFF:
        kind = "the byte order mark"
    elif unicodedata.category(character) == "Zs" or character.isspace():
        kind = "a space"
    else:
        kind = "a noncharacter"
    return f"U+{code_point:04X} ({kind})"


def ref_code_generate(length: int = 4) -> str:
    """A random reference code of ``length`` characters with at least one letter and one digit."""
    if not REF_CODE_MIN_LENGTH <= length <= REF_CODE_MAX_LENGTH:
        raise ValueError(
            f"A reference code has {REF_CODE_MIN_LENGTH} to {REF_CODE_MAX_LENGTH} characters, not {length}."
        )
    while True:
        code = "".join(secrets.choice(REF_CODE_ALPHABET) for _ in range(length))
        if _is_ref_code(code):
            return code


def ref_code_phrase(code: str) -> str:
    """The phrase to prefill, e.g. ``"Ref K7Q2"`` (lower-case input is upper-cased)."""
    if not _is_ref_code(code.upper()):
        raise ValueError(
            f"{code!r} is not a reference code: {REF_CODE_MIN_LENGTH} to {REF_CODE_MAX_LENGTH} characters "
            f"from {REF_CODE_ALPHABET}, with at least one letter and one digit."
        )
    return f"Ref {code.upper()}"


def ref_codes_in(text: str) -> list[str]:
    """The reference codes a customer's message mentions, upper-cased, each once, in order of appearance.

    Lenient about how "ref" is written (``Ref K7Q2``, ``ref: k7q2``, ``REF#K7Q2``, ``ref - K7Q2``) but only
    as whole words: ``preference k7q2`` and ``Ref K7Q2X9Z3W`` mention no code.
    """
    found: list[str] = []
    for match in _REF_MENTION.finditer(text):
        code = match.group(1).upper()
        if _is_ref_code(code) and code not in found:
            found.append(code)
    return found


def _is_ref_code(code: str) -> bool:
    return (
        REF_CODE_MIN_LENGTH <= len(code) <= REF_CODE_MAX_LENGTH
        and all(character in REF_CODE_ALPHABET for character in code)
        and any(character in _REF_DIGITS for character in code)
        and any(character not in _REF_DIGITS for character in code)
    )
