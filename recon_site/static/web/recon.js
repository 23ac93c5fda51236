// Recon web app: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";
  // "Select all" in a review queue ticks only the rows that offer a checkbox (clean invoices).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.classList.contains("select-all")) return;
    var form = target.closest("form");
    if (!form) return;
    form.querySelectorAll("input.row-select").forEach(function (box) { box.checked = target.checked; });
  });
})();
