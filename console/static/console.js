/* Roster console: the little script the pages need, served from the app (the CSP forbids inline script).
   - Copy buttons: <button data-copy="ID"> copies the value of the field ID.
   - Live panels: <div data-refresh="URL"> reloads its content from URL every 5 seconds while the tab is visible. */
(function () {
  "use strict";

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        if (document.execCommand("copy")) { done(); }
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { copy(button); }
  });

  function refresh(panel) {
    if (document.hidden) { return; }
    fetch(panel.getAttribute("data-refresh"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null && html !== panel.innerHTML) { panel.innerHTML = html; } })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  document.querySelectorAll("[data-refresh]").forEach(function (panel) {
    setInterval(function () { refresh(panel); }, 5000);
  });
}());
