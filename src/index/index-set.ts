import { DEFAULT_INDEX_NAME, indexLabel } from "../config/index-names.js";
import type { Result } from "../errors.js";
import type { IndexClient } from "./types.js";

/** One index pipgate may ask: its client, and the Authorization for its own files (never logged). */
export interface IndexEndpoint {
  /** "default" for `index:`, else its key under `indexes:` */
  name: string;
  client: IndexClient;
  /** sent with a file download only when the file's URL is on the index's own origin */
  headers: Record<string, string> | undefined;
}

/**
 * Every index pipgate.yaml configures: `index:` (the default, public one) and the named private ones.
 * An unbound name is resolved from the default only; a bound one from its own index only.
 */
export interface IndexSet {
  default: IndexEndpoint;
  /** the named (private) indexes, by name; empty when pipgate.yaml has no `indexes:` */
  named: ReadonlyMap<string, IndexEndpoint>;
}

/** The endpoint a binding names (`default` or a named index), or undefined when none is configured so. */
export function endpointOf(set: IndexSet, binding: string | undefined): IndexEndpoint | undefined {
  if (binding === undefined || binding === DEFAULT_INDEX_NAME) return set.default;
  return set.named.get(binding);
}

/** Where an unbound name also lives besides the default index: the named indexes that have a page for it. */
export type Presence = { named: string[] };

/**
 * Which named indexes know a project, each asked in turn. A named index that cannot be asked fails
 * the whole answer (fail closed): pipgate cannot tell that the name is not an internal one.
 */
export async function namedIndexesWith(set: IndexSet, normalizedName: string): Promise<Result<Presence, string>> {
  const named: string[] = [];
  for (const endpoint of set.named.values()) {
    const page = await endpoint.client.project(normalizedName);
    if (page.ok) named.push(endpoint.name);
    else if (page.error.kind !== "not-found") {
      return {
        ok: false,
        error: `${indexLabel(endpoint.name)} could not be asked whether it has ${normalizedName} (${page.error.message}); refusing (fail closed)`,
      };
    }
  }
  return { ok: true, value: { named } };
}

/** The sentence that refuses an unbound name found on a named index and on the default one. */
export function confusionMessage(normalizedName: string, named: readonly string[]): string {
  const where = named.map((name) => indexLabel(name)).join(" and on ");
  const bind = named.length === 1 ? `bind it with \`index: ${named[0] ?? ""}\`` : `bind it with \`index: NAME\` (one of ${named.join(", ")})`;
  return `${normalizedName} exists on ${where} and on the default index; ${bind} in the allowlist (or \`index: default\` if the public one is meant)`;
}

/** Whether a file URL is on the index's own origin: the only place its credentials are sent. */
export function sameOrigin(fileUrl: string, indexUrl: string): boolean {
  try {
    return new URL(fileUrl).origin === new URL(indexUrl).origin;
  } catch {
    return false;
  }
}
