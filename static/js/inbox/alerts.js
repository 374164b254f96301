// Alerts for new customer messages: the unread count in the tab's title, a short sound the agent can mute,
// and a desktop notification (once the browser allows it), for the agent's alerting views (Mine,
// Unassigned, their teams, as chosen on /me/preferences/). Never for the conversation the agent has in
// front of them (open, and the tab visible).
//
// The server decides what counts (GET /alerts/: inbox/selectors/alerts.py): the page says which
// conversations were just announced as new or written to by the customer, and gets back the unread count
// and those of them to alert about. Announcements that arrive together are asked about together.

import { getFragment, postForm } from "./http.js";

const BATCH_MS = 200;
const SOUND_GAP_MS = 2000; // one sound for the same news in several tabs of the agent (each tab hears every event)
const MANY = 3; // more conversations than this at once: one notification that says how many

const soundCache = new Map();

export function playAlertSound(url = document.getElementById("alert-controls")?.dataset.soundUrl) {
  if (!url) return;
  let audio = soundCache.get(url);
  if (!audio) {
    audio = new Audio(url);
    audio.volume = 0.6;
    soundCache.set(url, audio);
  }
  audio.currentTime = 0;
  // Browsers refuse sound before the agent has interacted with the page; nothing to do about it then.
  audio.play()?.catch?.(() => {});
}

export class Alerts {
  constructor(app) {
    this.app = app;
    this.controls = document.getElementById("alert-controls");
    this.soundButton = document.getElementById("alert-sound");
    this.permissionButton = document.getElementById("alert-permission");
    this.sound = this.controls?.dataset.sound === "on";
    this.desktop = this.controls?.dataset.desktop === "on";
    this.unread = 0;
    this.pending = new Set();
    this.timer = null;
    this.titleObserver = null;
    this.answers = 0;
    this.heard = []; // the latest customer messages announced, newest last (what the answers covered, for tests)
  }

  start() {
    this.soundButton?.addEventListener("click", () => this.toggleSound());
    this.permissionButton?.addEventListener("click", async () => {
      await window.Notification.requestPermission();
      this.showPermission();
    });
    this.showPermission();
    // Another script may rename the tab (a conversation's name): keep the count in front of it.
    const title = document.querySelector("title");
    if (title) {
      this.titleObserver = new MutationObserver(() => this.writeTitle());
      this.titleObserver.observe(title, { childList: true, characterData: true, subtree: true });
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh(); // read in another tab or device meanwhile
    });
    this.refresh();
  }

  // Called by the page for every live event, after the page has handled it (a conversation open in front
  // of the agent is marked read by then).
  received(event, data) {
    if (!data?.conversation_id) return;
    const customerWrote =
      event === "message.created" && data.direction === "inbound" && data.event_type === "MessageCreate";
    if (customerWrote) this.heard = [...this.heard.slice(-49), data.message_id];
    if (event === "conversation.created" || customerWrote) {
      if (!this.inFront(data.conversation_id)) this.pending.add(Number(data.conversation_id));
      this.schedule();
    } else if (event === "conversation.updated") {
      this.schedule(); // assigned, moved, resolved: the count may change
    }
  }

  inFront(conversationId) {
    return Number(conversationId) === this.app.conversationId && !document.hidden;
  }

  refresh() {
    this.schedule();
  }

  schedule() {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.ask().catch((error) => console.warn(error)), BATCH_MS);
  }

  async ask() {
    const ids = [...this.pending];
    const heard = this.heard.join(" ");
    this.pending.clear();
    const query = new URLSearchParams(ids.map((id) => ["c", String(id)]));
    const answer = JSON.parse(await getFragment(`/alerts/?${query}`));
    this.unread = answer.unread;
    this.writeTitle();
    const alerts = answer.alerts.filter((alert) => !this.inFront(alert.conversation_id));
    if (alerts.length > 0) this.alert(alerts);
    this.answers += 1;
    // How many answers were acted on, and the customer messages announced before the last was asked (for tests).
    this.app.root.dataset.alertAnswers = String(this.answers);
    this.app.root.dataset.alertHeard = heard;
  }

  writeTitle() {
    const base = document.title.replace(/^\(\d+\) /, "");
    const wanted = this.unread > 0 ? `(${this.unread}) ${base}` : base;
    if (document.title !== wanted) document.title = wanted;
    this.app.root.dataset.unread = String(this.unread);
  }

  alert(alerts) {
    if (this.sound && this.firstTabToSound()) playAlertSound(this.controls?.dataset.soundUrl);
    if (!this.desktop || !("Notification" in window) || window.Notification.permission !== "granted") return;
    if (alerts.length > MANY) {
      this.notify(`${alerts.length} conversations have new messages`, alerts.map((a) => a.title).join(", "), null);
      return;
    }
    for (const alert of alerts) this.notify(alert.title, alert.body, alert.conversation_id);
  }

  // Several tabs of one agent get the same events: the first to get here within SOUND_GAP_MS plays the sound.
  firstTabToSound() {
    try {
      const last = Number(window.localStorage.getItem("backchannel.alertSoundAt") || 0);
      if (Date.now() - last < SOUND_GAP_MS) return false;
      window.localStorage.setItem("backchannel.alertSoundAt", String(Date.now()));
    } catch {
      // storage unavailable (private mode): every tab plays
    }
    return true;
  }

  notify(title, body, conversationId) {
    let notification;
    try {
      notification = new window.Notification(title, {
        body,
        dir: "auto",
        tag: conversationId ? `conversation-${conversationId}` : "conversations",
      });
    } catch {
      return; // a browser that shows notifications only from a service worker
    }
    notification.addEventListener?.("click", () => {
      window.focus();
      if (conversationId) this.app.openConversation(conversationId);
      notification.close();
    });
  }

  async toggleSound() {
    const wanted = !this.sound;
    const body = new FormData();
    body.set("sound", wanted ? "on" : "off");
    try {
      const answer = JSON.parse(await postForm("/me/preferences/sound/", body));
      this.sound = answer.sound;
    } catch (failure) {
      this.app.toast(failure.message);
      return;
    }
    this.controls.dataset.sound = this.sound ? "on" : "off";
    this.soundButton.setAttribute("aria-pressed", this.sound ? "false" : "true");
  }

  showPermission() {
    if (!this.permissionButton) return;
    this.permissionButton.hidden = !(this.desktop && "Notification" in window && window.Notification.permission === "default");
  }
}
