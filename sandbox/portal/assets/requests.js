// The requests page: new journal entries arrive as server-sent events and
// are prepended to the table. Cells are filled with textContent only, so
// nothing a request carries is ever parsed as HTML.
(function () {
  "use strict";
  var MAX_ROWS = 500;
  var card = document.getElementById("requests");
  var rows = document.getElementById("request-rows");
  if (!card || !rows || !window.EventSource) { return; }
  var state = document.getElementById("stream-state");
  var count = document.getElementById("request-count");
  var empty = document.getElementById("no-requests");
  var pauseBtn = document.getElementById("pause");
  var paused = false;
  var held = []; // entries that arrived while paused, oldest first

  function setState(text, cls) {
    state.textContent = text;
    state.className = "stream-state" + (cls ? " " + cls : "");
  }

  function statusClass(code) {
    if (code >= 500) { return "s5xx"; }
    if (code >= 400) { return "s4xx"; }
    if (code >= 300) { return "s3xx"; }
    if (code >= 200) { return "s2xx"; }
    return "s0";
  }

  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }

  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" + pad(d.getUTCSeconds(), 2) + "." + pad(d.getUTCMilliseconds(), 3);
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function row(e) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(e.seq));
    tr.className = "fresh";
    if (e.request_id) { tr.title = "request " + e.request_id; }
    cell(tr, clock(e.time), "nowrap mono small");
    cell(tr, e.method || "", "mono small");
    var target = cell(tr, "", "target");
    var code = document.createElement("code");
    code.textContent = (e.path || "") + (e.query ? "?" + e.query : "");
    target.appendChild(code);
    cell(tr, e.tenant || "", "mono small");
    cell(tr, e.client || "", "mono small");
    var st = cell(tr, "", "num");
    var badge = document.createElement("span");
    badge.className = "status " + statusClass(e.status);
    badge.textContent = e.status ? String(e.status) : "–";
    st.appendChild(badge);
    cell(tr, typeof e.latency_ms === "number" ? e.latency_ms.toFixed(1) : "", "num mono small");
    var faults = cell(tr, "", "");
    (e.faults || []).forEach(function (f) {
      var b = document.createElement("span");
      b.className = "badge fault";
      b.textContent = f;
      faults.appendChild(b);
      faults.appendChild(document.createTextNode(" "));
    });
    return tr;
  }

  function show(entries) {
    entries.forEach(function (e) { rows.insertBefore(row(e), rows.firstChild); });
    while (rows.rows.length > MAX_ROWS) { rows.deleteRow(rows.rows.length - 1); }
    count.textContent = String(rows.rows.length);
    if (empty) { empty.hidden = rows.rows.length > 0; }
  }

  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    if (paused) {
      pauseBtn.textContent = "Resume";
    } else {
      pauseBtn.textContent = "Pause";
      show(held);
      held = [];
      pauseBtn.setAttribute("data-held", "0");
    }
  });

  var src = new EventSource(card.getAttribute("data-stream"));
  src.onopen = function () { setState("live", "live"); };
  src.onerror = function () {
    if (src.readyState === EventSource.CLOSED) {
      setState("stream ended: reload the page (sign in again if asked)", "down");
    } else {
      setState("reconnecting…", "down");
    }
  };
  src.onmessage = function (ev) {
    var e;
    try { e = JSON.parse(ev.data); } catch (err) { return; }
    if (paused) {
      held.push(e);
      if (held.length > MAX_ROWS) { held.shift(); }
      pauseBtn.textContent = "Resume (" + held.length + " new)";
      pauseBtn.setAttribute("data-held", String(held.length));
      return;
    }
    show([e]);
  };
})();
