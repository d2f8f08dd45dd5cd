// Offline intake: a case taken in while the network is down is kept on this device, encrypted,
// and sent by itself when the network returns, one at a time, in the order taken.
//
// - Where: IndexedDB "tsunagu-offline", store "queue" (one record per case: its
//   Idempotency-Key and the time it was taken in clear, the form's fields as AES-GCM
//   ciphertext).
// - The key: a non-extractable AES-GCM key made in this browser for the signed-in staff member
//   (store "keys"). Script can use it but never read it out; logging out deletes it, the queue
//   and the cached form (see docs/adr, "offline intake").
// - Never twice: each case keeps the form's Idempotency-Key; the server answers a repeat with
//   the case the first one created.
// - Its day: each case is sent with the time it was taken here (X-Tsunagu-Taken-At), so a case
//   taken at an event and sent after midnight is still taken in as of the event's day, within
//   the server's window (see docs/adr, "a case taken offline keeps its day").
"use strict";

(() => {
  const staff = document.body.dataset.staff;
  if (!staff) return;  // the login page and the residents' pages have no staff member
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
  if (!window.indexedDB || !window.crypto || !window.crypto.subtle) return;

  const ja = document.documentElement.lang !== "en";
  const say = (jaText, enText) => (ja ? jaText : enText);
  const DB = "tsunagu-offline";
  const form = document.querySelector("form.intake");
  const sent = [];  // reception numbers sent from this page
  let problem = "";

  // ---- IndexedDB, as small promises ----
  const openDb = () => new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("keys", { keyPath: "staff" });
      db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true }).createIndex("staff", "staff");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const run = async (store, mode, action) => {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(store, mode);
      let result;
      const request = action(transaction.objectStore(store));
      if (request) request.onsuccess = () => { result = request.result; };
      transaction.oncomplete = () => { db.close(); resolve(result); };
      transaction.onerror = transaction.onabort = () => { db.close(); reject(transaction.error); };
    });
  };
  const waiting = async () => {
    const items = await run("queue", "readonly", (s) => s.index("staff").getAll(staff));
    return (items || []).sort((a, b) => a.seq - b.seq);
  };

  // ---- the key that goes with the staff member's session ----
  const sessionKey = async () => {
    const kept = await run("keys", "readonly", (s) => s.get(staff));
    if (kept) return kept.key;
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await run("keys", "readwrite", (s) => s.put({ staff, key }));
    return key;
  };
  const seal = async (fields) => {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = new TextEncoder().encode(JSON.stringify(fields));
    const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sessionKey(), plain);
    return { iv, data };
  };
  const open = async (item) => {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: item.iv }, await sessionKey(), item.data);
    return JSON.parse(new TextDecoder().decode(plain));
  };

  // ---- what the page shows ----
  const csrf = () => document.querySelector('form[action="/logout"] input[type="hidden"]');
  const panel = document.createElement("section");
  panel.id = "offline-queue";
  panel.className = "offline-queue";
  panel.setAttribute("role", "status");
  panel.setAttribute("aria-live", "polite");
  const main = document.getElementById("main");
  if (main) main.prepend(panel);

  const show = async () => {
    const items = await waiting().catch(() => []);
    const review = items.filter((i) => i.state === "review");
    panel.replaceChildren();
    panel.hidden = !form && !items.length && !sent.length && navigator.onLine;
    const line = (text, className) => {
      const p = document.createElement("p");
      p.textContent = text;
      if (className) p.className = className;
      panel.append(p);
      return p;
    };
    if (!navigator.onLine) {
      line(say("オフラインです。受付フォームはこのまま使えます。", "Offline. The intake form still works."), "offline-state");
    }
    line(say(`未送信 ${items.length}件`, `Not sent: ${items.length}`), "queue-count");
    if (items.length || !navigator.onLine) {
      line(say(
        "オフラインで受け付けた相談は、この端末（このブラウザ）に暗号化して保存しています。ネットワークが戻ると自動で順に送信し、送信できたものは端末から削除します。",
        "Cases taken offline are kept on this device (this browser), encrypted. They are sent by themselves, in order, when the network returns, and deleted from the device once sent.",
      ), "small");
    }
    if (problem) line(problem, "alert warn");
    review.forEach((item) => {
      const p = line(say(`確認が必要な相談（${time(takenAt(item))} 受付）: ${item.message || ""}`,
        `A case needs checking (taken ${time(takenAt(item))}): ${item.message || ""}`), "alert warn");
      const a = document.createElement("a");
      a.href = `/cases/new?restore=${item.seq}&taken_at=${encodeURIComponent(takenAt(item))}`;
      a.textContent = say("フォームで開く", "Open in the form");
      p.append(" ", a);
    });
    if (sent.length) {
      const list = document.createElement("ul");
      list.className = "sent";
      sent.forEach((number) => {
        const li = document.createElement("li");
        li.textContent = say(`送信しました: 受付番号 ${number}`, `Sent: reception number ${number}`);
        list.append(li);
      });
      panel.append(list);
    }
  };
  // The time a case was taken; with its date when that was not today (sent after midnight).
  const time = (iso) => {
    const at = new Date(iso);
    const options = { hour: "2-digit", minute: "2-digit" };
    if (at.toDateString() !== new Date().toDateString()) Object.assign(options, { month: "numeric", day: "numeric" });
    return at.toLocaleString(ja ? "ja-JP" : "en-GB", options);
  };
  // Cases kept before the time taken was stored apart from the time queued: the two are one.
  const takenAt = (item) => item.takenAt || item.queuedAt;

  // ---- sending, one at a time, in order ----
  let sending = false;
  const sendAll = async () => {
    if (sending || !navigator.onLine) return;
    sending = true;
    try {
      const token = csrf();
      for (const item of await waiting()) {
        if (item.state === "review") continue;
        const body = new URLSearchParams();
        (await open(item)).forEach(([name, value]) => body.append(name, value));
        if (token) body.set(token.name, token.value);
        body.set("idempotency_key", item.key);
        body.set("action", "save");
        let response;
        try {
          response = await fetch("/cases/new", {
            method: "POST",
            body,
            credentials: "same-origin",
            headers: { "Idempotency-Key": item.key, "X-Tsunagu-Taken-At": takenAt(item) },
          });
        } catch (_) {
          return;  // the network went again: the rest wait, in order
        }
        const path = new URL(response.url).pathname;
        if (response.redirected && path === "/login" || response.status === 401 || response.status === 403) {
          problem = say("ログインし直すと、未送信の相談を送信します。", "Log in again to send the waiting cases.");
          return;
        }
        if (response.status >= 500) return;  // the server is busy or down: try again later
        const html = await response.text();
        const page = new DOMParser().parseFromString(html, "text/html");
        if (response.redirected && /^\/cases\/[^/]+$/.test(path)) {
          const number = page.querySelector("h1 .mono");
          sent.push(number ? number.textContent.trim() : path.split("/").pop());
          await run("queue", "readwrite", (s) => s.delete(item.seq));
        } else {
          const why = page.querySelector("#error-summary ul, #notice");
          item.state = "review";
          item.message = why ? why.textContent.replace(/\s+/g, " ").trim()
            : say("内容を確かめてください", "Please check the case");
          await run("queue", "readwrite", (s) => s.put(item));
        }
        problem = "";
        await show();
      }
    } finally {
      sending = false;
      await show();
    }
  };
  const sendSoon = () => {
    const go = () => sendAll().catch(() => {});
    if (navigator.locks) navigator.locks.request("tsunagu-offline-send", { ifAvailable: true }, (lock) => (lock ? go() : null));
    else go();
  };

  // ---- the intake form: keep a case offline, no routing preview offline ----
  if (form) {
    const keyField = form.querySelector('input[name="idempotency_key"]');
    const fresh = !document.getElementById("error-summary") && !document.getElementById("notice");
    if (keyField && fresh && crypto.randomUUID) keyField.value = crypto.randomUUID();
    const previewNote = document.createElement("p");
    previewNote.className = "alert warn";
    previewNote.id = "preview-offline";
    previewNote.setAttribute("role", "status");
    previewNote.hidden = true;
    previewNote.textContent = say(
      "振り分けの確認はオフラインでは使えません（振り分けサービスへの接続が必要です）。受付の登録はできます。",
      "The routing preview is unavailable offline (it needs the routing service). You can still register the case.",
    );
    const actions = form.querySelector(".actions");
    if (actions) actions.before(previewNote);

    form.addEventListener("submit", async (event) => {
      const action = event.submitter ? event.submitter.value : "save";
      if (navigator.onLine) {
        const restoring = new URLSearchParams(location.search).get("restore");
        if (restoring && action === "save") {  // sent now: the queue's copy becomes a plain retry
          const item = await run("queue", "readonly", (s) => s.get(Number(restoring))).catch(() => null);
          if (item) { item.state = "waiting"; await run("queue", "readwrite", (s) => s.put(item)); }
        }
        return;
      }
      event.preventDefault();
      if (action === "preview") { previewNote.hidden = false; previewNote.scrollIntoView(); return; }
      const data = new FormData(form);
      const missing = ["resident.name", "resident.name_kana"].filter((n) => !String(data.get(n) || "").trim());
      if (missing.length) {
        problem = say("氏名とふりがなを入力してください（オフラインでも必要です）。", "Enter the name and furigana (needed offline too).");
        await show();
        panel.scrollIntoView();
        return;
      }
      const fields = [...data.entries()].filter(([name, value]) =>
        typeof value === "string" && !["action", "idempotency_key", "taken_at", token()].includes(name));
      const key = keyField.value;
      const now = new Date().toISOString();
      // A case opened back from the queue keeps the time it was first taken.
      const takenAtField = form.querySelector('input[name="taken_at"]');
      const { iv, data: sealed } = await seal(fields);
      await run("queue", "readwrite", (s) => s.add({
        staff, key, queuedAt: now, takenAt: (takenAtField && takenAtField.value) || now,
        state: "waiting", iv, data: sealed,
      }));
      problem = "";
      form.reset();
      if (takenAtField) takenAtField.remove();  // the next case is taken now
      keyField.value = crypto.randomUUID();
      await show();
      const saved = document.createElement("p");
      saved.className = "alert";
      saved.textContent = say("この端末に保存しました（未送信）。ネットワークが戻ると自動で送信します。", "Kept on this device (not sent). It is sent by itself when the network returns.");
      panel.append(saved);
      window.scrollTo(0, 0);
    });
    const token = () => (csrf() ? csrf().name : "csrf_token");

    // "Open in the form": a case the server asked about, back in the form to finish.
    const restore = new URLSearchParams(location.search).get("restore");
    if (restore) {
      run("queue", "readonly", (s) => s.get(Number(restore))).then(async (item) => {
        if (!item || item.staff !== staff) return;
        const fields = await open(item);
        form.querySelectorAll("input[type=checkbox], input[type=radio]").forEach((box) => { box.checked = false; });
        for (const [name, value] of fields) {
          form.querySelectorAll(`[name="${CSS.escape(name)}"]`).forEach((input) => {
            if (input.type === "checkbox" || input.type === "radio") { if (input.value === value) input.checked = true; }
            else input.value = value;
          });
        }
        keyField.value = item.key;
      }).catch(() => {});
    }
  }

  // ---- logging out asks first when cases wait, then wipes what this device keeps ----
  const logout = document.querySelector('form[action="/logout"]');
  if (logout) {
    logout.addEventListener("submit", async (event) => {
      event.preventDefault();
      const items = await waiting().catch(() => []);
      if (items.length && !window.confirm(say(
        `未送信の相談が ${items.length}件 この端末に残っています。ログアウトすると削除され、送信されません。ログアウトしますか？`,
        `${items.length} case(s) are still waiting on this device. Logging out deletes them unsent. Log out?`,
      ))) return;
      await run("queue", "readwrite", (s) => { items.forEach((i) => s.delete(i.seq)); }).catch(() => {});
      await run("keys", "readwrite", (s) => s.delete(staff)).catch(() => {});
      if (window.caches) for (const name of await caches.keys()) await caches.delete(name);
      logout.submit();
    });
  }

  window.addEventListener("online", () => { problem = ""; show(); sendSoon(); });
  window.addEventListener("offline", show);
  show();
  sendSoon();
  setInterval(sendSoon, 15000);
})();
