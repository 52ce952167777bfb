// Kapu dashboard: progressive enhancements only; every page works without this.
(function () {
  "use strict";
  // Confirm destructive actions.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var msg = f.getAttribute && f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  // Copy buttons (DNS records): the value to the clipboard, a word of thanks on the button.
  document.addEventListener("click", function (ev) {
    var b = ev.target;
    var text = b && b.getAttribute && b.getAttribute("data-copy");
    if (!text || !navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(function () {
      var was = b.textContent;
      b.textContent = document.documentElement.lang.indexOf("en") === 0 ? "Copied" : "已复制";
      setTimeout(function () { b.textContent = was; }, 1500);
    });
  });
  // Live key-import progress.
  var box = document.getElementById("import");
  if (box && box.getAttribute("data-status") === "running") {
    var url = box.getAttribute("data-progress-url");
    var set = function (id, v) { var el = document.getElementById(id); if (el) el.textContent = v; };
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          var bar = document.getElementById("import-bar");
          if (bar) bar.value = p.processed;
          set("import-processed", p.processed);
          set("import-imported", p.imported);
          set("import-duplicate", p.duplicate);
          set("import-invalid", p.invalid);
          set("import-status", p.status_label);
          if (p.status === "running") setTimeout(poll, 400); else window.location.reload();
        })
        .catch(function () { setTimeout(poll, 1500); });
    };
    setTimeout(poll, 300);
  }
})();
