import { resolve } from "node:path";
import { loadAllowlist } from "./allowlist.js";
import type { LoadedConfig } from "./schema.js";

/** One allowlist file pipgate.yaml names: an environment's own, or a grant's overlay. */
export interface AllowlistFile {
  kind: "environment" | "overlay";
  /** the environment's or the grant's name */
  name: string;
  /** where pipgate.yaml names it, e.g. grants.ci.allowlist_overlay */
  key: string;
  /** absolute */
  path: string;
}

/** Every allowlist file pipgate.yaml names, in the file's order: environments first, then grants' overlays. */
export function allowlistFiles(config: LoadedConfig): AllowlistFile[] {
  const files: AllowlistFile[] = Object.entries(config.environments).map(([name, env]) => ({
    kind: "environment",
    name,
    key: `environments.${name}.allowlist`,
    path: env.allowlist,
  }));
  for (const [name, grant] of Object.entries(config.grants)) {
    if (grant.allowlist_overlay === undefined) continue;
    files.push({ kind: "overlay", name, key: `grants.${name}.allowlist_overlay`, path: resolve(config.dir, grant.allowlist_overlay) });
  }
  return files;
}

/**
 * The problems of every allowlist and overlay, one line each: what `serve` checks before it lets an
 * agent in, so a typo stops it at start-up. Found later, on an edit, the last good version stays in force.
 */
export function allowlistIssues(config: LoadedConfig): string[] {
  return allowlistFiles(config).flatMap((file) => {
    const loaded = loadAllowlist(file.path, file.kind === "environment" ? config.rules : {}, { indexes: Object.keys(config.indexes) });
    return loaded.ok ? [] : loaded.issues.map((issue) => `${file.key}: ${issue}`);
  });
}
