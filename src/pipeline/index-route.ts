import type { Allowlist } from "../config/allowlist.js";
import { endpointOf, type IndexSet } from "../index/index-set.js";
import type { ProjectRoute } from "../index/proxy.js";
import { routeName } from "../policy/index-binding.js";

/**
 * Which index the sandbox's proxy serves each project from: a bound name from its own index with that
 * index's credentials, an unbound one from the default. An unbound name that a named index has too is
 * hidden, in an install and in a check alike, so that not even the sandbox downloads a confused
 * release: the resolution fails, and its refusal chain names the confusion (dependency-confusion).
 * Undefined when no `indexes:` is configured: the proxy serves everything from the default, as ever.
 */
export function sandboxRoute(indexes: IndexSet | undefined, allowlist: Allowlist): ((normalizedName: string) => Promise<ProjectRoute>) | undefined {
  if (indexes === undefined) return undefined;
  const set = indexes;
  return async (name) => {
    const binding = allowlist.bindings?.get(name);
    if (binding !== undefined) {
      const endpoint = endpointOf(set, binding);
      if (endpoint === undefined) return { ok: false, reason: `${name} is bound to index ${binding}, which pipgate.yaml does not configure` };
      return { ok: true, index: endpoint.client, headers: endpoint.headers };
    }
    if (set.named.size > 0) {
      const routed = await routeName(name, undefined, { index: set.default.client, indexes: set });
      if (routed.verdict.rule.outcome === "fail") return { ok: false, reason: `${routed.verdict.rule.detail} (dependency-confusion)` };
    }
    return { ok: true, index: set.default.client, headers: set.default.headers };
  };
}
