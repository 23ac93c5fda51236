// The payment workbench (templates/payments/detail.html). The form works without this file: an
// empty amount is the open balance, in page order, until the payment is used up (payments.
// workbench). With it, the page does the same as the clerk ticks (in the order ticked), shows
// what each invoice keeps open and what is left of the payment, and narrows the list as a number
// is typed into the search (case, spaces, dashes and zero padding ignored, as on the server).
// Money is handled as integer minor units parsed from the decimal strings, never as floats.
(function () {
  "use strict";
  var form = document.getElementById("workbench-form");
  if (!form) return;
  var places = parseInt(form.dataset.places, 10) || 0;
  var remaining = toMinor(form.dataset.remaining);
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-invoice]"));
  var sum = form.querySelector(".workbench-sum");

  function toMinor(text) {
    var match = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text || "");
    if (!match) return null;
    var fraction = match[2] || "";
    if (fraction.length > places) return null;
    while (fraction.length < places) fraction += "0";
    return parseInt(match[1] + fraction, 10);
  }

  function format(minor) {
    var negative = minor < 0;
    var digits = String(Math.abs(minor));
    while (digits.length <= places) digits = "0" + digits;
    var whole = places ? digits.slice(0, digits.length - places) : digits;
    var text = places ? whole + "." + digits.slice(digits.length - places) : whole;
    return (negative ? "−" : "") + text;
  }

  function normalize(number) {
    return (number || "").toUpperCase().replace(/[^0-9A-Z]/g, "").replace(/(?<![0-9])0+(?=[0-9])/g, "");
  }

  function parts(row) {
    return {
      pick: row.querySelector("input.pick"),
      amount: row.querySelector("input.pay-amount"),
      writeOff: row.querySelector("input.write-off"),
      rest: row.querySelector(".rest"),
      balance: toMinor(row.dataset.balance),
      writeOffMax: parseInt(row.dataset.writeOffMax, 10) || 0
    };
  }

  function usedBy(exceptRow) {
    var used = 0;
    rows.forEach(function (row) {
      if (row === exceptRow) return;
      var p = parts(row);
      var amount = toMinor(p.amount.value);
      if (p.pick.checked && amount) used += amount;
    });
    return used;
  }

  function refresh() {
    rows.forEach(function (row) {
      var p = parts(row);
      row.classList.toggle("is-picked", p.pick.checked);
      var amount = toMinor(p.amount.value);
      if (!p.pick.checked || amount === null) {
        p.rest.textContent = "";
        p.writeOff.disabled = !p.pick.checked;
        return;
      }
      var rest = p.balance - amount;
      if (rest > 0) {
        p.rest.textContent = format(rest) + " stays open";
        p.writeOff.disabled = rest > p.writeOffMax;
        if (p.writeOff.disabled) p.writeOff.checked = false;
      } else {
        p.rest.textContent = rest < 0 ? "More than the open balance" : "Paid in full";
        p.writeOff.checked = false;
        p.writeOff.disabled = true;
      }
    });
    var left = remaining - usedBy(null);
    sum.classList.toggle("is-over", left < 0);
    sum.innerHTML = "";
    sum.append(left < 0 ? "Over-allocated by: " : "Left to allocate: ");
    var strong = document.createElement("strong");
    strong.className = "amount";
    strong.textContent = format(Math.abs(left));
    sum.append(strong, " " + form.dataset.currency);
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    var row = target.closest("tr[data-invoice]");
    if (!row) return;
    var p = parts(row);
    if (target === p.pick) {
      if (p.pick.checked) {
        // Ticked now: the open balance, or what the rows ticked before leave of the payment.
        if (!p.amount.value) {
          var share = Math.min(p.balance, remaining - usedBy(row));
          if (share > 0) p.amount.value = format(share);
        }
      } else {
        p.amount.value = "";
        p.writeOff.checked = false;
      }
    }
    refresh();
  });

  form.addEventListener("input", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.classList.contains("pay-amount")) return;
    var p = parts(target.closest("tr[data-invoice]"));
    if (target.value && !p.pick.checked) p.pick.checked = true;
    refresh();
  });

  // Narrow the list as a number is typed; ticked rows stay visible.
  var search = document.getElementById("open-search");
  if (search) {
    search.addEventListener("input", function () {
      var key = normalize(search.value);
      rows.forEach(function (row) {
        var p = parts(row);
        row.hidden = Boolean(key) && !p.pick.checked && row.dataset.key.indexOf(key) === -1;
      });
    });
  }

  refresh();
  var errors = document.getElementById("workbench-errors");
  var invalid = form.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
  else if (errors) errors.focus();
})();
