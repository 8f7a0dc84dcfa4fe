import { valid } from "@renovatebot/pep440";
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { AllowlistSchema, ExemptionSchema, RulesSchema, VulnerabilityIgnoreSchema } from "../config/allowlist-schema.js";
import { isValidSpecifier, normalizeSpecifier } from "../config/allowlist.js";
import { knownKeyHint } from "../config/issues.js";
import type { IndexClient } from "../index/types.js";
import { isExpired } from "../policy/exemptions.js";
import { isValidName, normalizeName } from "../requirement/index.js";
import type { EnvironmentState } from "../commit/interpreter.js";
import { denyEntries, entryComment, lineAt, packageEntries, parseSource, topPair, type AllowlistSource } from "./source.js";
import { hasRequestedMark, REQUESTED_MARK, requiredBy } from "./venv-pins.js";

/** Every kind of finding, so scripts can filter lint output by the word after the line number. */
export const LINT_KINDS = [
  "yaml",
  "schema",
  "unknown-key",
  "invalid-name",
  "invalid-specifier",
  "duplicate",
  "allowed-and-denied",
  "expired",
  "unknown-project",
  "unknown-index",
  "index-unreachable",
  "unused",
] as const;
export type LintKind = (typeof LINT_KINDS)[number];

/** Kinds that are advice, not errors: printed like the others, but `lint` still exits 0 for them. */
export const LINT_WARNINGS: readonly LintKind[] = ["unused"];

/** One problem in an allowlist file, with the line to look at when the file can say. */
export interface LintFinding {
  kind: LintKind;
  line: number | undefined;
  message: string;
}

/**
 * Everything about an allowlist a maintainer should fix before the server refuses it or quietly ignores it:
 * an unknown key (a typo like `deny_list`, which would protect nothing) makes the server refuse the file.
 */
export function lintAllowlist(text: string, options: { now: Date }): LintFinding[] {
  const parsed = parseSource(text);
  if (!parsed.ok) return parsed.errors.map((error) => ({ kind: "yaml", line: error.line, message: error.message }));
  const source = parsed.source;
  const findings: LintFinding[] = [];
  const add = (kind: LintKind, offset: number | undefined, message: string) =>
    findings.push({ kind, line: offset === undefined ? undefined : lineAt(source, offset), message });

  findings.push(...unknownKeys(source));
  const data: unknown = source.doc.toJS() ?? {};
  const schema = AllowlistSchema.safeParse(data);
  if (!schema.success) {
    for (const issue of schema.error.issues) {
      const path = issue.path.map((part) => (typeof part === "symbol" ? String(part) : part));
      if (issue.code === "unrecognized_keys") continue;
      add("schema", offsetOf(source, path), `${path.length > 0 ? path.join(".") : "(top level)"}: ${issue.message}`);
    }
  }

  const seen = new Map<string, string>();
  for (const entry of packageEntries(source)) {
    if (!isValidName(entry.name)) add("invalid-name", entry.start, `packages: ${JSON.stringify(entry.name)} is not a valid project name`);
    // the long form { version, index }: its version is checked like a plain specifier
    const written = isMap(entry.value) ? entry.value.get("version") : entry.value;
    if (typeof written === "string") {
      const specifier = normalizeSpecifier(written);
      if (specifier !== "" && !isValidSpecifier(specifier)) {
        add("invalid-specifier", entry.start, `packages.${entry.name}: ${JSON.stringify(written)} is not a PEP 440 specifier set (e.g. ">=2.31,<3" or "*")`);
      }
    }
    const key = normalizeName(entry.name);
    const first = seen.get(key);
    if (first !== undefined) add("duplicate", entry.start, `packages.${entry.name}: the same project as ${first} (names are compared normalised); keep one`);
    else seen.set(key, entry.name);
  }

  const denied = new Set<string>();
  for (const entry of denyEntries(source)) {
    if (!isValidName(entry.name)) add("invalid-name", entry.offset, `deny: ${JSON.stringify(entry.name)} is not a valid project name`);
    denied.add(normalizeName(entry.name));
  }
  for (const entry of packageEntries(source)) {
    if (denied.has(normalizeName(entry.name))) {
      add("allowed-and-denied", entry.start, `packages.${entry.name} is also on the deny list, which wins: remove one of them`);
    }
  }

  for (const [list, label] of [
    ["exemptions", "exemption"],
    ["vulnerability_ignore", "ignored vulnerability"],
  ] as const) {
    const node = topPair(source, list)?.value;
    if (!isSeq(node)) continue;
    node.items.forEach((item, i) => {
      if (!isMap(item)) return;
      const expires = item.get("expires", true);
      const value = isScalar(expires) ? expires.value : undefined;
      const day = value instanceof Date ? value.toISOString().slice(0, 10) : typeof value === "string" ? value : undefined;
      const what = list === "exemptions" ? `${String(item.get("package"))} (${String(item.get("rule"))})` : String(item.get("id"));
      if (day !== undefined && !Number.isNaN(Date.parse(day.slice(0, 10))) && isExpired(day, options.now)) {
        add(
          "expired",
          expires?.range?.[0] ?? item.range?.[0],
          `${list}.${i}: the ${label} for ${what} expired on ${day.slice(0, 10)}; renew it with a new date and reason, or delete it`,
        );
      }
      const version = item.get("version");
      if (list === "exemptions" && typeof version === "string" && valid(version) === null) {
        add("schema", offsetOf(source, [list, i, "version"]), `${list}.${i}.version: ${JSON.stringify(version)} is not a PEP 440 version`);
      }
    });
  }
  return findings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/**
 * The index an entry is resolved from: the default one (`binding` undefined), or the named index of pipgate.yaml's
 * `indexes:` that its long form `{version, index}` binds it to; undefined for a name pipgate.yaml does not define.
 */
export type IndexForBinding = (binding: string | undefined) => IndexClient | undefined;

/**
 * `lint --online`: every allowed project must exist on the index it is resolved from (a name it does not
 * know is a typo or a squatting risk). An entry bound to a named index is asked of that index alone: the
 * project being on the public one says nothing about the internal one it must come from.
 */
export async function lintOnline(text: string, indexFor: IndexForBinding): Promise<LintFinding[]> {
  const parsed = parseSource(text);
  if (!parsed.ok) return [];
  const source = parsed.source;
  const findings: LintFinding[] = [];
  for (const entry of packageEntries(source)) {
    if (!isValidName(entry.name)) continue;
    const line = lineAt(source, entry.start);
    const binding = isMap(entry.value) ? entry.value.get("index") : undefined;
    if (binding !== undefined && typeof binding !== "string") continue; // the schema lint reports it
    const index = indexFor(binding);
    const which = binding === undefined ? "the index" : `index ${binding}`;
    if (index === undefined) {
      findings.push({
        kind: "unknown-index",
        line,
        message: `packages.${entry.name}: bound to index ${JSON.stringify(binding)}, which pipgate.yaml's indexes: does not define`,
      });
      continue;
    }
    const project = await index.project(entry.name);
    if (project.ok) continue;
    if (project.error.kind === "not-found")
      findings.push({ kind: "unknown-project", line, message: `packages.${entry.name}: ${which} does not know this project` });
    else findings.push({ kind: "index-unreachable", line, message: `packages.${entry.name}: could not ask ${which}: ${project.error.message}` });
  }
  return findings;
}

/**
 * `lint --unused`: entries nothing needs any more. An entry is unused when, in the environment's venv,
 * the project is not installed, no installed distribution requires it (for any extra, since pip does
 * not record which extras were asked for), and its own comment does not carry the word "requested"
 * (the mark init, sync and maintainers put on what someone asked for, installed yet or not). The
 * maintainer acts on each: remove the entry, or mark it requested. Left alone, such entries widen the
 * allowlist for nobody's benefit.
 */
export function lintUnused(text: string, state: EnvironmentState, venv: string): LintFinding[] {
  const parsed = parseSource(text);
  if (!parsed.ok) return [];
  const source = parsed.source;
  const installed = new Set(state.installed.map((dist) => normalizeName(dist.name)));
  const required = requiredBy(state, { withExtras: true });
  const findings: LintFinding[] = [];
  for (const entry of packageEntries(source)) {
    if (!isValidName(entry.name)) continue;
    const key = normalizeName(entry.name);
    if (installed.has(key) || required.has(key) || hasRequestedMark(entryComment(source, entry))) continue;
    findings.push({
      kind: "unused",
      line: lineAt(source, entry.start),
      message:
        `packages.${entry.name}: not installed in ${venv}, required by nothing installed there, and not marked "# ${REQUESTED_MARK}"; ` +
        `remove it (pipgate allowlist remove ${entry.name}) or add "${REQUESTED_MARK}" to its comment if agents should be able to install it`,
    });
  }
  return findings;
}

function unknownKeys(source: AllowlistSource): LintFinding[] {
  const findings: LintFinding[] = [];
  const check = (node: unknown, known: readonly string[], where: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || known.includes(key)) continue;
      const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      findings.push({
        kind: "unknown-key",
        line: offset === undefined ? undefined : lineAt(source, offset),
        message: `${where}${key}: not a key pipgate knows (the server refuses the file); ${knownKeyHint(key, known) ?? ""}`,
      });
    }
  };
  check(source.doc.contents, Object.keys(AllowlistSchema.shape), "");
  check(topPair(source, "rules")?.value, Object.keys(RulesSchema.shape), "rules.");
  const exemptions = topPair(source, "exemptions")?.value;
  if (isSeq(exemptions)) exemptions.items.forEach((item, i) => check(item, Object.keys(ExemptionSchema.shape), `exemptions.${i}.`));
  const ignores = topPair(source, "vulnerability_ignore")?.value;
  if (isSeq(ignores)) ignores.items.forEach((item, i) => check(item, Object.keys(VulnerabilityIgnoreSchema.shape), `vulnerability_ignore.${i}.`));
  return findings;
}

/** The offset of the deepest node along a schema issue's path, for its line number. */
function offsetOf(source: AllowlistSource, path: Array<string | number>): number | undefined {
  for (let depth = path.length; depth > 0; depth -= 1) {
    const node = source.doc.getIn(path.slice(0, depth), true) as Node | undefined;
    if (node?.range !== undefined && node.range !== null) return node.range[0];
    const parent = depth > 1 ? (source.doc.getIn(path.slice(0, depth - 1), true) as Node | undefined) : source.doc.contents;
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path[depth - 1]);
      if (isScalar(pair?.key) && pair.key.range !== undefined && pair.key.range !== null) return pair.key.range[0];
    }
  }
  return undefined;
}
