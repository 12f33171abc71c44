// Progressive enhancement only: every page works without it. Same-origin, no inline code.
(function () {
  "use strict";
  // A print button for the care card; without script the page says to use the browser's Print.
  var buttons = document.querySelectorAll("button[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () { window.print(); });
  }
  if (buttons.length) {
    var hints = document.querySelectorAll(".print-hint");
    for (var j = 0; j < hints.length; j++) hints[j].hidden = true;
  }
  // After a refused form, move focus to the summary so that it is read out first.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  // The rule engine's answer is read out first too, before the button that records the event.
  var answer = document.getElementById("check-answer");
  if (answer && !summary && answer.hasAttribute("tabindex")) answer.focus();
})();
