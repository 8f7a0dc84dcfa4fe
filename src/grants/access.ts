import type { ToolPolicy } from "../config/policy-file-schema.js";
import type { GrantRole, Grants } from "../config/grants-schema.js";
import { grantForToken } from "./tokens.js";

/** Who may see what: the one place that turns an identity into environments, limits and a token check. */
export interface GrantAccess {
  /** The environments an identity may use; none for an identity that is no grant (fail closed). */
  environmentsFor(identity: string): string[];
  /** A grant's own tool policies, if it has any. */
  toolsFor(identity: string): Readonly<Record<string, ToolPolicy | undefined>> | undefined;
  /** The grant behind an HTTP bearer token. */
  grantForToken(token: string): string | undefined;
  /** A grant's role; undefined for an identity that is no grant (the stdio identity included: the console needs a grant). */
  roleFor(identity: string): GrantRole | undefined;
  /** Whether any grant can be reached over HTTP. */
  hasTokens: boolean;
}

export type AccessResult = { ok: true; access: GrantAccess } | { ok: false; issues: string[] };

/**
 * Checks grants against the configured environments and builds the lookups. The stdio identity is a
 * grant's name, or (when no grant has that name) an implicit grant that may use every environment.
 */
export function createGrantAccess(grants: Grants, stdioIdentity: string, environments: readonly string[]): AccessResult {
  const issues: string[] = [];
  const seen = new Map<string, string>();
  for (const [name, grant] of Object.entries(grants)) {
    if (grant.environments !== "*") {
      for (const env of grant.environments) {
        if (!environments.includes(env)) issues.push(`grants.${name}.environments: ${JSON.stringify(env)} is not a configured environment`);
      }
    }
    if (grant.token_sha256 !== undefined) {
      const other = seen.get(grant.token_sha256);
      if (other !== undefined) issues.push(`grants.${name}.token_sha256: the same token as grants.${other}; every grant needs its own token`);
      seen.set(grant.token_sha256, name);
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  const all = [...environments];
  return {
    ok: true,
    access: {
      environmentsFor(identity) {
        const grant = Object.hasOwn(grants, identity) ? grants[identity] : undefined;
        if (grant === undefined) return identity === stdioIdentity ? all : [];
        return grant.environments === "*" ? all : all.filter((env) => grant.environments.includes(env));
      },
      toolsFor(identity) {
        return Object.hasOwn(grants, identity) ? grants[identity]?.limits : undefined;
      },
      grantForToken: (token) => grantForToken(grants, token),
      roleFor: (identity) => (Object.hasOwn(grants, identity) ? (grants[identity]?.role ?? "agent") : undefined),
      hasTokens: seen.size > 0,
    },
  };
}
