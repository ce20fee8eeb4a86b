/* Idle log-off (issue 6). The server expires the session after SESSION_COOKIE_AGE seconds without
   a request; this timer mirrors it in the browser: one minute before, it shows a warning; at the
   limit it submits the (CSRF-protected) sign-out form with reason=idle, so the screen does not
   keep showing patient data. Activity in the page (keys, pointer, scroll) restarts the countdown
   and, when the server session is more than half-way to expiry, a request to the keep-alive URL
   (an empty 204) refreshes it (sliding expiry, SESSION_SAVE_EVERY_REQUEST). Same origin only. */
(function () {
  "use strict";
  var body = document.body;
  var limit = parseInt(body.getAttribute("data-idle-seconds"), 10);
  var form = document.getElementById("logout-form");
  var keepalive = body.getAttribute("data-keepalive-url");
  if (!limit || !form) { return; }
  var warning = document.getElementById("idle-warning");
  var lastActivity = Date.now();
  var lastServerTouch = Date.now();

  function touchServer() {
    lastServerTouch = Date.now();
    if (!keepalive || !window.fetch) { return; }
    try {
      window.fetch(keepalive, { method: "GET", credentials: "same-origin" })
        .catch(function () { /* offline: the timer still signs out */ });
    } catch (e) { /* fetch unavailable: nothing to refresh */ }
  }

  function activity() {
    lastActivity = Date.now();
    if (warning) { warning.hidden = true; }
    if ((Date.now() - lastServerTouch) / 1000 > limit / 2) { touchServer(); }
  }

  ["keydown", "pointerdown", "scroll", "mousemove", "touchstart"].forEach(function (type) {
    window.addEventListener(type, activity, { passive: true });
  });

  window.setInterval(function () {
    var idle = (Date.now() - lastActivity) / 1000;
    if (idle >= limit) {
      form.querySelector("input[name=reason]").value = "idle";
      form.submit();
    } else if (warning && idle >= limit - 60) {
      warning.hidden = false;
    }
  }, 5000);
}());
