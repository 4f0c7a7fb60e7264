// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  // A polite live region for short confirmations ("Copied"). It exists from the
  // start: screen readers announce changes to a region, not a region being added.
  var status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  document.body.appendChild(status);
  function announce(text) {
    // Emptied first, so the same words said twice are announced twice.
    status.textContent = "";
    setTimeout(function () { status.textContent = text; }, 50);
  }

  // The account menu (<details class="menu">) closes on a click outside it, when
  // keyboard focus moves out of it, and on Escape, which puts focus back on its summary.
  function closeMenu(menu, refocus) {
    menu.removeAttribute("open");
    if (refocus) menu.querySelector("summary").focus();
  }
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) closeMenu(menu, false);
    });
  });
  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest ? event.target.closest("details.menu[open]") : null;
    // No relatedTarget: focus went nowhere (a click on plain text, another window);
    // the click handler above decides those.
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) {
      closeMenu(menu, false);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      closeMenu(menu, true);
    });
  });

  // Copy buttons: <button type="button" data-copy-target="#id" hidden
  //   data-copied-label="{% translate 'Copied' %}">. They are hidden in the markup
  // because they need JavaScript. One listener on the document serves them all,
  // including buttons a script inserts later (Show code).
  var COPIED = { en: "Copied", es: "Copiado" };  // when a button carries no label
  function copiedLabel(button) {
    var lang = (document.documentElement.lang || "en").split("-")[0];
    return button.getAttribute("data-copied-label") || COPIED[lang] || COPIED.en;
  }
  function reveal(root) {
    root.querySelectorAll("button[data-copy-target][hidden]").forEach(function (button) {
      button.hidden = false;
      var source = document.querySelector(button.getAttribute("data-copy-target"));
      // The share link is shown only with its Copy button (it is in the textarea too).
      if (source && source.id === "share-url") source.hidden = false;
    });
  }
  reveal(document);
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) reveal(node.parentNode || node);
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function copied(button) {
    var label = copiedLabel(button);
    announce(label);
    if (button.getAttribute("data-copy-label") === null) {
      button.setAttribute("data-copy-label", button.textContent);
    }
    button.textContent = label;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () {
      button.textContent = button.getAttribute("data-copy-label");
    }, 2000);
  }
  function copyFallback(button, target) {
    // Without the Clipboard API (a plain-http address) the text is selected, and
    // copied where the browser still allows it; otherwise it is ready for Ctrl+C.
    if (target.matches("input, textarea")) { target.select(); } else { selectText(target); }
    var done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    if (done) copied(button);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy-target]") : null;
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) return;
    var text = (target.matches("input, textarea") ? target.value : target.textContent).trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button); },
        function () { copyFallback(button, target); }
      );
    } else {
      copyFallback(button, target);
    }
  });

  // The result of a form post (Validate a code, Show code): the element marked
  // data-focus-on-load gets focus, so keyboard and screen-reader users land on it.
  var result = document.querySelector("[data-focus-on-load]");
  if (result) {
    if (!result.hasAttribute("tabindex")) result.setAttribute("tabindex", "-1");
    result.focus();
  }

  // Live progress: an element with data-poll-url is refreshed from JSON until done.
  document.querySelectorAll("[data-poll-url]").forEach(function (box) {
    var url = box.getAttribute("data-poll-url");
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var bar = box.querySelector("progress");
          // A share of the file while it is read; no value (an indeterminate bar)
          // while the codes are merged, which has no byte count.
          if (bar) {
            if (data.percent === null) { bar.removeAttribute("value"); }
            else { bar.max = 100; bar.value = data.percent; }
          }
          var text = box.querySelector("[data-poll-text]");
          if (text) text.textContent = data.progress_text;
          if (data.finished) { window.location.reload(); } else { setTimeout(tick, 1000); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    setTimeout(tick, 1000);
  });

  // A table wider than its panel scrolls sideways: make that region reachable and
  // scrollable from the keyboard, named after its caption or the panel's heading.
  function markScrollable() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        var caption = wrap.querySelector("caption");
        var panel = wrap.closest("section, .panel, main");
        var heading = panel && panel.querySelector("h1, h2, h3");
        var name = (caption || heading || {}).textContent;
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (name) wrap.setAttribute("aria-label", name.trim());
      } else if (!scrolls && wrap.getAttribute("role") === "region") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  markScrollable();
  window.addEventListener("resize", markScrollable);
})();
