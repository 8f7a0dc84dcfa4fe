import { REPORT_STYLE } from "../audit/report.js";

/** The console's stylesheet: the report's, plus navigation, forms and the tail. Served from /assets, never inline. */
export const CONSOLE_CSS = `${REPORT_STYLE}
body { max-width: 1280px; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; border-bottom: 1px solid var(--line); padding-bottom: 8px; }
header .brand { font-weight: 700; color: inherit; text-decoration: none; }
nav { display: flex; flex: 1; flex-wrap: wrap; align-items: center; gap: 16px; }
nav ul { display: flex; gap: 14px; list-style: none; margin: 0; padding: 0; }
nav a[aria-current="page"] { font-weight: 700; }
nav .who { margin-left: auto; color: var(--muted); }
form.inline { display: inline; margin-left: 8px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin: 12px 0; }
form.filters label, form.decide label, form.login label { display: flex; flex-direction: column; font-size: 0.85rem; color: var(--muted); gap: 2px; }
input, select, textarea, button { font: inherit; padding: 4px 6px; }
textarea { width: 100%; }
.notice { padding: 8px 12px; border-radius: 6px; border-left: 5px solid; overflow-wrap: anywhere; }
.notice.error { border-color: #b2182b; } .notice.ok { border-color: #1b7837; }
.muted { color: var(--muted); }
a.card:hover { outline: 2px solid var(--line); }
code.hash { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--card); padding: 8px; border-radius: 6px; max-height: 480px; overflow: auto; }
tr.rule.fail th, tr.rule.fail td { color: #b2182b; }
article.approval { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; margin: 12px 0; }
article.approval h2 { margin-top: 4px; overflow-wrap: anywhere; }
article.approval .state { font-size: 0.8rem; padding: 2px 6px; border-radius: 4px; background: var(--card); }
article.state-pending { border-left: 6px solid #bf812d; }
td.reason { max-width: 420px; }
#log th, #log td:not(.reason) { overflow-wrap: normal; word-break: normal; }
tr.fresh { animation: fresh 2s ease-out; }
@keyframes fresh { from { background: color-mix(in srgb, #2166ac 25%, var(--bg)); } to { background: transparent; } }
form.login { max-width: 420px; display: flex; flex-direction: column; gap: 10px; }
`;

/**
 * The console's one script, progressive enhancement only: every view works without it. It tails the audit
 * log by polling the JSON API for records after the newest shown, and writes them with textContent only.
 */
export const CONSOLE_JS = `"use strict";
(function () {
  // a page showing work in progress (an approved install running) reloads until the work is done
  var refresh = document.querySelector("meta[data-refresh]");
  if (refresh) setTimeout(function () { location.reload(); }, 1000 * (Number(refresh.getAttribute("data-refresh")) || 2));
})();
(function () {
  var body = document.getElementById("log-rows");
  var toggle = document.getElementById("tail-toggle");
  var status = document.getElementById("tail-status");
  if (!body || !toggle) return;
  var MAX_ROWS = 500;
  var after = Number(body.getAttribute("data-after")) || 0;
  var query = body.getAttribute("data-query") || "";
  var busy = false;
  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) { var a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a); } else { td.textContent = text; }
    row.appendChild(td);
  }
  function poll() {
    if (busy || !toggle.checked) return;
    busy = true;
    var url = "/api/records" + (query ? query + "&" : "?") + "after=" + encodeURIComponent(String(after));
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(function (data) {
        var records = Array.isArray(data.records) ? data.records : [];
        for (var i = records.length - 1; i >= 0; i -= 1) {
          var r = records[i];
          var tr = document.createElement("tr");
          tr.className = "fresh";
          tr.setAttribute("data-seq", String(r.seq));
          cell(tr, String(r.seq), "/records/" + encodeURIComponent(String(r.id)));
          [r.time, r.identity, r.tool, r.environment, r.package, r.outcome, r.kind, r.reason].forEach(function (v) { cell(tr, String(v == null ? "" : v)); });
          body.insertBefore(tr, body.firstChild);
        }
        while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
        if (typeof data.last === "number" && data.last > after) after = data.last;
        var empty = document.getElementById("no-records");
        if (empty && body.rows.length > 0) empty.remove();
        if (status) status.textContent = "live · checked " + new Date().toLocaleTimeString();
      })
      .catch(function (err) { if (status) status.textContent = "tail paused: " + err.message; })
      .then(function () { busy = false; });
  }
  setInterval(poll, 2000);
})();
`;
