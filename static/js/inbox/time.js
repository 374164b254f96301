// Relative times ("now", "5m", "3h", "2d", "Nov 3"), the same rules as the server's `ago` filter, and
// absolute ones in the agent's time zone and the one format of zone.js.

import { agentTimeZone, formatAbsolute, monthName, partsIn } from "../zone.js";

export function ago(date, now = new Date()) {
  const seconds = (now - date) / 1000;
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  const zone = agentTimeZone();
  const p = partsIn(date, zone);
  const label = `${monthName(p.month)} ${p.day}`;
  return p.year === partsIn(now, zone).year ? label : `${label}, ${p.year}`;
}

// Relative times count up; absolute ones (`data-absolute`, e.g. when a reply goes out) are written as
// zone.js writes them ("08:27" today, "8 Dec 2026, 08:27" otherwise; `data-absolute="seconds"` with seconds).
export function refreshTimes(root) {
  const now = new Date();
  for (const element of root.querySelectorAll("time[datetime]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    if (!element.hasAttribute("data-absolute")) element.textContent = ago(date, now);
    else element.textContent = formatAbsolute(date, { seconds: element.dataset.absolute === "seconds", now });
  }
}
