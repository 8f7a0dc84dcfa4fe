import { escapeHtml as esc, shorten } from "../audit/html.js";
import { KIND_LABEL, KINDS, kindOf, summarise } from "../audit/report-data.js";
import { totalCards } from "../audit/report.js";
import { stackedBarChart } from "../audit/svg-charts.js";
import { isOutcome, OUTCOMES, type AuditRecord, type OutcomeRecord } from "../audit/types.js";
import { ROW_CAP, SCAN_CAP, type ConsoleDeps } from "./deps.js";
import { filterQuery, type ConsoleFilter } from "./filters.js";
import { notice, time } from "./layout.js";

/** A record as the log's rows and the tail's JSON show it: the columns, the kind, the reason cut to a line. */
export interface LogRow {
  seq: number;
  id: string;
  time: string;
  identity: string;
  tool: string;
  environment: string;
  package: string;
  outcome: string;
  kind: string;
  reason: string;
}

export function logRow(record: AuditRecord): LogRow {
  const kind = isOutcome(record.outcome) ? KIND_LABEL[kindOf(record as OutcomeRecord)] : "intent";
  return {
    seq: record.seq,
    id: record.id,
    time: record.time,
    identity: record.identity,
    tool: record.tool,
    environment: record.environment ?? "",
    package: record.package ?? "",
    outcome: record.outcome,
    kind,
    reason: shorten(record.reason ?? "", 160),
  };
}

/** Whether a record passes the filter's count kind (the store filters everything else). */
export function matchesKind(filter: ConsoleFilter, record: AuditRecord): boolean {
  return filter.kind === undefined || (isOutcome(record.outcome) && kindOf(record as OutcomeRecord) === filter.kind);
}

/** The newest rows of a filter, newest first, scanning at most SCAN_CAP records. */
export async function newestRows(deps: ConsoleDeps, filter: ConsoleFilter, afterSeq?: number): Promise<AuditRecord[]> {
  const rows: AuditRecord[] = [];
  if (afterSeq !== undefined) {
    for (const record of await deps.audit.after(afterSeq, { ...filter.audit, limit: SCAN_CAP })) if (matchesKind(filter, record)) rows.push(record);
    return rows.slice(-ROW_CAP).reverse();
  }
  let scanned = 0;
  for await (const record of deps.audit.iterate({ ...filter.audit, order: "desc" })) {
    if (++scanned > SCAN_CAP || rows.length >= ROW_CAP) break;
    if (matchesKind(filter, record)) rows.push(record);
  }
  return rows;
}

function rowHtml(row: LogRow): string {
  const href = `/records/${encodeURIComponent(row.id)}`;
  return (
    `<tr data-seq="${row.seq}"><td><a href="${esc(href)}">${row.seq}</a></td><td>${time(row.time)}</td><td>${esc(row.identity)}</td>` +
    `<td>${esc(row.tool)}</td><td>${esc(row.environment)}</td><td>${esc(row.package)}</td><td>${esc(row.outcome)}</td>` +
    `<td>${esc(row.kind)}</td><td class="reason">${esc(row.reason)}</td></tr>`
  );
}

function field(name: string, label: string, value: string | undefined, placeholder = ""): string {
  return `<label>${label}<input name="${name}" value="${esc(value ?? "")}" placeholder="${esc(placeholder)}" maxlength="200"></label>`;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined, labels?: Readonly<Record<string, string>>): string {
  const opts = options.map((o) => `<option value="${esc(o)}"${o === value ? " selected" : ""}>${esc(labels?.[o] ?? o)}</option>`).join("");
  return `<label>${label}<select name="${name}"><option value="">any</option>${opts}</select></label>`;
}

/** The audit log: a filter form, the totals by kind, a time chart sized to the range, the newest rows and a live tail. */
export async function renderLog(deps: ConsoleDeps, filter: ConsoleFilter, error?: string): Promise<string> {
  const given = filter.given;
  const form =
    `<form method="get" action="/log" class="filters" id="filters">` +
    field("since", "Since", given.since, "24h, 2024-05-01") +
    field("until", "Until", given.until, "now") +
    field("identity", "Identity", given.identity) +
    select("environment", "Environment", deps.environments, given.environment) +
    field("package", "Package", given.package) +
    field("tool", "Tool", given.tool, "install_package") +
    select("outcome", "Outcome", [...OUTCOMES, "intent"], given.outcome) +
    select("kind", "Kind", KINDS, given.kind, KIND_LABEL) +
    `<button type="submit">Filter</button> <a href="/log">clear</a></form>`;
  if (error !== undefined) return form + notice("error", error);

  const counted: AuditRecord[] = [];
  let capped = false;
  for await (const record of deps.audit.iterate({ ...filter.audit, order: "desc" })) {
    if (counted.length >= SCAN_CAP) {
      capped = true;
      break;
    }
    if (matchesKind(filter, record)) counted.push(record);
  }
  const now = deps.now();
  const range = filter.since === undefined ? undefined : { from: filter.since, to: filter.until ?? now };
  const data = summarise(counted, range === undefined ? {} : { range });
  // a bar's records: from its start to the next bar's (the last one to the end of the range, or now)
  const ends = data.buckets.map((_, i) => data.buckets[i + 1]?.start ?? range?.to ?? now);
  const chart = stackedBarChart(
    data.buckets.map((b, i) => ({
      label: b.label,
      tick: b.tick,
      counts: b.counts,
      href: `/log${filterQuery({ ...given, since: b.start.toISOString(), until: ends[i]!.toISOString() })}`,
    })),
    { id: "chart-time", title: `Requests per ${data.unit} by kind`, desc: `One bar per ${data.unit}, split by kind; a bar opens its records.` },
  );
  const cards = totalCards(data, (kind) => `/log${filterQuery({ ...given, kind })}`);
  const rows = await newestRows(deps, filter);
  const head = `<tr><th scope="col">seq</th><th scope="col">time</th><th scope="col">identity</th><th scope="col">tool</th><th scope="col">environment</th><th scope="col">package</th><th scope="col">outcome</th><th scope="col">kind</th><th scope="col">reason</th></tr>`;
  const latest = await latestSeq(deps);
  return (
    form +
    `<section aria-labelledby="h-totals"><h2 id="h-totals">Totals${capped ? ` (the newest ${SCAN_CAP} records)` : ""}</h2><div class="cards" id="totals">${cards}</div></section>` +
    `<section aria-labelledby="h-time"><h2 id="h-time">Over time</h2>${chart}</section>` +
    `<section aria-labelledby="h-records"><h2 id="h-records">Records</h2>` +
    `<p class="meta">The newest ${ROW_CAP} matching records, newest first. <label><input type="checkbox" id="tail-toggle" checked> live tail</label> <span id="tail-status" role="status"></span></p>` +
    `<table id="log"><thead>${head}</thead><tbody id="log-rows" data-after="${latest}" data-query="${esc(filterQuery(given))}">${rows.map((r) => rowHtml(logRow(r))).join("")}</tbody></table>` +
    (rows.length === 0 ? `<p id="no-records">No records match.</p>` : "") +
    `</section>`
  );
}

/** The chain's newest seq: where a tail starts, so it shows only what comes after the page. */
async function latestSeq(deps: ConsoleDeps): Promise<number> {
  return (await deps.audit.list({ intents: true, order: "desc", limit: 1 }))[0]?.seq ?? 0;
}
