import { escapeHtml as esc } from "../audit/html.js";
import { KIND_LABEL, kindOf } from "../audit/report-data.js";
import { isOutcome, type AuditRecord, type OutcomeRecord } from "../audit/types.js";
import type { ConsoleDeps } from "./deps.js";
import { jsonBlock, notice, time } from "./layout.js";

const recordLink = (record: AuditRecord | undefined, label: string) =>
  record === undefined
    ? `<span class="muted">${esc(label)}: none</span>`
    : `<a rel="${label === "previous" ? "prev" : "next"}" href="/records/${encodeURIComponent(record.id)}">${esc(label)}: #${record.seq} ${esc(record.outcome)}</a>`;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The policy decision's rule results, read defensively: a record is data, not a promise of shape. */
function rulesTable(decision: unknown): string {
  const rules = isObject(decision) && Array.isArray(decision.rules) ? decision.rules.slice(0, 200) : [];
  if (rules.length === 0) return `<p class="muted">No rule results in this record.</p>`;
  const rows = rules
    .map((rule: unknown) => {
      const r = isObject(rule) ? rule : {};
      const cell = (value: unknown) => esc(typeof value === "string" ? value : (JSON.stringify(value) ?? ""));
      const outcome = typeof r.outcome === "string" ? r.outcome : "";
      return `<tr class="rule ${/^(pass|fail|skip)$/.test(outcome) ? outcome : ""}"><th scope="row">${cell(r.rule)}</th><td>${cell(r.outcome)}</td><td>${cell(r.detail)}</td></tr>`;
    })
    .join("");
  return `<table id="rules"><thead><tr><th scope="col">rule</th><th scope="col">result</th><th scope="col">detail</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function resolvedTable(record: AuditRecord): string {
  const resolved = record.resolved ?? [];
  if (resolved.length === 0) return `<p class="muted">No resolved set in this record.</p>`;
  const rows = resolved
    .map(
      (d) =>
        `<tr><th scope="row">${esc(d.name)}</th><td>${esc(d.version)}</td><td><code class="hash">${esc(d.sha256)}</code></td><td>${esc(d.filename ?? "")}</td></tr>`,
    )
    .join("");
  return `<table id="resolved"><thead><tr><th scope="col">distribution</th><th scope="col">version</th><th scope="col">sha256</th><th scope="col">file</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function sandboxTable(record: AuditRecord): string {
  const s = record.sandbox;
  if (s === undefined) return `<p class="muted">No sandbox ran for this record.</p>`;
  const rows: Array<[string, string]> = [];
  if (s.cached === true) rows.push(["cached", "a verified resolution was reused; no container ran"]);
  if (s.durationMs !== undefined) rows.push(["duration", `${(s.durationMs / 1000).toFixed(1)} s`]);
  if (s.exitCode !== undefined) rows.push(["exit code", s.exitCode === null ? "killed" : String(s.exitCode)]);
  if (s.timedOut !== undefined) rows.push(["timed out", String(s.timedOut)]);
  if (s.oomKilled !== undefined) rows.push(["memory limit hit", String(s.oomKilled)]);
  if (s.peakMemoryBytes !== undefined) rows.push(["peak memory", `${(s.peakMemoryBytes / 1048576).toFixed(1)} MiB`]);
  if (s.outputBytes !== undefined) rows.push(["output", `${s.outputBytes} bytes`]);
  if (s.image !== undefined) rows.push(["image", s.image]);
  if (s.runtime !== undefined) rows.push(["runtime", s.runtime]);
  if (s.buildTools !== undefined) rows.push(["build tools", s.buildTools.join(", ")]);
  const table = `<table id="sandbox"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</tbody></table>`;
  return table + (s.log === undefined ? "" : `<details><summary>pip's last lines</summary><pre>${esc(s.log)}</pre></details>`);
}

/** Links from an approval's records to the request they decide, and back. */
async function approvalLinks(deps: ConsoleDeps, record: AuditRecord): Promise<string> {
  const approval = isObject(record.approval) ? record.approval : undefined;
  if (approval === undefined) return "";
  const id = typeof approval.id === "string" ? approval.id : undefined;
  const requestAudit = typeof approval.request_audit_id === "string" ? await deps.audit.get(approval.request_audit_id) : undefined;
  return (
    `<p>` +
    (id === undefined ? "" : `Approval <a href="/approvals#${esc(id)}">${esc(id)}</a>. `) +
    (requestAudit === undefined || requestAudit.id === record.id
      ? ""
      : `Queued by record <a href="/records/${encodeURIComponent(requestAudit.id)}">#${requestAudit.seq}</a>.`) +
    `</p>`
  );
}

/** One record: who, what, every rule's result, the resolved set with hashes, the sandbox's figures, its place in the chain. */
export async function renderRecord(deps: ConsoleDeps, idOrPrefix: string): Promise<{ status: number; title: string; body: string }> {
  const found = await deps.audit.lookup(idOrPrefix);
  if (!found.ok) {
    const why = found.reason === "not-found" ? `no record ${idOrPrefix}` : `${idOrPrefix} matches ${found.matches.length} records; give more of the id`;
    return { status: 404, title: "Record not found", body: notice("error", why) };
  }
  const record = found.record;
  const prev = record.seq > 1 ? (await deps.audit.after(record.seq - 2, { intents: true, limit: 1 }))[0] : undefined;
  const next = (await deps.audit.after(record.seq, { intents: true, limit: 1 }))[0];
  const kind = isOutcome(record.outcome) ? KIND_LABEL[kindOf(record as OutcomeRecord)] : "intent (work started; its outcome follows)";
  const facts: Array<[string, string]> = [
    ["id", `<code id="record-id">${esc(record.id)}</code>`],
    ["time", time(record.time)],
    ["identity", esc(record.identity)],
    ["tool", esc(record.tool)],
    ["environment", esc(record.environment ?? "")],
    ["package", esc(record.package ?? "")],
    ["outcome", `<strong id="record-outcome">${esc(record.outcome)}</strong> — ${esc(kind)}`],
    ["reason", esc(record.reason ?? "")],
    ["duration", record.durationMs === undefined ? "" : `${(record.durationMs / 1000).toFixed(2)} s`],
  ];
  const body =
    `<table id="facts"><tbody>${facts.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join("")}</tbody></table>` +
    (await approvalLinks(deps, record)) +
    `<section aria-labelledby="h-rules"><h2 id="h-rules">Policy rules</h2>${rulesTable(record.decision)}</section>` +
    `<section aria-labelledby="h-resolved"><h2 id="h-resolved">Resolved set</h2>${resolvedTable(record)}</section>` +
    `<section aria-labelledby="h-sandbox"><h2 id="h-sandbox">Sandbox</h2>${sandboxTable(record)}</section>` +
    `<section aria-labelledby="h-chain"><h2 id="h-chain">Place in the chain</h2>` +
    `<table id="chain-place"><tbody><tr><th scope="row">seq</th><td>${record.seq}</td></tr>` +
    `<tr><th scope="row">previous hash</th><td><code class="hash">${esc(record.prevHash)}</code></td></tr>` +
    `<tr><th scope="row">hash</th><td><code class="hash" id="record-hash">${esc(record.hash)}</code></td></tr></tbody></table>` +
    `<p class="chain-links">${recordLink(prev, "previous")} · ${recordLink(next, "next")} · <a href="/chain">verify the chain</a></p></section>` +
    `<section aria-labelledby="h-raw"><h2 id="h-raw">Arguments and the rest, as recorded</h2>` +
    `<h3>Arguments (as the caller sent them)</h3>${jsonBlock(record.arguments)}` +
    (record.request === undefined ? "" : `<h3>Request</h3>${jsonBlock(record.request)}`) +
    (record.commit === undefined ? "" : `<h3>Commit</h3>${jsonBlock(record.commit)}`) +
    (record.decision === undefined ? "" : `<details><summary>Decision</summary>${jsonBlock(record.decision)}</details>`) +
    (record.upstream === undefined ? "" : `<h3>Upstream call</h3>${jsonBlock(record.upstream)}`) +
    (record.recovery === undefined ? "" : `<h3>Recovery</h3>${jsonBlock(record.recovery)}`) +
    `</section>`;
  return { status: 200, title: `Record #${record.seq}`, body };
}
