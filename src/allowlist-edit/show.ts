import { terminalSafe } from "../audit/format.js";
import { denyEntries, entryComment, packageEntries, topPair, type AllowlistSource } from "./source.js";

/** One row of `allowlist show`. */
export interface ShownPackage {
  name: string;
  specifier: string;
  comment: string;
}

/** What `show` prints, as data (the tests and `--json` read this; the table is only its rendering). */
export interface AllowlistView {
  packages: ShownPackage[];
  deny: string[];
  rules: Record<string, unknown>;
  exemptions: unknown[];
  vulnerabilityIgnore: unknown[];
}

/** The file as a maintainer reads it: entries in file order with the comment written beside each. */
export function viewAllowlist(source: AllowlistSource): AllowlistView {
  const data = (source.doc.toJS() ?? {}) as Record<string, unknown>;
  const list = (value: unknown) => (Array.isArray(value) ? (value as unknown[]) : []);
  const rules = topPair(source, "rules") === undefined ? {} : ((data.rules as Record<string, unknown> | null) ?? {});
  return {
    packages: packageEntries(source).map((entry) => ({
      name: entry.name,
      specifier: entry.value === null || entry.value === "" ? "*" : typeof entry.value === "string" ? entry.value : JSON.stringify(entry.value),
      comment: entryComment(source, entry),
    })),
    deny: denyEntries(source).map((entry) => entry.name),
    rules,
    exemptions: list(data.exemptions),
    vulnerabilityIgnore: list(data.vulnerability_ignore),
  };
}

/** The text table: names and specifiers aligned, comments last; file content is made terminal-safe. */
export function formatView(view: AllowlistView): string {
  const rows = [["NAME", "SPECIFIER", "COMMENT"], ...view.packages.map((entry) => [entry.name, entry.specifier, entry.comment].map(terminalSafe))];
  const width = (column: number) => Math.max(...rows.map((row) => (row[column] ?? "").length));
  const lines = rows.map((row) => `${(row[0] ?? "").padEnd(width(0))}  ${(row[1] ?? "").padEnd(width(1))}  ${row[2] ?? ""}`.trimEnd());
  if (view.packages.length === 0) lines.push("(no packages: this allowlist allows nothing)");
  lines.push("", `deny: ${view.deny.length === 0 ? "(none)" : view.deny.map(terminalSafe).join(", ")}`);
  const rules = Object.entries(view.rules);
  lines.push(rules.length === 0 ? "rules: (none in this file: pipgate.yaml's defaults apply)" : "rules:");
  for (const [key, value] of rules) lines.push(`  ${terminalSafe(key)}: ${terminalSafe(JSON.stringify(value))}`);
  if (view.exemptions.length > 0) lines.push(`exemptions: ${view.exemptions.length} (see the file; lint reports expired ones)`);
  if (view.vulnerabilityIgnore.length > 0) lines.push(`vulnerability_ignore: ${view.vulnerabilityIgnore.length}`);
  return `${lines.join("\n")}\n`;
}
