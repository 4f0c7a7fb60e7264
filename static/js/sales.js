// Sales: Show code reveals the code in place, next to its button. Without this
// file the form posts as usual and the page comes back showing the code.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) return;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-reveal")) return;
    var slot = document.getElementById(form.getAttribute("data-reveal"));
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!slot || !token) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest", "X-CSRFToken": token.value },
    })
      .then(function (response) {
        // A redirect means the session ended (the login page): let the form post.
        if (!response.ok || response.redirected) throw new Error("not revealed");
        return response.text();
      })
      .then(function (html) {
        // The server rendered and escaped the code: the fragment holds no script.
        slot.innerHTML = html;  // site.js shows its Copy button (it watches the page)
        form.remove();
        var code = slot.querySelector("code");
        if (code) code.focus();
      })
      .catch(function () {
        // Fall back to the page reload, which shows the code or says what went wrong.
        if (button) button.disabled = false;
        form.submit();
      });
  });
})();
