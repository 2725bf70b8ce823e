// Small behaviours that htmx does not cover; no inline scripts (CSP forbids them).
(function () {
  "use strict";

  function dismissLater(toast) {
    window.setTimeout(function () {
      toast.classList.add("toast-leaving");
      window.setTimeout(function () { toast.remove(); }, 300);
    }, 5000);
  }

  function wire(root) {
    root.querySelectorAll(".toast:not([data-wired])").forEach(function (toast) {
      toast.setAttribute("data-wired", "1");
      dismissLater(toast);
    });
    root.querySelectorAll("select[data-autosubmit]:not([data-wired])").forEach(function (select) {
      select.setAttribute("data-wired", "1");
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
    root.querySelectorAll("[data-remove-row]:not([data-wired])").forEach(function (button) {
      button.setAttribute("data-wired", "1");
      button.addEventListener("click", function () {
        var row = button.closest(".contact-row");
        row.querySelectorAll("input").forEach(function (input) {
          if (input.type === "checkbox") { input.checked = false; } else { input.value = ""; }
        });
        row.hidden = true;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:load", function (event) { wire(event.target); });
  // The "add contact" button asks for the next row number.
  document.addEventListener("htmx:configRequest", function (event) {
    var el = event.detail.elt;
    if (el.hasAttribute("data-next-index")) {
      event.detail.parameters.index = document.querySelectorAll(".contact-row").length;
    }
  });
})();

// After the editor re-renders, keep the keyboard where the person was working.
document.addEventListener("htmx:afterSettle", function (event) {
  var marker = event.target.querySelector && event.target.querySelector("[data-focus]");
  if (marker) {
    var target = document.querySelector(marker.getAttribute("data-focus"));
    if (target) { target.focus(); }
    marker.remove();
  }
});
