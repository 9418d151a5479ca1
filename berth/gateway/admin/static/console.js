// The site console's only script: follow locker states live (server-sent events from
// /admin/live) and recolour every element that shows a locker. No library, no network beyond
// this gateway. Pages work without it; it only keeps them current.
"use strict";
(function () {
  var shown = document.querySelectorAll("[data-locker-id][data-state]");
  if (!shown.length || !window.EventSource) { return; }
  var live = document.getElementById("live");
  function mark(state, text) {
    if (live) { live.dataset.state = state; live.textContent = text; }
  }
  function paint(msg) {
    var els = document.querySelectorAll('[data-locker-id="' + msg.id + '"][data-state]');
    els.forEach(function (el) {
      if (el.dataset.state === msg.state) { return; }
      el.classList.remove("state-" + el.dataset.state);
      el.classList.add("state-" + msg.state);
      el.dataset.state = msg.state;
      var what = el.querySelector(".what");
      if (what) { what.textContent = msg.label; } else { el.textContent = msg.label; }
      var label = el.getAttribute("aria-label");
      if (label) { el.setAttribute("aria-label", label.replace(/: [^:]*$/, ": " + msg.label)); }
    });
  }
  var source = new EventSource("/admin/live");
  source.addEventListener("open", function () { mark("live", "live"); });
  source.addEventListener("error", function () { mark("reconnecting", "reconnecting…"); });
  source.addEventListener("locker", function (e) { paint(JSON.parse(e.data)); });
})();
