import { escapeHtml as esc } from "./html.js";
import { KIND_LABEL, KINDS, summarise, type BucketUnit, type KindCounts, type ReportData } from "./report-data.js";
import { horizontalBarChart, KIND_COLOUR, stackedBarChart } from "./svg-charts.js";
import type { AuditRecord, VerifyResult } from "./types.js";

export interface ReportOptions {
  generatedAt: Date;
  /** The whole chain's verification, shown at the top: a report over a broken log must say so. */
  chain: VerifyResult;
  title?: string;
  /** What the records were selected by, e.g. "--since 7d --env default". */
  scope?: string;
  unit?: BucketUnit;
  /** The range the records were selected by (since/until): the time chart covers it whole. */
  range?: { from: Date; to: Date };
}

/**
 * A self-contained HTML page for auditors: no scripts, no external assets (a CSP forbids both), charts drawn
 * as inline SVG. Every string that comes from a record is escaped: package names and reasons are written
 * by whoever sent the request.
 */
export function renderHtmlReport(records: AuditRecord[], opts: ReportOptions): string {
  const data = summarise(records, { ...(opts.unit === undefined ? {} : { unit: opts.unit }), ...(opts.range === undefined ? {} : { range: opts.range }) });
  const title = opts.title ?? "pipgate audit report";
  const period = data.first === undefined ? "no records" : `${data.first} — ${data.last ?? data.first}`;

  const chain = opts.chain.ok
    ? `<section class="chain ok" id="chain" aria-label="Chain status"><strong>Chain verified</strong>: ${opts.chain.count} records, head <code>${esc(opts.chain.head)}</code></section>`
    : `<section class="chain broken" id="chain" aria-label="Chain status" role="alert"><strong>Chain BROKEN</strong> at seq ${opts.chain.firstBad.seq}, record <code>${esc(opts.chain.firstBad.id)}</code>: ${esc(opts.chain.firstBad.problem)}<br>${esc(opts.chain.firstBad.detail)}</section>`;

  const cards = totalCards(data);

  const timeChart = stackedBarChart(
    data.buckets.map((b) => ({ label: b.label, tick: b.tick, counts: b.counts })),
    {
      id: "chart-time",
      title: `Requests per ${data.unit} by outcome`,
      desc: `Stacked bars, one per ${data.unit}, split by kind: ${KINDS.map((k) => KIND_LABEL[k]).join(", ")}.`,
    },
  );
  const reasonChart = horizontalBarChart(
    data.reasons.map((r) => ({ label: r.kind, value: r.count, title: `${r.kind}: ${r.count}${r.example === "" ? "" : ` — e.g. ${r.example}`}` })),
    {
      id: "chart-reasons",
      title: "Refusals by reason",
      desc: "Requests refused by policy, invalid or rate-limited, grouped by the kind of reason given (dry runs are not counted).",
    },
  );
  const packageChart = horizontalBarChart(
    data.packages.map((p) => ({ label: p.name, value: p.total, counts: p.counts, title: `${p.name}: ${describe(p.counts)}` })),
    { id: "chart-packages", title: "Top packages", desc: "The most requested packages, bars split by outcome.", legend: true },
  );

  const timeRows = data.buckets.map((b) => `<tr><th scope="row">${esc(b.label)}</th>${KINDS.map((k) => `<td>${b.counts[k]}</td>`).join("")}</tr>`).join("");
  const reasonRows = data.reasons.map((r) => `<tr><th scope="row">${esc(r.kind)}</th><td>${r.count}</td><td>${esc(r.example)}</td></tr>`).join("");
  const identityRows = data.identities
    .map(
      (i) =>
        `<tr><th scope="row">${esc(i.name)}</th><td>${i.total}</td>${KINDS.map((k) => `<td>${i.counts[k]}</td>`).join("")}<td>${esc(i.firstSeen)}</td><td>${esc(i.lastSeen)}</td></tr>`,
    )
    .join("");
  const kindHeaders = KINDS.map((k) => `<th scope="col">${KIND_LABEL[k]}</th>`).join("");

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="meta">Generated ${esc(opts.generatedAt.toISOString())} · records: ${esc(opts.scope ?? "all records")} · period: ${esc(period)}</p>
</header>
<main>
${chain}
<section aria-labelledby="h-totals"><h2 id="h-totals">Totals</h2><div class="cards" id="totals">${cards}</div></section>
<section aria-labelledby="h-time"><h2 id="h-time">Installs and refusals over time</h2>${timeChart}
<details><summary>Data</summary><table id="table-time"><thead><tr><th scope="col">${data.unit}</th>${kindHeaders}</tr></thead><tbody>${timeRows}</tbody></table></details></section>
<section aria-labelledby="h-reasons"><h2 id="h-reasons">Refusals by reason</h2>${reasonChart}
<details><summary>Data</summary><table id="table-reasons"><thead><tr><th scope="col">reason</th><th scope="col">refusals</th><th scope="col">example</th></tr></thead><tbody>${reasonRows}</tbody></table></details></section>
<section aria-labelledby="h-packages"><h2 id="h-packages">Top packages</h2>${packageChart}</section>
<section aria-labelledby="h-identities"><h2 id="h-identities">Per identity</h2>
<table id="table-identities"><thead><tr><th scope="col">identity</th><th scope="col">requests</th>${kindHeaders}<th scope="col">first seen</th><th scope="col">last seen</th></tr></thead><tbody>${identityRows}</tbody></table></section>
</main>
</body>
</html>
`;
}

function describe(counts: KindCounts): string {
  return KINDS.filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${KIND_LABEL[k]}`)
    .join(", ");
}

/**
 * The totals as cards, one per kind, each saying its kind in words (the console shows the same cards).
 * `link` turns a card into a link to the records it counts.
 */
export function totalCards(data: ReportData, link?: (kind: (typeof KINDS)[number]) => string): string {
  const card = (label: string, value: number, kind?: string, href?: string) => {
    const inner = `<div class="num">${value}</div><div>${esc(label)}</div>`;
    const attrs = `class="card${kind === undefined ? "" : ` k-${kind}`}"${kind === undefined ? "" : ` data-kind="${kind}"`}`;
    return href === undefined ? `<div ${attrs}>${inner}</div>` : `<a ${attrs} href="${esc(href)}">${inner}</a>`;
  };
  return [
    card("requests", data.totals.all),
    ...KINDS.map((kind) => card(KIND_LABEL[kind], data.totals[kind], kind, link?.(kind))),
    card("identities", data.totals.identities),
    card("packages", data.totals.packages),
  ].join("");
}

/** The report's stylesheet; the console serves it too, so both look alike. */
export const REPORT_STYLE = `
:root { --fg: #1d232b; --bg: #ffffff; --muted: #5a6470; --line: #d6dbe1; --card: #f4f6f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --bg: #15191e; --muted: #a3adb8; --line: #39414b; --card: #1f252c; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.15rem; margin: 28px 0 8px; }
.meta { color: var(--muted); margin: 0; overflow-wrap: anywhere; }
.chain { margin: 16px 0; padding: 12px 16px; border-radius: 6px; border-left: 6px solid; overflow-wrap: anywhere; }
.chain.ok { border-color: ${KIND_COLOUR.installed}; background: color-mix(in srgb, ${KIND_COLOUR.installed} 12%, var(--bg)); }
.chain.broken { border-color: ${KIND_COLOUR.refused}; background: color-mix(in srgb, ${KIND_COLOUR.refused} 14%, var(--bg)); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 10px; }
.card { background: var(--card); border-radius: 6px; padding: 10px 12px; border-top: 4px solid var(--line); color: inherit; text-decoration: none; }
${KINDS.map((k) => `.card.k-${k} { border-top-color: ${KIND_COLOUR[k]}; }`).join("\n")}
.card .num { font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
svg.chart { display: block; height: auto; }
svg text { fill: currentColor; font-size: 12px; } svg .label { font-size: 13px; }
svg .grid { stroke: var(--line); stroke-width: 1; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
thead th { border-bottom: 2px solid var(--fg); }
tbody tr:nth-child(even) { background: var(--card); }
details { margin-top: 6px; } summary { cursor: pointer; color: var(--muted); }
code { font-size: 0.85em; }
@media print {
  :root { --fg: #000; --bg: #fff; --muted: #333; --card: #f2f2f2; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  section { break-inside: avoid; }
  details { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
