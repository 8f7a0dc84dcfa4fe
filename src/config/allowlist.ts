import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { valid, validRange } from "@renovatebot/pep440";
import { parse as parseYaml } from "yaml";
import { errorMessage } from "../errors.js";
import { isValidName, normalizeName } from "../requirement/name.js";
import { AllowlistSchema, DEFAULT_RULES, type Exemption, type Rules, type VulnerabilityIgnore } from "./allowlist-schema.js";
import { formatIssues } from "./issues.js";

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
}

export type AllowlistResult = { ok: true; allowlist: Allowlist } | { ok: false; issues: string[] };

/** Reads and checks an allowlist file; any problem refuses the whole file (fail closed), naming each place. */
export function loadAllowlist(path: string, defaults: Partial<Rules> = {}): AllowlistResult {
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
  return buildAllowlist(raw ?? {}, defaults, file);
}

/** The pure half of loadAllowlist: validates an already-parsed document (tests and `allowlist lint` use it too). */
export function buildAllowlist(raw: unknown, defaults: Partial<Rules>, source: string): AllowlistResult {
  const prefix = `${source}: `;
  const parsed = AllowlistSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: formatIssues(parsed.error, prefix, AllowlistSchema) };
  const doc = parsed.data;
  const issues: string[] = [];

  const packages = new Map<string, AllowedPackage>();
  for (const [name, rawSpecifier] of Object.entries(doc.packages)) {
    if (!isValidName(name)) {
      issues.push(`${prefix}packages.${name}: not a valid project name`);
      continue;
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
    },
  };
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
