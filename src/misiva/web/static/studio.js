// The studio's live preview: as the editor changes, post the draft (debounced) and put the
// rendered fragment beside it. Without this script the editor's Preview button does the same.
(function () {
  "use strict";
  var form = document.getElementById("studio-editor");
  var result = document.getElementById("studio-result");
  var live = document.getElementById("studio-live");
  if (!form || !result || !window.fetch) { return; }
  var url = form.getAttribute("data-preview");
  var csrf = form.querySelector("input[name=csrf]").value;
  // Fields that change what the preview shows; the note and the test's addresses do not.
  var watched = ["subject", "body", "text", "layout", "format", "test_data", "contact"];
  var timer = null;
  var pending = null;

  function refresh() {
    var data = new URLSearchParams(new FormData(form));
    data.delete("action");
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(url, {
      method: "POST",
      body: data,
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
      signal: pending.signal
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      result.innerHTML = html;
      if (live) { live.textContent = live.getAttribute("data-updated") || live.textContent; }
    }).catch(function (error) {
      if (error.name !== "AbortError" && live) { live.textContent = "⚠ " + error.message; }
    });
  }

  form.addEventListener("input", function (event) {
    if (watched.indexOf(event.target.name) < 0) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 350);
  });
  form.addEventListener("change", function (event) {
    if (event.target.tagName === "SELECT" && watched.indexOf(event.target.name) >= 0) { refresh(); }
  });
})();
