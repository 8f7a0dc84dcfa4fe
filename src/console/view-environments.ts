import { escapeHtml as esc } from "../audit/html.js";
import type { AuditRecord } from "../audit/types.js";
import { SCAN_CAP, type ConsoleDeps } from "./deps.js";
import { time } from "./layout.js";

/** One distribution in an environment as pipgate's installs left it: the last install that set it. */
export interface InstalledEntry {
  name: string;
  version: string;
  sha256: string;
  /** what was asked for: the package itself, or the request it came with as a dependency */
  requested: string;
  record: AuditRecord;
}

/**
 * What pipgate installed into an environment, from the audit records of installs into it (oldest first, so
 * a later install's version wins). Packages put there by other means are not in the log and not shown.
 */
export async function installedFromAudit(deps: ConsoleDeps, environment: string): Promise<{ entries: InstalledEntry[]; capped: boolean }> {
  const byName = new Map<string, InstalledEntry>();
  let scanned = 0;
  let capped = false;
  for await (const record of deps.audit.iterate({ environment, outcome: "installed", order: "asc" })) {
    if (++scanned > SCAN_CAP) {
      capped = true;
      break;
    }
    for (const dist of (record.resolved ?? []).slice(0, 1000)) {
      byName.set(dist.name, { name: dist.name, version: dist.version, sha256: dist.sha256, requested: record.package ?? "", record });
    }
  }
  return { entries: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), capped };
}

/** Per environment: every distribution pipgate installed, its version and hash, and the request that installed it. */
export async function renderEnvironments(deps: ConsoleDeps): Promise<string> {
  if (deps.environments.length === 0) return "<p>No environments are configured.</p>";
  const sections: string[] = [];
  for (const name of deps.environments) sections.push(environmentSection(name, await installedFromAudit(deps, name)));
  return sections.join("");
}

function environmentSection(name: string, { entries, capped }: { entries: InstalledEntry[]; capped: boolean }): string {
  const rows = entries
    .map(
      (e) =>
        `<tr><th scope="row">${esc(e.name)}</th><td>${esc(e.version)}</td><td>${e.requested === e.name ? "requested" : `with ${esc(e.requested)}`}</td>` +
        `<td><a href="/records/${encodeURIComponent(e.record.id)}">#${e.record.seq}</a> by ${esc(e.record.identity)} at ${time(e.record.time)}</td><td><code class="hash">${esc(e.sha256)}</code></td></tr>`,
    )
    .join("");
  const table =
    entries.length === 0
      ? `<p class="muted">pipgate has installed nothing here.</p>`
      : `<table class="installed"><thead><tr><th scope="col">distribution</th><th scope="col">version</th><th scope="col">how</th><th scope="col">installed by request</th><th scope="col">sha256</th></tr></thead><tbody>${rows}</tbody></table>`;
  return (
    `<section class="environment" id="env-${esc(name)}" aria-labelledby="h-env-${esc(name)}"><h2 id="h-env-${esc(name)}">${esc(name)}</h2>` +
    `<p class="meta">${entries.length} distributions installed through pipgate${capped ? ` (the first ${SCAN_CAP} installs read)` : ""} · <a href="/log?environment=${encodeURIComponent(name)}">its records</a></p>${table}</section>`
  );
}
