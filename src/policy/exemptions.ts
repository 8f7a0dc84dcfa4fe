import type { Exemption, VulnerabilityIgnore } from "../config/allowlist-schema.js";

const DAY_MS = 86_400_000;

/** An exemption or ignore counts through the whole of its `expires` day (UTC), and not after. */
export function isExpired(expires: string, now: Date): boolean {
  return now.getTime() >= Date.parse(expires.slice(0, 10)) + DAY_MS;
}

/** The exemptions that name this rule and release, split into those in force and those that expired. */
export function findExemptions(
  exemptions: readonly Exemption[],
  rule: Exemption["rule"],
  name: string,
  version: string,
  now: Date,
): { active: Exemption | undefined; expired: Exemption | undefined } {
  const matching = exemptions.filter((e) => e.rule === rule && e.package === name && (e.version === undefined || e.version === version));
  return {
    active: matching.find((e) => !isExpired(e.expires, now)),
    expired: matching.find((e) => isExpired(e.expires, now)),
  };
}

/** Whether an advisory (by id or any alias) is ignored by the allowlist; expired ignores are reported apart. */
export function findIgnore(
  ignores: readonly VulnerabilityIgnore[],
  ids: readonly string[],
  now: Date,
): { active: VulnerabilityIgnore | undefined; expired: VulnerabilityIgnore | undefined } {
  const wanted = new Set(ids.map((id) => id.toUpperCase()));
  const matching = ignores.filter((ignore) => wanted.has(ignore.id.toUpperCase()));
  return {
    active: matching.find((ignore) => !isExpired(ignore.expires, now)),
    expired: matching.find((ignore) => isExpired(ignore.expires, now)),
  };
}

/** "in force until 2026-12-01: reason" — how an exemption is quoted in a rule's detail. */
export function describeExemption(item: { expires: string; reason: string }): string {
  return `until ${item.expires.slice(0, 10)}: ${item.reason}`;
}
