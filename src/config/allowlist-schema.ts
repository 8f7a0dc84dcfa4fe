import { z } from "zod";

const isoDate = z
  .union([z.string(), z.date()])
  .transform((value) => (value instanceof Date ? value.toISOString().slice(0, 10) : value))
  .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}/, "a date, YYYY-MM-DD"));

const ContentAction = z.enum(["deny", "warn"]);

/**
 * What to do with each content signal the wheel inspection finds (src/verify/content-signals.ts):
 * deny refuses the install, warn reports it in the result and the audit record. Keys left out keep
 * the defaults (DEFAULT_RULES.content).
 */
export const ContentRulesSchema = z.strictObject({
  pth_code: ContentAction.optional().describe(
    "a .pth with `import` lines, which run at every interpreter start-up; only reached for pth_allowed projects, any other .pth is refused (default warn)",
  ),
  native_in_pure: ContentAction.optional().describe(
    "an ELF, Mach-O or PE binary in a wheel tagged pure Python, py3-none-any (default warn: setuptools ships Windows launchers so)",
  ),
  encoded_exec: ContentAction.optional().describe("module-level exec/eval of base64-, zlib- or marshal-decoded data (default deny)"),
  base64_blob: ContentAction.optional().describe("a base64 literal of 4,096 characters or more in a module (default warn: data files do this too)"),
});
export type ContentRules = Required<z.infer<typeof ContentRulesSchema>>;

/** Rules that judge a release by the index's metadata. pipgate.yaml sets defaults; each allowlist may override. */
export const RulesSchema = z.strictObject({
  min_release_age_days: z.number().min(0).max(365).describe("cooldown: a release younger than this (by upload time) is refused; 0 turns it off"),
  allow_vulnerability_fix: z
    .boolean()
    .describe("let a release younger than the cooldown through when it fixes a known vulnerability of the release it replaces"),
  vulnerabilities: z.enum(["deny", "allow"]).describe("deny: a version with a known, not withdrawn vulnerability is refused"),
  licenses: z.array(z.string()).describe("allowed licence identifiers (SPDX); an empty list allows any licence"),
  unknown_license: z.enum(["allow", "deny"]).describe("what to do when the licence cannot be determined"),
  wheels_only: z.boolean().describe("refuse releases (and resolved dependencies) that need a build from an sdist"),
  typosquat: z.boolean().describe("refuse names close to an allowed or popular name, with 'did you mean'"),
  new_project_min_age_days: z
    .number()
    .min(0)
    .max(3650)
    .describe("refuse a project whose first upload is younger than this (days; 0 turns it off): fresh squats and registered hallucinations"),
  new_project_min_releases: z.number().int().min(0).max(1000).describe("refuse a project with fewer releases than this (0 turns it off)"),
  new_project: z
    .enum(["deny", "approval"])
    .describe(
      "what a new-project hit does: deny (the default) refuses it; approval queues the install for a person (the policy file's approval section), who sees which signal fired",
    ),
  unknown_name: z
    .enum(["approval", "deny"])
    .describe(
      "a name on neither the allowlist nor the popular-names list (a likely hallucination): approval keeps it queueable under approval.unlisted, deny refuses it even then",
    ),
  content: ContentRulesSchema.describe("deny or warn per content signal of the wheel inspection: pth_code, native_in_pure, encoded_exec, base64_blob"),
  provenance: z
    .enum(["off", "pinned", "required"])
    .describe(
      "PEP 740 attestations: pinned verifies those the index serves and holds a project to the Trusted Publisher of its first install (a release without them after one had them is refused); required refuses any file without a verified attestation",
    ),
  provenance_change: z
    .enum(["deny", "approval"])
    .describe(
      "what a release does whose publisher differs from the one recorded for its project, or whose attestation disappeared: deny (the default) refuses it; approval queues the install for a person (the policy file's approval section), who sees both identities, and an approved change moves the record to the new publisher",
    ),
});
export type Rules = z.infer<typeof RulesSchema>;

export const DEFAULT_RULES: Rules = {
  min_release_age_days: 0,
  allow_vulnerability_fix: true,
  vulnerabilities: "deny",
  licenses: [],
  unknown_license: "allow",
  wheels_only: false,
  typosquat: true,
  // setuptools' own pure wheel ships Windows launchers (.exe) and a .pth with code: deny those two by default
  // and one of the most common projects could not be installed. A .pth is refused anyway unless pth_allowed.
  new_project_min_age_days: 0,
  new_project_min_releases: 0,
  new_project: "deny",
  unknown_name: "approval",
  content: { pth_code: "warn", native_in_pure: "warn", encoded_exec: "deny", base64_blob: "warn" },
  provenance: "off",
  provenance_change: "deny",
};

/** The content actions in force: every signal named, the defaults filling what a file left out. */
export function contentActions(rules: Pick<Rules, "content">): ContentRules {
  return { ...(DEFAULT_RULES.content as ContentRules), ...Object.fromEntries(Object.entries(rules.content).filter(([, v]) => v !== undefined)) };
}

export const ExemptionSchema = z.strictObject({
  package: z.string().min(1),
  version: z.string().optional().describe("the exempted version; all versions when absent"),
  rule: z.enum(["min_release_age", "vulnerabilities", "license", "wheels_only", "pth", "provenance"]),
  reason: z.string().min(1, "an exemption needs a reason"),
  expires: isoDate.describe("the day after which the exemption no longer applies"),
});
export type Exemption = z.infer<typeof ExemptionSchema>;

export const VulnerabilityIgnoreSchema = z.strictObject({
  id: z.string().min(1).describe("the advisory id or alias (GHSA-…, CVE-…, PYSEC-…)"),
  reason: z.string().min(1, "an ignored vulnerability needs a reason"),
  expires: isoDate,
});
export type VulnerabilityIgnore = z.infer<typeof VulnerabilityIgnoreSchema>;

/**
 * An allowlist. Fail closed: a name that is not under `packages` is refused; an empty `packages`
 * allows nothing. `deny` is checked first and wins over `packages`. Every object is strict: a key
 * pipgate does not know is an error, since a misspelt rule would otherwise turn the rule off.
 */
/**
 * A `packages:` entry in its long form: the specifier, and the index the name is bound to. A bound name is
 * resolved and downloaded from that index only (pipgate.yaml's `indexes.NAME`, or `default` for `index:`).
 */
export const BoundPackageSchema = z.strictObject({
  version: z.union([z.string(), z.null()]).optional().describe('PEP 440 specifier set; "*", empty or absent for any version'),
  index: z.string().min(1).describe("the index this name comes from: a key of pipgate.yaml's indexes, or default"),
});
export type BoundPackage = z.infer<typeof BoundPackageSchema>;

export const AllowlistSchema = z.strictObject({
  packages: z
    .record(z.string(), z.union([z.string(), z.null(), BoundPackageSchema]))
    .default({})
    .describe('project name → PEP 440 specifier set ("*" or empty for any version), or { version, index } to bind the name to a named index'),
  deny: z.array(z.string()).default([]).describe("names refused whatever else says"),
  rules: RulesSchema.partial().default({}).describe("overrides of pipgate.yaml's rule defaults"),
  exemptions: z.array(ExemptionSchema).default([]),
  vulnerability_ignore: z.array(VulnerabilityIgnoreSchema).default([]),
  pth_allowed: z.array(z.string()).default([]).describe("projects whose wheels may ship .pth files"),
});
export type AllowlistFile = z.infer<typeof AllowlistSchema>;
