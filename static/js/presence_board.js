// Reports and Manage: who is Online, Away or Offline, kept current while the page is open. The server
// renders the state at load; this asks again every few seconds, and at once when the tab comes back.

const EVERY_MS = 5000;

async function refresh(board) {
  if (document.hidden) return;
  let answer;
  try {
    const response = await fetch(board.dataset.presenceBoard, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    answer = await response.json();
  } catch {
    return; // offline for a moment: the next round catches up
  }
  for (const cell of board.querySelectorAll("[data-presence-of]")) {
    const state = answer.agents[cell.dataset.presenceOf];
    const badge = cell.querySelector(".status");
    if (!state || !badge || badge.textContent === state.label) continue;
    badge.textContent = state.label;
    badge.className = `status agent-presence-${state.presence}`;
  }
}

for (const board of document.querySelectorAll("[data-presence-board]")) {
  window.setInterval(() => refresh(board), EVERY_MS);
  document.addEventListener("visibilitychange", () => refresh(board));
}
