import type { Environments } from "../config/environments.js";
import type { Approval } from "./store.js";

/**
 * The environments an approved request runs against: for a name approved off the allowlist, the same
 * allowlist plus that one name with the specifier that was asked for — every other rule (deny list,
 * release age, vulnerabilities, the transitive check) still applies, and nothing is written to the file.
 */
export function environmentsWithApproval(environments: Environments, approval: Approval, specifier: string): Environments {
  if (approval.request.reason !== "unlisted") return environments;
  return {
    names: () => environments.names(),
    config: (name) => environments.config(name),
    status: () => environments.status(),
    async get(name) {
      const loaded = await environments.get(name);
      if (!loaded.ok || name !== approval.environment) return loaded;
      const packages = new Map(loaded.env.allowlist.packages);
      packages.set(approval.package, { name: approval.package, specifier });
      return { ok: true, env: { ...loaded.env, allowlist: { ...loaded.env.allowlist, packages } } };
    },
  };
}
