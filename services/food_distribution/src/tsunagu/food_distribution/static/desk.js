// The food desk: one tap per handout, and live stock and eligibility (served as a file:
// the pages' Content-Security-Policy allows no inline script).
(function () {
  // Choosing another event reloads the desk for it.
  var chooser = document.getElementById("event");
  if (chooser) chooser.addEventListener("change", function () { chooser.form.submit(); });
  var eventId = document.body.dataset.eventId;
  var pollMs = Number(document.body.dataset.pollMs) || 3000;
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
  // The numbers are current only while polls succeed: a failed poll greys the tiles and says
  // from when they are, and the next poll that succeeds brings them back (no reload needed).
  var lastOk = null;
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
  function poll() {
    fetch("/api/v1/stock?event_id=" + encodeURIComponent(eventId),
          {credentials: "same-origin", headers: {Accept: "application/json"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (stock) {
        stock.items.forEach(show);
        lastOk = new Date(stock.as_of);
        var section = document.querySelector("section.stock");
        if (section) section.classList.remove("stale");
        var line = document.querySelector(".asof");
        if (line) {
          line.classList.remove("stale");
          line.textContent = "在庫 " + clock(lastOk) + " 時点（自動更新）";
        }
      })
      .catch(markStale);
  }
  window.addEventListener("offline", markStale);
  window.addEventListener("online", poll);
  setInterval(poll, pollMs);
})();
