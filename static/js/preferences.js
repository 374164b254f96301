// The preferences page: ask for the browser's permission to show desktop notifications (only when the agent
// presses the button, never on load), and let the agent hear the new-message sound.

import { playAlertSound } from "./inbox/alerts.js";

const button = document.getElementById("notification-permission");
const state = document.getElementById("notification-state");

function show() {
  if (!("Notification" in window)) {
    state.textContent = "This browser cannot show desktop notifications.";
    button.hidden = true;
    return;
  }
  const permission = window.Notification.permission;
  button.hidden = permission !== "default";
  state.textContent = {
    granted: "This browser shows them.",
    denied: "This browser blocks them for Backchannel: allow them in the site settings (the icon left of the address).",
    default: "",
  }[permission];
}

button.addEventListener("click", async () => {
  if ("Notification" in window) await window.Notification.requestPermission();
  show();
});
const soundTest = document.getElementById("sound-test");
soundTest.addEventListener("click", () => playAlertSound(soundTest.dataset.soundUrl));
show();
