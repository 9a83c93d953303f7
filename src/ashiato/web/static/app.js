// ashiato web UI: optional niceties only; every page works without this file.
// Log text is never inserted as HTML here: only textContent and attribute values.
(function () {
  "use strict";
  var zone = document.body.getAttribute("data-tz") || "UTC";
  var button = document.getElementById("tz-toggle");
  var KEY = "ashiato.localTimes";

  function format(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return null; }
    try {
      var parts = new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
      }).format(d);
      return parts + " " + zone;
    } catch (e) { return null; }
  }

  function apply(local) {
    var nodes = document.querySelectorAll("time.ts");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (!el.hasAttribute("data-utc")) { el.setAttribute("data-utc", el.textContent); }
      var iso = el.getAttribute("datetime");
      var shown = local && iso ? format(iso) : null;
      el.textContent = shown || el.getAttribute("data-utc");
    }
  }

  if (button && zone !== "UTC") {
    button.hidden = false;
    var local = window.localStorage && localStorage.getItem(KEY) === "1";
    apply(local);
    button.addEventListener("click", function () {
      local = !local;
      try { localStorage.setItem(KEY, local ? "1" : "0"); } catch (e) { /* private mode */ }
      apply(local);
    });
  }

  // keyboard: "/" focuses the text filter on the timeline
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement === document.body) {
      var q = document.querySelector("form.filters input[name=q]");
      if (q) { ev.preventDefault(); q.focus(); }
    }
  });
})();
