import { DEFAULT_INDEX_NAME, indexLabel } from "../config/index-names.js";
import { confusionMessage, endpointOf, namedIndexesWith, type IndexSet } from "../index/index-set.js";
import type { IndexClient } from "../index/types.js";
import type { RuleResult } from "./types.js";

/** The dependency-confusion rule's verdict on a name, and what the maintainer can do about a refusal. */
export interface IndexVerdict {
  rule: RuleResult;
  hint?: string;
}

/** Which index a name is resolved from, and the rule's verdict on that choice. */
export interface Routed {
  client: IndexClient;
  verdict: IndexVerdict;
}

const rule = (outcome: RuleResult["outcome"], detail: string): RuleResult => ({ rule: "dependency-confusion", outcome, detail });

/** The rule's entry where it is not reached (a refusal before it, or a single index). */
export function indexNotChecked(detail: string): IndexVerdict {
  return { rule: rule("skip", detail) };
}

/**
 * The dependency-confusion rule: a name bound to an index (`index:` in its allowlist entry) is resolved
 * from that index only; an unbound name is resolved from the default index, and is refused when a named
 * (private) index has it too — the public one may be a squat on an internal name — or when only a named
 * index has it (it needs the binding). A named index that cannot be asked refuses (fail closed).
 */
export async function routeName(name: string, binding: string | undefined, deps: { index: IndexClient; indexes?: IndexSet | undefined }): Promise<Routed> {
  const set = deps.indexes;
  if (binding !== undefined) {
    const endpoint = set === undefined ? (binding === DEFAULT_INDEX_NAME ? { client: deps.index } : undefined) : endpointOf(set, binding);
    if (endpoint === undefined) {
      return {
        client: deps.index,
        verdict: {
          rule: rule("fail", `${name} is bound to index ${binding}, which pipgate.yaml does not configure; refusing (fail closed)`),
          hint: `configure indexes.${binding} in pipgate.yaml, or correct the allowlist's binding`,
        },
      };
    }
    return { client: endpoint.client, verdict: { rule: rule("pass", `${name} is bound to ${indexLabel(binding)}: resolved and downloaded from it only`) } };
  }
  if (set === undefined || set.named.size === 0) return { client: deps.index, verdict: indexNotChecked("one index is configured: nothing to confuse it with") };
  const presence = await namedIndexesWith(set, name);
  if (!presence.ok) return { client: deps.index, verdict: { rule: rule("fail", presence.error), hint: "try again when every configured index is reachable" } };
  const named = presence.value.named;
  const names = [...set.named.keys()].join(", ");
  if (named.length === 0)
    return { client: deps.index, verdict: { rule: rule("pass", `${name} is on no named index (${names}): resolved from the default index`) } };
  const page = await deps.index.project(name);
  if (page.ok) {
    return {
      client: deps.index,
      verdict: { rule: rule("fail", confusionMessage(name, named)), hint: `a maintainer binds ${name} to the index it really comes from in the allowlist` },
    };
  }
  if (page.error.kind !== "not-found")
    return {
      client: deps.index,
      verdict: {
        rule: rule(
          "fail",
          `${name} is on ${named.map(indexLabel).join(" and ")}, and the default index could not be asked (${page.error.message}); refusing (fail closed)`,
        ),
      },
    };
  return {
    client: deps.index,
    verdict: {
      rule: rule(
        "fail",
        `${name} exists only on ${named.map(indexLabel).join(" and ")}, and an unbound name is resolved from the default index; bind it with \`index: ${named[0] ?? ""}\` in the allowlist`,
      ),
      hint: `a maintainer binds ${name} to its index in the allowlist`,
    },
  };
}
