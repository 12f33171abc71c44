// Copy and print buttons of the booking-code page. Progressive: without this script the
// buttons stay hidden and the page still shows the code, its QR code and a picture to save.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(element) {
    var text = element.textContent.trim();
    // The Clipboard API needs a secure context; plain HTTP on a local network falls back.
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    selectText(element);
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.status);
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(source).then(function () {
        status.textContent = button.dataset.done;
      }, function () {
        selectText(source);
        status.textContent = button.dataset.failed;
      });
    });
  });

  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
