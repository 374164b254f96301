// Relative times ("now", "5m", "3h", "2d", "Nov 3"), the same rules as the server's `ago` filter.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function ago(date, now = new Date()) {
  const seconds = (now - date) / 1000;
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  const label = `${MONTHS[date.getMonth()]} ${date.getDate()}`;
  return date.getFullYear() === now.getFullYear() ? label : `${label}, ${date.getFullYear()}`;
}

// Relative times count up; absolute ones (`data-absolute`, e.g. when a reply goes out) are shown in the
// agent's own time zone.
export function refreshTimes(root) {
  const now = new Date();
  for (const element of root.querySelectorAll("time[datetime]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    if (!element.hasAttribute("data-absolute")) element.textContent = ago(date, now);
    else if (date.toDateString() === now.toDateString()) element.textContent = date.toLocaleTimeString();
    else element.textContent = date.toLocaleString();
  }
}
