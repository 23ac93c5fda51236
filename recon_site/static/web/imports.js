// The Import page's drop zone: files dropped on it go into the form's file input, as if chosen
// there. Without this file the plain <input type="file" multiple> form works the same.
(function () {
  "use strict";
  function list(zone, files) {
    var shown = zone.querySelector("[data-dropzone-files]");
    if (!shown) return;
    shown.replaceChildren();
    Array.prototype.forEach.call(files, function (file) {
      var item = document.createElement("li");
      item.textContent = file.name;
      shown.appendChild(item);
    });
  }
  function enhance(zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    var hint = zone.querySelector("[data-dropzone-hint]");
    if (hint) hint.hidden = false;
    input.addEventListener("change", function () { list(zone, input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-over");
      });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("is-over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("is-over");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      list(zone, input.files);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(enhance);
  });
})();
