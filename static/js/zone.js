// The agent's time zone and the one way every absolute time is written: "08:27" today, "8 Dec 2026, 08:27"
// otherwise (24-hour; with seconds where they matter, "08:27:20"). The server writes the same with its
// `when` filter (inbox/templatetags/inbox_format.py) in the same zone, so a time reads alike before and after
// the script runs.
//
// <html data-time-zone> holds the zone the server rendered in. `data-time-zone-auto` says the agent chose
// none on /me/preferences/: then the browser's zone is theirs, and this script stores it in a cookie that
// the server's middleware (accounts/time_zones.py) renders the following requests in.

const COOKIE = "backchannel_tz";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

export function agentTimeZone() {
  const html = document.documentElement;
  const browser = browserTimeZone();
  if (html.hasAttribute("data-time-zone-auto") && browser) return browser;
  return html.dataset.timeZone || browser || "UTC";
}

const formatters = new Map();

function formatter(zone) {
  if (!formatters.has(zone)) {
    formatters.set(
      zone,
      new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
      }),
    );
  }
  return formatters.get(zone);
}

// The calendar fields of `date` as seen in `zone`: {year, month (1-12), day, hour, minute, second}.
export function partsIn(date, zone = agentTimeZone()) {
  const parts = {};
  for (const { type, value } of formatter(zone).formatToParts(date)) parts[type] = value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: parts.hour === "24" ? "00" : parts.hour,
    minute: parts.minute,
    second: parts.second,
  };
}

export function monthName(month) {
  return MONTHS[month - 1];
}

// "08:27" when `date` is today in the agent's zone, else "8 Dec 2026, 08:27"; `seconds` adds ":20".
export function formatAbsolute(date, { seconds = false, now = new Date(), zone = agentTimeZone() } = {}) {
  const p = partsIn(date, zone);
  const today = partsIn(now, zone);
  const clock = `${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
  if (p.year === today.year && p.month === today.month && p.day === today.day) return clock;
  return `${p.day} ${monthName(p.month)} ${p.year}, ${clock}`;
}

// Every <time datetime data-absolute> under `root` written in the agent's zone (data-absolute="seconds" with seconds).
export function refreshAbsoluteTimes(root = document) {
  const now = new Date();
  for (const element of root.querySelectorAll("time[datetime][data-absolute]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    element.textContent = formatAbsolute(date, { seconds: element.dataset.absolute === "seconds", now });
  }
}

// With no zone chosen, tell the server the browser's (once: again only when it changes, e.g. after travelling).
function rememberBrowserZone() {
  if (!document.documentElement.hasAttribute("data-time-zone-auto")) return;
  const zone = browserTimeZone();
  if (!zone) return;
  const stored = document.cookie.split("; ").find((pair) => pair.startsWith(`${COOKIE}=`));
  if (stored && stored.slice(COOKIE.length + 1) === zone) return;
  if (!/^[A-Za-z0-9/_+-]+$/.test(zone)) return; // IANA names are written with these only (and need no quoting)
  document.cookie = `${COOKIE}=${zone}; path=/; max-age=31536000; samesite=lax`;
}

rememberBrowserZone();
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => refreshAbsoluteTimes());
} else {
  refreshAbsoluteTimes();
}
