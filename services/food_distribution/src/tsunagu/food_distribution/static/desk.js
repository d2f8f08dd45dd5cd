// The food desk: one tap per handout, and pushed live stock (served as a file:
// the pages' Content-Security-Policy allows no inline script).
(function () {
  // Choosing another event reloads the desk for it.
  var chooser = document.getElementById("event");
  if (chooser) chooser.addEventListener("change", function () { chooser.form.submit(); });
  var eventId = document.body.dataset.eventId;
  // One tap records one handout: block a second tap while the first is on its way.
  document.querySelectorAll("form[data-give]").forEach(function (form) {
    form.addEventListener("submit", function () {
      document.querySelectorAll("form[data-give] button").forEach(function (b) { b.disabled = true; });
    });
  });
  if (!eventId) return;
  function show(item) {
    document.querySelectorAll('[data-stock="' + item.parcel_type + '"]').forEach(function (el) {
      el.textContent = item.remaining;
    });
    var tile = document.querySelector('[data-tile="' + item.parcel_type + '"]');
    if (tile) {
      tile.classList.toggle("empty", item.remaining === 0);
      tile.classList.toggle("low", item.remaining > 0 && item.low);
      tile.querySelector(".flag").textContent =
        item.remaining === 0 ? "在庫切れ" : (item.low ? "残りわずか" : "");
    }
    var button = document.querySelector('button[data-parcel="' + item.parcel_type + '"]');
    if (button) button.disabled = button.dataset.may !== "1" || item.remaining === 0;
  }
  // Pushed stock: the server sends the event's stock when it changes (server-sent events; an
  // idle desk costs the server nothing). The numbers are current only while the stream is up:
  // a drop greys the tiles and says from when they are; the browser reconnects, and the first
  // message after it shows the current numbers and clears the mark (no reload needed).
  var lastOk = null;
  var staleTimer = null;
  function clock(at) { return at.toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo"}); }
  function markStale() {
    var section = document.querySelector("section.stock");
    if (section) section.classList.add("stale");
    var line = document.querySelector(".asof");
    if (line) {
      line.classList.add("stale");
      line.textContent = "通信が切れています。在庫の数は " + (lastOk ? clock(lastOk) : "ページを開いた") +
        " 時点のもので、最新ではありません。再接続しています…";
    }
  }
  function fresh(stock) {
    clearTimeout(staleTimer);
    staleTimer = null;
    stock.items.forEach(show);
    lastOk = new Date(stock.as_of);
    var section = document.querySelector("section.stock");
    if (section) section.classList.remove("stale");
    var line = document.querySelector(".asof");
    if (line) {
      line.classList.remove("stale");
      line.textContent = "在庫 " + clock(lastOk) + " 時点（自動更新）";
    }
  }
  var source = null;
  function connect() {
    if (source) source.close();
    source = new EventSource("/desk/stock/stream?event_id=" + encodeURIComponent(eventId));
    var mine = source;
    source.addEventListener("stock", function (event) { fresh(JSON.parse(event.data)); });
    // The sign-in was ended: a reload meets the login page.
    source.addEventListener("gone", function () { mine.close(); window.location.reload(); });
    source.addEventListener("error", function () {
      if (mine.readyState === EventSource.CLOSED && navigator.onLine) {
        // The server refused the stream (the session may have ended): a reload shows why.
        markStale();
        setTimeout(function () { window.location.reload(); }, 3000);
        return;
      }
      // A stream that simply ended is back within a second; only a gap that lasts is shown.
      if (staleTimer === null) staleTimer = setTimeout(markStale, 1500);
    });
  }
  // The browser says the network is gone: close the stream too, so that a message still on
  // its way cannot show old numbers as current; coming back online opens a new one.
  window.addEventListener("offline", function () {
    clearTimeout(staleTimer);
    staleTimer = 0;
    if (source) { source.close(); source = null; }
    markStale();
  });
  window.addEventListener("online", connect);
  connect();
})();
