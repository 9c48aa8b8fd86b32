// The route sheets' print button: a file, since the pages have no inline script. Without
// JavaScript the button stays hidden and the browser's own Print works the same.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("hv-print");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
