// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // Submit the language switcher on change; its button stays for keyboard and no-JS users.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // Live progress: elements with data-poll fetch JSON and fill [data-field] children.
  document.querySelectorAll("[data-poll]").forEach(function (box) {
    var url = box.getAttribute("data-poll");
    var interval = parseInt(box.getAttribute("data-interval") || "1500", 10);
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          box.querySelectorAll("[data-field]").forEach(function (el) {
            var value = data[el.getAttribute("data-field")];
            if (value === undefined || value === null) { value = "—"; }
            if (el.tagName === "PROGRESS") { el.value = value; } else { el.textContent = value; }
          });
          if (data.terminal) {
            if (box.hasAttribute("data-reload-on-finish")) { window.location.reload(); }
            return;
          }
          window.setTimeout(tick, interval);
        })
        .catch(function () { window.setTimeout(tick, interval * 2); });
    }
    window.setTimeout(tick, interval);
  });
})();
