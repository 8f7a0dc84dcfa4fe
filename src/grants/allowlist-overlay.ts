import { contentActions, type ContentRules, type Rules } from "../config/allowlist-schema.js";
import { fileFingerprint } from "../config/file-fingerprint.js";
import { loadAllowlist, type AllowedPackage, type Allowlist } from "../config/allowlist.js";

/**
 * A grant's overlay can only narrow an environment's allowlist, never widen it: its deny list is added;
 * when it lists packages, only names on both lists stay, each under both specifiers; every rule takes
 * the stricter of the two settings. Exemptions, ignored vulnerabilities and .pth permissions stay the
 * environment's own (an overlay cannot grant any).
 */
export function narrowAllowlist(base: Allowlist, overlay: Allowlist): Allowlist {
  let packages: Map<string, AllowedPackage> = new Map(base.packages);
  if (overlay.packages.size > 0) {
    packages = new Map();
    for (const [name, entry] of base.packages) {
      const narrower = overlay.packages.get(name);
      if (narrower === undefined) continue;
      const specifier = [entry.specifier, narrower.specifier].filter((part) => part !== "").join(",");
      packages.set(name, { name: entry.name, specifier });
    }
  }
  return {
    ...base,
    source: `${base.source} narrowed by ${overlay.source}`,
    packages,
    deny: new Set([...base.deny, ...overlay.deny]),
    rules: stricter(base.rules, overlay.rules),
  };
}

function stricter(a: Rules, b: Rules): Rules {
  const licenses = a.licenses.length === 0 ? b.licenses : b.licenses.length === 0 ? a.licenses : a.licenses.filter((id) => b.licenses.includes(id));
  return {
    min_release_age_days: Math.max(a.min_release_age_days, b.min_release_age_days),
    allow_vulnerability_fix: a.allow_vulnerability_fix && b.allow_vulnerability_fix,
    vulnerabilities: a.vulnerabilities === "deny" || b.vulnerabilities === "deny" ? "deny" : "allow",
    // both lists non-empty but disjoint: nothing is allowed, said with a licence no project carries
    licenses: a.licenses.length > 0 && b.licenses.length > 0 && licenses.length === 0 ? ["NONE"] : licenses,
    unknown_license: a.unknown_license === "deny" || b.unknown_license === "deny" ? "deny" : "allow",
    wheels_only: a.wheels_only || b.wheels_only,
    typosquat: a.typosquat || b.typosquat,
    new_project_min_age_days: Math.max(a.new_project_min_age_days, b.new_project_min_age_days),
    new_project_min_releases: Math.max(a.new_project_min_releases, b.new_project_min_releases),
    new_project: a.new_project === "deny" || b.new_project === "deny" ? "deny" : "approval",
    unknown_name: a.unknown_name === "deny" || b.unknown_name === "deny" ? "deny" : "approval",
    content: stricterContent(contentActions(a), contentActions(b)),
    provenance: PROVENANCE_ORDER[Math.max(PROVENANCE_ORDER.indexOf(a.provenance), PROVENANCE_ORDER.indexOf(b.provenance))] ?? "required",
    provenance_change: a.provenance_change === "deny" || b.provenance_change === "deny" ? "deny" : "approval",
  };
}

/** rules.provenance from the weakest to the strictest. */
const PROVENANCE_ORDER: readonly Rules["provenance"][] = ["off", "pinned", "required"];

/** Per content signal: deny when either side denies. */
function stricterContent(a: ContentRules, b: ContentRules): ContentRules {
  const pick = (key: keyof ContentRules) => (a[key] === "deny" || b[key] === "deny" ? "deny" : "warn");
  return { pth_code: pick("pth_code"), native_in_pure: pick("native_in_pure"), encoded_exec: pick("encoded_exec"), base64_blob: pick("base64_blob") };
}

/** An overlay's unset rules must not narrow anything: it is read over the most permissive settings. */
const PERMISSIVE: Rules = {
  min_release_age_days: 0,
  allow_vulnerability_fix: true,
  vulnerabilities: "allow",
  licenses: [],
  unknown_license: "allow",
  wheels_only: false,
  typosquat: false,
  new_project_min_age_days: 0,
  new_project_min_releases: 0,
  new_project: "approval",
  unknown_name: "approval",
  content: { pth_code: "warn", native_in_pure: "warn", encoded_exec: "warn", base64_blob: "warn" },
  provenance: "off",
  provenance_change: "approval",
};

export type OverlayResult = { ok: true; overlay: Allowlist } | { ok: false; error: string };

/**
 * Overlay files are reloaded when they change, like allowlists; a broken edit (bad YAML, an unknown key)
 * keeps the last good overlay and is reported to `onError`, and with none ever loaded the grant is refused
 * (fail closed).
 */
export function overlayLoader(onError: (path: string, issues: string[], lastGoodKept: boolean) => void = () => undefined): (path: string) => OverlayResult {
  const cache = new Map<string, { fingerprint: string; overlay: Allowlist | undefined; error: string | undefined }>();
  return (path) => {
    const fingerprint = fileFingerprint(path);
    const slot = cache.get(path) ?? { fingerprint: "", overlay: undefined, error: undefined };
    if (slot.fingerprint !== fingerprint) {
      slot.fingerprint = fingerprint;
      const loaded = loadAllowlist(path, PERMISSIVE);
      if (loaded.ok) {
        slot.overlay = loaded.allowlist;
        slot.error = undefined;
      } else {
        slot.error = loaded.issues.join("; ");
        onError(path, loaded.issues, slot.overlay !== undefined);
      }
      cache.set(path, slot);
    }
    if (slot.overlay !== undefined) return { ok: true, overlay: slot.overlay };
    return { ok: false, error: `the grant's allowlist overlay ${path} is unusable: ${slot.error ?? "unknown error"}` };
  };
}
