// Small enhancements; every page works without them.
"use strict";

// Live sections: the server sends the section's new HTML whenever it changes, and the whole
// section again on every (re)connection. Each shows when it was last brought up to date; when
// the connection drops, the section is marked as not current (greyed, with the time it shows)
// until the stream is back and has sent the section again. EventSource reconnects by itself.
document.querySelectorAll("[data-live]").forEach((section) => {
  let pending = null;
  let lastUpdate = null;
  let staleTimer = null;
  const ja = document.documentElement.lang !== "en";
  const clock = (when) => when.toLocaleTimeString(ja ? "ja-JP" : "en-GB", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const status = document.createElement("p");
  status.className = "live-status";
  section.before(status);
  const fresh = () => {
    section.classList.remove("stale");
    status.classList.remove("stale");
    status.textContent = ja ? `${clock(lastUpdate)} 更新（自動更新中）` : `Updated ${clock(lastUpdate)} (live)`;
  };
  const stale = () => {
    section.classList.add("stale");
    status.classList.add("stale");
    const shown = lastUpdate ? clock(lastUpdate) : "—";
    status.textContent = ja
      ? `接続が切れています。表示は ${shown} 時点のもので、最新ではありません。再接続しています…`
      : `Connection lost. This shows ${shown} and is not current. Reconnecting…`;
  };
  const busy = () => {
    const active = document.activeElement;
    return active && section.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  };
  const apply = (html) => {
    if (busy()) { pending = html; return; }  // never replace what someone is typing
    section.innerHTML = html;
    pending = null;
  };
  section.addEventListener("focusout", () => setTimeout(() => { if (pending !== null) apply(pending); }, 0));
  let source = null;
  const connect = () => {
    if (source) source.close();
    source = new EventSource(section.dataset.live);
    const mine = source;
    source.addEventListener("update", (event) => {
      clearTimeout(staleTimer);
      staleTimer = null;
      lastUpdate = new Date();
      apply(event.data);
      fresh();
    });
    // Access ended (consent withdrawn): leave nothing on screen; a reload shows why.
    source.addEventListener("gone", () => { mine.close(); section.innerHTML = ""; window.location.reload(); });
    source.addEventListener("error", () => {
      if (mine.readyState === EventSource.CLOSED && navigator.onLine) {
        // The server refused the stream (the session may have ended): a reload shows the login page.
        window.location.reload();
        return;
      }
      // A dropped network: the browser reconnects; a stream that simply ended is back within a
      // second, so only a gap that lasts is shown as one.
      if (staleTimer === null) staleTimer = setTimeout(stale, 1500);
    });
  };
  lastUpdate = new Date();  // the page itself was rendered just now
  fresh();
  connect();
  // Back online: a new stream, which starts with the whole section as it is now.
  window.addEventListener("online", connect);
  window.addEventListener("offline", () => { clearTimeout(staleTimer); staleTimer = 0; stale(); });
});

// The duplicate hint while typing: furigana, birth date and phone together.
const hint = document.getElementById("duplicate-hint");
if (hint) {
  const names = ["resident.name_kana", "resident.birth_date", "resident.phone"];
  const inputs = names.map((n) => document.querySelector(`[name="${n}"]`));
  const ja = document.documentElement.lang !== "en";
  const check = async () => {
    const params = new URLSearchParams();
    const keys = ["name_kana", "birth_date", "phone"];
    inputs.forEach((input, i) => { if (input && input.value.trim()) params.set(keys[i], input.value.trim()); });
    if ([...params.keys()].length < 2) { hint.textContent = ""; return; }
    try {
      const response = await fetch(`/api/v1/residents/matches?${params}`, { credentials: "same-origin" });
      if (!response.ok) { hint.textContent = ""; return; }
      const body = await response.json();
      if (!body.matches.length) { hint.textContent = ""; return; }
      const p = document.createElement("p");
      p.className = "alert warn";
      p.textContent = (ja ? "同じ人かもしれない相談者がいます: " : "Possibly known already: ")
        + body.matches.map((m) => `${m.name}（${m.name_kana}）`).join("、")
        + (ja ? "。登録の前に確認できます。" : ". You can choose them before registering.");
      hint.replaceChildren(p);
    } catch (_) {
      hint.textContent = "";
    }
  };
  inputs.forEach((input) => input && input.addEventListener("change", check));
}

// After a failed submit, take keyboard and screen-reader users to the list of problems.
const summary = document.getElementById("error-summary") || document.getElementById("notice") || document.getElementById("preview");
if (summary) { summary.focus(); }

// The safe contact question: shown once DV/abuse is ticked or the case is marked sensitive
// (without script it is always shown, and the server asks for it when needed).
const safe = document.getElementById("consent-safe_contact");
if (safe) {
  const select = document.getElementById("consent-safe_contact-select");
  const dv = document.getElementById("concern-dv_abuse");
  const sensitive = document.getElementById("consent-sensitive");
  const update = () => {
    const atRisk = (dv && dv.checked) || (sensitive && sensitive.checked);
    select.hidden = !atRisk && !select.value;
    select.required = Boolean(atRisk);
  };
  [dv, sensitive].forEach((box) => box && box.addEventListener("change", update));
  update();
}
