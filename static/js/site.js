// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  // Close the account menu on Escape or a click outside it.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
        menu.querySelector("summary").focus();
      });
    }
  });
  // Copy buttons: <button data-copy-target="#id">.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (source && source.id === "share-url") source.hidden = false;
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-copy-target"));
      if (!target || !navigator.clipboard) return;
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
  // Live progress: an element with data-poll-url is refreshed from JSON until done.
  document.querySelectorAll("[data-poll-url]").forEach(function (box) {
    var url = box.getAttribute("data-poll-url");
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var bar = box.querySelector("progress");
          if (bar && data.lines_total) { bar.max = data.lines_total; bar.value = data.lines_processed; }
          var text = box.querySelector("[data-poll-text]");
          if (text) text.textContent = data.progress_text;
          if (data.finished) { window.location.reload(); } else { setTimeout(tick, 1000); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    setTimeout(tick, 1000);
  });
})();
