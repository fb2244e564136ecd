// Copy buttons: <button data-copy="ELEMENT-ID"> copies that element's text.
(function () {
  "use strict";
  function flash(btn, text) {
    var old = btn.textContent;
    btn.textContent = text;
    btn.classList.add("copied");
    setTimeout(function () { btn.textContent = old; btn.classList.remove("copied"); }, 1500);
  }
  function fallback(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) { return; }
    var el = document.getElementById(btn.getAttribute("data-copy"));
    if (!el) { return; }
    var text = el.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { flash(btn, "Copied"); },
        function () { flash(btn, fallback(el) ? "Copied" : "Select and copy"); });
    } else {
      flash(btn, fallback(el) ? "Copied" : "Select and copy");
    }
  });
})();
