import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { valid, validRange } from "@renovatebot/pep440";
import { parse as parseYaml } from "yaml";
import { errorMessage } from "../errors.js";
import { isValidName, normalizeName } from "../requirement/name.js";
import { AllowlistSchema, DEFAULT_RULES, type Exemption, type Rules, type VulnerabilityIgnore } from "./allowlist-schema.js";
import { formatIssues, nearestKey } from "./issues.js";
import { DEFAULT_INDEX_NAME } from "./index-names.js";

/** One allowed project: the name as the maintainer wrote it, and a PEP 440 specifier set ("" = any version). */
export interface AllowedPackage {
  name: string;
  specifier: string;
}

/** An allowlist ready for policy: names normalised, specifiers validated, rules merged. */
export interface Allowlist {
  /** where it was loaded from (for messages) */
  source: string;
  /** normalised name → what is allowed; a name not here is refused */
  packages: ReadonlyMap<string, AllowedPackage>;
  /** normalised names refused whatever else says */
  deny: ReadonlySet<string>;
  /** DEFAULT_RULES ← pipgate.yaml's defaults ← the file's own rules */
  rules: Rules;
  exemptions: readonly Exemption[];
  vulnerabilityIgnore: readonly VulnerabilityIgnore[];
  /** normalised names whose wheels may ship .pth files */
  pthAllowed: ReadonlySet<string>;
  /**
   * normalised name → the index it is bound to (`index:` in its entry): such a name is resolved and
   * downloaded from that index only. Absent or without the name: the default index, confusion-checked.
   */
  bindings?: ReadonlyMap<string, string>;
  /**
   * Never read from a file: set only on the allowlist an approval under rules.provenance_change:
   * approval resolves against (approvals/open-allowlist.ts). `any`: a release whose publisher changed or
   * whose attestation disappeared is let through, to be judged against the real allowlist and put to a
   * person; a map: exactly the approved releases are let through (normalised name → the change approved).
   */
  provenanceLift?: "any" | ReadonlyMap<string, PublisherChange & { version: string }>;
}

/**
 * A release's publisher differing from its project's record (rules.provenance): `recorded` is the
 * publisher recorded for the project, `seen` the one the release's attestations name (null: none).
 */
export interface PublisherChange {
  recorded: string;
  seen: string | null;
}

/** What the allowlist is checked against besides its own schema: the index names pipgate.yaml configures. */
export interface AllowlistContext {
  /** the keys of pipgate.yaml's `indexes:`; when given, a binding to any other name (but default) is an error */
  indexes?: readonly string[];
}

export type AllowlistResult = { ok: true; allowlist: Allowlist } | { ok: false; issues: string[] };

/** Reads and checks an allowlist file; any problem refuses the whole file (fail closed), naming each place. */
export function loadAllowlist(path: string, defaults: Partial<Rules> = {}, context: AllowlistContext = {}): AllowlistResult {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, issues: [`${file}: cannot read the allowlist: ${errorMessage(error)}`] };
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    return { ok: false, issues: [`${file}: not valid YAML: ${errorMessage(error)}`] };
  }
  return buildAllowlist(raw ?? {}, defaults, file, context);
}

/** The pure half of loadAllowlist: validates an already-parsed document (tests and `allowlist lint` use it too). */
export function buildAllowlist(raw: unknown, defaults: Partial<Rules>, source: string, context: AllowlistContext = {}): AllowlistResult {
  const prefix = `${source}: `;
  const parsed = AllowlistSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: formatIssues(parsed.error, prefix, AllowlistSchema) };
  const doc = parsed.data;
  const issues: string[] = [];

  const packages = new Map<string, AllowedPackage>();
  const bindings = new Map<string, string>();
  for (const [name, value] of Object.entries(doc.packages)) {
    if (!isValidName(name)) {
      issues.push(`${prefix}packages.${name}: not a valid project name`);
      continue;
    }
    const bound = value !== null && typeof value === "object" ? value : undefined;
    const rawSpecifier = bound === undefined ? (value as string | null) : bound.version;
    if (bound !== undefined) {
      const unknown = unknownIndex(bound.index, context.indexes);
      if (unknown !== undefined) {
        issues.push(`${prefix}packages.${name}.index: ${unknown}`);
        continue;
      }
    }
    const specifier = normalizeSpecifier(rawSpecifier);
    if (specifier !== "" && !isValidSpecifier(specifier)) {
      issues.push(`${prefix}packages.${name}: ${JSON.stringify(rawSpecifier)} is not a PEP 440 specifier set (e.g. ">=2.31,<3" or "*")`);
      continue;
    }
    const key = normalizeName(name);
    const previous = packages.get(key);
    if (previous !== undefined) {
      issues.push(`${prefix}packages.${name}: the same project as ${previous.name} (names are compared normalised)`);
      continue;
    }
    packages.set(key, { name, specifier });
    if (bound !== undefined) bindings.set(key, bound.index);
  }

  const deny = new Set<string>();
  doc.deny.forEach((name, i) => {
    if (isValidName(name)) deny.add(normalizeName(name));
    else issues.push(`${prefix}deny.${i}: ${JSON.stringify(name)} is not a valid project name`);
  });

  const exemptions = doc.exemptions.map((exemption) => ({ ...exemption, package: normalizeName(exemption.package) }));
  doc.exemptions.forEach((exemption, i) => {
    if (!isValidName(exemption.package)) issues.push(`${prefix}exemptions.${i}.package: not a valid project name`);
    if (exemption.version !== undefined && valid(exemption.version) === null) {
      issues.push(`${prefix}exemptions.${i}.version: ${JSON.stringify(exemption.version)} is not a PEP 440 version`);
    }
    if (Number.isNaN(Date.parse(exemption.expires))) issues.push(`${prefix}exemptions.${i}.expires: not a real date`);
  });
  doc.vulnerability_ignore.forEach((ignore, i) => {
    if (Number.isNaN(Date.parse(ignore.expires))) issues.push(`${prefix}vulnerability_ignore.${i}.expires: not a real date`);
  });

  const pthAllowed = new Set<string>();
  doc.pth_allowed.forEach((name, i) => {
    if (isValidName(name)) pthAllowed.add(normalizeName(name));
    else issues.push(`${prefix}pth_allowed.${i}: ${JSON.stringify(name)} is not a valid project name`);
  });

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    allowlist: {
      source,
      packages,
      deny,
      rules: {
        ...DEFAULT_RULES,
        ...stripUndefined(defaults),
        ...stripUndefined(doc.rules),
        // content is per signal: a file naming one signal keeps the others from the layer below
        content: { ...DEFAULT_RULES.content, ...stripUndefined(defaults.content ?? {}), ...stripUndefined(doc.rules.content ?? {}) },
      },
      exemptions,
      vulnerabilityIgnore: doc.vulnerability_ignore,
      pthAllowed,
      bindings,
    },
  };
}

/** Why a binding names no configured index ("did you mean internal?"), or undefined when it does or cannot be known. */
function unknownIndex(index: string, configured: readonly string[] | undefined): string | undefined {
  if (configured === undefined || index === DEFAULT_INDEX_NAME || configured.includes(index)) return undefined;
  const known = [DEFAULT_INDEX_NAME, ...configured];
  const nearest = nearestKey(index, known);
  return `${JSON.stringify(index)} is not an index pipgate.yaml configures (${nearest === undefined ? `known: ${known.join(", ")}` : `did you mean ${nearest}?`})`;
}

/** "*", null and "" all mean any version; otherwise the clauses without spaces, as requirements carry them. */
export function normalizeSpecifier(specifier: string | null | undefined): string {
  const compact = (specifier ?? "").replace(/\s+/g, "");
  return compact === "*" ? "" : compact;
}

/** Whether every comma-separated clause is a PEP 440 specifier. */
export function isValidSpecifier(specifier: string): boolean {
  return specifier.split(",").every((clause) => clause !== "" && validRange(clause)) && validRange(specifier);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
