import { z } from "zod";
import { decideExact, RULE_NAMES, type PolicyDeps, type PolicyEnv, type RuleResult } from "../policy/index.js";
import { normalizeName } from "../requirement/name.js";
import { heldRefusal } from "./held-refusal.js";

/**
 * Why one distribution of a set needs a person: off the allowlist, built from an sdist, a project that
 * looks new (rules.new_project), or a publisher that changed (rules.provenance_change).
 */
export const SetNeedSchema = z.enum(["unlisted", "sdist", "new-project", "provenance"]);

/**
 * One distribution of a resolved set, as the approver sees and approves it. `sha256` is the wheel that
 * is installed; `source` the file pip resolved from the index (the same wheel, or the sdist it was
 * built from), which is what a later resolution is compared by. `path` is where the verified wheel
 * lies in pipgate's content-addressed store (never shown: an approved build is installed from there).
 */
export const SetDistSchema = z.object({
  name: z.string().describe("normalised distribution name"),
  version: z.string(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("sha256 of the wheel that is installed"),
  source: z
    .object({ filename: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
    .describe("the index's file that was resolved: the wheel itself, or the sdist it was built from"),
  built: z.boolean().describe("the wheel was built from the sdist in the sandbox"),
  needs: SetNeedSchema.optional().describe("why this one needs the approval; absent: policy allows it as it is"),
  publisher: z
    .object({ recorded: z.string(), seen: z.string().nullable() })
    .optional()
    .describe("needs provenance: the publisher recorded for the project and the one this release names (null: no attestation)"),
  rules: z.array(z.object({ rule: z.enum(RULE_NAMES), outcome: z.enum(["pass", "fail", "skip"]), detail: z.string() })),
  path: z.string(),
});
export type SetDist = z.infer<typeof SetDistSchema>;

/** A verified wheel as the pipeline hands it over (commit/request.ts's VerifiedWheel, which sits above this stage). */
export interface WheelRef {
  name: string;
  version: string;
  path: string;
  sha256: string;
}

export type Judged = { ok: true; set: SetDist[] } | { ok: false; error: string };

/**
 * Every distribution of a set the sandbox resolved and verified against the wider allowlist (`open`),
 * judged again against the environment's real one: allowed as it is, or off the list and waiting for
 * the approval. Anything else the real allowlist refuses (a lookalike name, a version outside a
 * listed range) is refused outright: an approval never waives a rule other than the allowlist's.
 */
export async function judgeSet(wheels: readonly WheelRef[], real: PolicyEnv, open: PolicyEnv, deps: PolicyDeps): Promise<Judged> {
  const set: SetDist[] = [];
  for (const wheel of wheels) {
    const name = normalizeName(wheel.name);
    const opened = await decideExact(name, wheel.version, open, deps);
    if (!opened.allowed) return { ok: false, error: `${name} ${wheel.version}: ${opened.reason}` };
    const index = opened.files.find((file) => file.kind === "wheel" && file.sha256 === wheel.sha256);
    const sdists = opened.files.filter((file) => file.kind === "sdist" && file.sha256 !== undefined);
    const sourceFile = index ?? (sdists.length === 1 ? sdists[0] : undefined);
    if (sourceFile?.sha256 === undefined) {
      return { ok: false, error: `${name} ${wheel.version}: its wheel is not a file the index lists, and no single sdist it was built from is; refused` };
    }
    const built = index === undefined;
    const source = { filename: sourceFile.filename, sha256: sourceFile.sha256 };
    const dist = { name, version: wheel.version, sha256: wheel.sha256, source, built, path: wheel.path };
    const exact = await decideExact(name, wheel.version, real, deps);
    if (exact.allowed) {
      set.push({ ...dist, rules: exact.rules, ...(built ? { needs: "sdist" as const } : {}) });
      continue;
    }
    // a listed project refused only as new, or only for a changed publisher (both named), waits for the person too
    const held = heldRefusal({ ...exact, name }, real.allowlist);
    if (held !== undefined) {
      set.push({ ...dist, rules: exact.rules, needs: held.reason, ...(held.reason === "provenance" ? { publisher: exact.provenanceChange } : {}) });
      continue;
    }
    const failed = exact.rules.filter((rule) => rule.outcome === "fail");
    const others = failed.filter((rule) => rule.rule !== "allowlist");
    if (others.length > 0 || real.allowlist.packages.has(name) || real.allowlist.deny.has(name)) {
      return { ok: false, error: `${name} ${wheel.version}: ${exact.reason}` };
    }
    // Off the list: the real verdict on the name (allowlist, typosquat), the wider one on the release.
    const named = new Map(exact.rules.filter((rule) => rule.rule === "allowlist" || rule.rule === "typosquat").map((rule) => [rule.rule, rule]));
    const rules: RuleResult[] = opened.rules.map((rule) => named.get(rule.rule) ?? rule);
    set.push({ ...dist, rules, needs: "unlisted" });
  }
  return { ok: true, set };
}

/**
 * How a resolution made when an approved request runs differs from the set that was approved: empty
 * when every distribution is the same release resolved from the same file. Compared by the index's
 * file (its sha256), since a wheel built again from the same sdist need not be byte-identical.
 */
export function setDifferences(approved: readonly SetDist[], fresh: readonly SetDist[]): string[] {
  const before = new Map(approved.map((dist) => [dist.name, dist]));
  const after = new Map(fresh.map((dist) => [dist.name, dist]));
  const differences: string[] = [];
  for (const [name, was] of before) {
    const now = after.get(name);
    if (now === undefined) differences.push(`${name} ${was.version} is no longer in the set`);
    else if (now.version !== was.version) differences.push(`${name} ${was.version} became ${now.version}`);
    else if (now.source.sha256 !== was.source.sha256) differences.push(`${name} ${was.version} resolves to another file (${now.source.filename})`);
    else if (!now.built && now.sha256 !== was.sha256) differences.push(`${name} ${was.version}: its wheel changed`);
  }
  for (const [name, now] of after) if (!before.has(name)) differences.push(`${name} ${now.version} joined the set`);
  return differences;
}

/** The set in one line for people: "flask 3.0.0 (unlisted), blinker 1.7.0 (unlisted), click 8.1.7". */
export function setLine(set: readonly SetDist[]): string {
  return set.map((dist) => `${dist.name} ${dist.version}${dist.needs === undefined ? "" : ` (${dist.needs})`}`).join(", ");
}
