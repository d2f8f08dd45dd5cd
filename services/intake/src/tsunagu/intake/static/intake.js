// Small enhancements; every page works without them.
"use strict";

// Live sections: the server sends the section's new HTML whenever it changes.
document.querySelectorAll("[data-live]").forEach((section) => {
  let pending = null;
  let failures = 0;
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
  const source = new EventSource(section.dataset.live);
  source.addEventListener("update", (event) => { failures = 0; apply(event.data); });
  // Access ended (consent withdrawn): leave nothing on screen; a reload shows why.
  source.addEventListener("gone", () => { source.close(); section.innerHTML = ""; window.location.reload(); });
  source.addEventListener("error", () => {
    failures += 1;
    // The session may have ended: a reload shows the login page.
    if (failures >= 3) { source.close(); window.location.reload(); }
  });
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
