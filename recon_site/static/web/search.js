// The header's search box (templates/review/_search_box.html): a combobox whose list htmx fills
// as the clerk types. Up and down arrows choose a result, Enter opens it (or, with none chosen,
// submits the form: the full results page), Escape closes the list. The chosen option is named by
// aria-activedescendant, so focus stays in the box and a screen reader reads the option.
(function () {
  "use strict";
  var input = document.getElementById("search-input");
  var listbox = document.getElementById("search-listbox");
  if (!input || !listbox) return;
  var form = input.form;

  function options() {
    return Array.prototype.slice.call(listbox.querySelectorAll('[role="option"]'));
  }

  function current() {
    var id = input.getAttribute("aria-activedescendant");
    return id ? document.getElementById(id) : null;
  }

  function choose(option) {
    options().forEach(function (each) {
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function show(open) {
    var visible = open && listbox.children.length > 0;
    listbox.hidden = !visible;
    input.setAttribute("aria-expanded", visible ? "true" : "false");
    if (!visible) choose(null);
  }

  function open(option) {
    window.location.assign(option.getAttribute("data-href"));
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== listbox) return;
    choose(null);
    show(input.value.trim() !== "");
  });

  // A choice made among the previous text's results would open a document the new text may not find.
  input.addEventListener("input", function () {
    choose(null);
    if (input.value.trim() === "") show(false);
  });

  input.addEventListener("keydown", function (event) {
    var list = options();
    var chosen = current();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!list.length) return;
      event.preventDefault();
      show(true);
      var step = event.key === "ArrowDown" ? 1 : -1;
      var index = list.indexOf(chosen);
      var next = index < 0 ? (step > 0 ? 0 : list.length - 1) : (index + step + list.length) % list.length;
      choose(list[next]);
    } else if (event.key === "Enter") {
      if (chosen && !listbox.hidden) {
        event.preventDefault();
        open(chosen);
      }
    } else if (event.key === "Escape") {
      // Closing the list, not clearing the box (what Escape does to a search field by default).
      if (!listbox.hidden) {
        event.preventDefault();
        show(false);
      }
    }
  });

  input.addEventListener("focus", function () {
    if (input.value.trim() !== "") show(true);
  });

  // Pressing an option must not take the focus out of the box (which would close the list first).
  listbox.addEventListener("mousedown", function (event) {
    event.preventDefault();
  });
  listbox.addEventListener("click", function (event) {
    var option = event.target.closest('[role="option"]');
    if (option) open(option);
  });

  document.addEventListener("click", function (event) {
    if (!form.contains(event.target)) show(false);
  });
})();
