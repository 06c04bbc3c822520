// The approval queue, live: polls /ui/live and shows how many approvals are pending; on the
// approvals page, says when the queue changed (never reloads by itself: a comment being
// typed is not lost). Served by Remit itself; no other script runs on these pages.
(function () {
  "use strict";
  var badge = document.getElementById("pending-badge");
  if (!badge) { return; }
  var live = document.getElementById("live");
  var notice = document.getElementById("live-notice");
  function poll() {
    fetch("/ui/live", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        badge.textContent = String(data.pending);
        badge.hidden = data.pending === 0;
        if (live && notice) {
          var changed = String(data.pending) !== live.dataset.pending ||
            (data.newest || "") !== live.dataset.newest;
          notice.hidden = !changed;
        }
      })
      .catch(function () { /* the next poll retries */ });
  }
  poll();
  setInterval(poll, 5000);
}());
