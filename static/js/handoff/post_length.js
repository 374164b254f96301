// How long X counts a public post (twitter-text's v3 rules), for the live counter of the page where
// social managers write the post carrying a "Send a private message" link. It implements the rules of
// twitter_channel/handoff/post_length.py, whose docstring explains them and their simplifications; keep the
// two in step (tests/e2e/test_post_length_js.py checks that they agree).
//
// Indices in `urls` are UTF-16 code units of the NFC-normalised text (the Python module's are code
// points), so they can be used with the string and a textarea's selection directly.

export const MAX_WEIGHTED_LENGTH = 280;
export const SCALE = 100;
export const DEFAULT_WEIGHT = 200;
export const TRANSFORMED_URL_LENGTH = 23;
export const WEIGHT_ONE_RANGES = [
  [0x0000, 0x10ff],
  [0x2000, 0x200d],
  [0x2010, 0x201f],
  [0x2032, 0x2037],
];

export const GENERIC_TLDS = [
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
];

const SPACES = String.raw`\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const WHITESPACE_ONLY = new RegExp(`^[${SPACES}]*$`, "u");
const INVALID_CHARACTERS = /[\ufffe\ufeff\uffff]/u;

const EMOJI_ELEMENT =
  String.raw`(?:[\u00a9\u00ae\u2122]\ufe0f` +
  String.raw`|(?![\u00a9\u00ae\u2122])\p{Extended_Pictographic}` +
  String.raw`(?:\ufe0f|\p{Emoji_Modifier}|[\u{e0020}-\u{e007e}]+\u{e007f}|(?!\ufe0e)))`;
const EMOJI = new RegExp(
  String.raw`\p{Regional_Indicator}{2}|[#*0-9]\ufe0f?\u20e3|${EMOJI_ELEMENT}(?:\u200d${EMOJI_ELEMENT})*`,
  "gu",
);

const UNICODE_LABEL = String.raw`[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}\-]*[\p{L}\p{M}\p{N}])?`;
const ASCII_LABEL = String.raw`[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?`;
const TLD_END = String.raw`(?![a-z0-9@+\-])`;
const URL_CHARS =
  String.raw`a-z0-9!*';:=+,.$/%#\[\]\-_~&|@()?` +
  String.raw`\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u0400-\u04ff\u1e00-\u1eff`;
// Matched against the text with ASCII letters lowered (same length, so indices carry over).
const URL = new RegExp(
  String.raw`(?<![a-z0-9@\uff20$#\uff03\u202a-\u202e])` +
    String.raw`(?:(?<scheme>https?:\/\/)(?:${UNICODE_LABEL}\.)+(?:[a-z]{2,63}|xn--[a-z0-9\-]{1,59})${TLD_END}` +
    String.raw`|(?<![._\/\-])(?<bare>(?:${ASCII_LABEL}\.)+(?<tld>${GENERIC_TLDS.join("|")}|[a-z]{2})${TLD_END}))` +
    String.raw`(?::[0-9]{1,5})?(?:[\/?#][${URL_CHARS}]*)?`,
  "gu",
);
const TRAILING = new Set([".", ",", "!", "?", ":", ";", ")", "]", "'", '"']);
const OPENING = { ")": "(", "]": "[" };

/** 100 inside WEIGHT_ONE_RANGES, else 200 (every code point outside the BMP weighs 200). */
export function codePointWeight(codePoint) {
  for (const [low, high] of WEIGHT_ONE_RANGES) {
    if (low <= codePoint && codePoint <= high) return SCALE;
  }
  return DEFAULT_WEIGHT;
}

/**
 * Count `text` as X counts a post.
 * @param {string} text
 * @returns {{weighted: number, remaining: number, valid: boolean, urls: {url: string, start: number, end: number}[]}}
 */
export function postLength(text) {
  const normalized = text.normalize("NFC");
  const urls = findUrls(normalized);
  const urlEnds = new Map(urls.map((span) => [span.start, span.end]));
  const emojiEnds = new Map();
  for (const match of normalized.matchAll(EMOJI)) emojiEnds.set(match.index, match.index + match[0].length);
  let weight = 0;
  let index = 0;
  while (index < normalized.length) {
    if (urlEnds.has(index)) {
      weight += TRANSFORMED_URL_LENGTH * SCALE;
      index = urlEnds.get(index);
    } else if (emojiEnds.has(index)) {
      weight += DEFAULT_WEIGHT;
      index = emojiEnds.get(index);
    } else {
      const codePoint = normalized.codePointAt(index);
      weight += codePointWeight(codePoint);
      index += codePoint > 0xffff ? 2 : 1;
    }
  }
  const weighted = Math.floor(weight / SCALE);
  const valid =
    weighted > 0 &&
    weighted <= MAX_WEIGHTED_LENGTH &&
    !WHITESPACE_ONLY.test(normalized) &&
    !INVALID_CHARACTERS.test(normalized);
  return { weighted, remaining: MAX_WEIGHTED_LENGTH - weighted, valid, urls };
}

function findUrls(text) {
  const lowered = text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
  const spans = [];
  let position = 0;
  for (;;) {
    URL.lastIndex = position;
    const match = URL.exec(lowered);
    if (!match) break;
    const start = match.index;
    const end = withoutTrailingPunctuation(text, start, start + match[0].length);
    const { bare, tld } = match.groups;
    position = end;
    if (bare !== undefined && end === start + bare.length && isShortCcDomain(bare, tld)) {
      position = start + match[0].length;
      continue;
    }
    spans.push({ url: text.slice(start, end), start, end });
  }
  return spans;
}

function withoutTrailingPunctuation(text, start, end) {
  while (end > start && TRAILING.has(text[end - 1])) {
    const closing = text[end - 1];
    if (closing in OPENING) {
      const inside = text.slice(start, end);
      if (count(inside, OPENING[closing]) >= count(inside, closing)) break;
    }
    end -= 1;
  }
  return end;
}

function count(text, character) {
  return text.split(character).length - 1;
}

function isShortCcDomain(host, tld) {
  return tld.length === 2 && count(host, ".") === 1 && host !== "t.co";
}
