// The staff pages' service worker: keeps the intake form usable when the venue's network drops.
//
// What it keeps: the new-case form page (/cases/new, no resident data on it) and the static
// files. Nothing else is cached: case pages, the board and inboxes show personal data and are
// always fetched from the server. A case taken offline is not kept here but by the page
// (offline.js), encrypted in IndexedDB.
"use strict";

const CACHE = "tsunagu-intake-v1";
const FORM = "/cases/new";
const STATIC = [
  "/static/intake.css",
  "/static/intake.js",
  "/static/offline.js",
  "/static/icon-192.png",
  "/manifest.webmanifest",
];

async function keepForm(cache) {
  // Only the form as this staff member may see it (a 403 or the login page is not kept).
  const response = await fetch(FORM, { credentials: "same-origin" });
  if (response.ok && !response.redirected) await cache.put(FORM, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(STATIC);
    await keepForm(cache).catch(() => {});
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

const OFFLINE_PAGE = `<!doctype html><html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>オフライン — つなぐ</title><link rel="stylesheet" href="/static/intake.css"></head>
<body><main id="main"><h1>ネットワークにつながっていません</h1>
<p>このページはネットワークが戻ると表示できます。相談の受付は、オフラインでも
<a href="/cases/new">新規受付</a> から続けられます（この端末に保存し、ネットワークが戻ると送信します）。</p>
</main></body></html>`;

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(cacheKey, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(cacheKey);
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === FORM) {
    event.respondWith(networkFirst(request, FORM));
  } else if (STATIC.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => new Response(OFFLINE_PAGE, {
      status: 503, headers: { "Content-Type": "text/html; charset=utf-8" },
    })));
  }
});
