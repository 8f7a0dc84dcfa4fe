import { createApprovalQueue, createApprovalStore, type ApprovalQueue } from "../approvals/index.js";
import type { Broker } from "../broker.js";
import type { Environments } from "../config/environments.js";
import { createLimiter } from "../ratelimit/limiter.js";
import { loadPolicy, watchPolicy } from "../ratelimit/policy.js";
import type { Policy } from "../ratelimit/policy-schema.js";
import { createSqliteRateStore } from "../ratelimit/store.js";
import type { Admitter, ServerDeps } from "../server/context.js";
import { createGrantAccess, type GrantAccess } from "./access.js";

/** Grants, limits and the approval queue of one running pipgate, shared by all its sessions. */
export interface AccessControl {
  policy: Policy;
  access: GrantAccess;
  admitter: Admitter;
  /** present when the policy has an `approval:` section */
  approvals: ApprovalQueue | undefined;
}

export type AccessControlResult = { ok: true; control: AccessControl } | { ok: false; issues: string[] };

/**
 * Reads the policy file and the grants of a broker's configuration and builds the admitter and the
 * approval queue over the broker's state database. One per process: the concurrency caps live in it.
 */
export function openAccessControl(broker: Broker, options: { now?: () => Date } = {}): AccessControlResult {
  const now = options.now ?? (() => new Date());
  const loaded = loadPolicy(broker.config.policy);
  if (!loaded.ok) return { ok: false, issues: loaded.issues };
  const policy = loaded.policy;
  const built = createGrantAccess(broker.config.grants, broker.config.identity, broker.environments.names());
  if (!built.ok) return { ok: false, issues: built.issues };
  const access = built.access;
  const watched = watchPolicy(broker.config.policy, policy, (issues) =>
    broker.pipeline.log.error({ path: broker.config.policy, issues }, "policy edit invalid; the previous limits stay in force"),
  );
  const admitter = createLimiter({
    // read on every admission, so edits to the limits apply without a restart
    get policy() {
      return watched.current();
    },
    store: createSqliteRateStore(broker.db),
    now,
    grantTools: (identity) => access.toolsFor(identity),
  });
  const approvals =
    policy.approval === undefined
      ? undefined
      : createApprovalQueue({ policy: policy.approval, store: createApprovalStore(broker.db), pipeline: broker.pipeline, timeoutMax: broker.config.sandbox.timeout_max, now });
  return { ok: true, control: { policy, access, admitter, approvals } };
}

/**
 * The environments as one identity sees them: the others are neither advertised (tool schemas list
 * names()) nor loadable, so a grant cannot even learn their names.
 */
function narrowedEnvironments(environments: Environments, allowed: readonly string[]): Environments {
  return {
    names: () => environments.names().filter((name) => allowed.includes(name)),
    config: (name) => (allowed.includes(name) ? environments.config(name) : undefined),
    status: () => environments.status().filter((entry) => allowed.includes(entry.environment)),
    get: async (name) => (allowed.includes(name) ? environments.get(name) : { ok: false, error: `environment ${JSON.stringify(name)} is not one you may use` }),
  };
}

/** The collaborators of one MCP server whose every call comes from `identity` (stdio's, or an HTTP session's grant). */
export function serverDepsFor(broker: Broker, control: AccessControl, identity: string): ServerDeps {
  const environments = narrowedEnvironments(broker.environments, control.access.environmentsFor(identity));
  return {
    pipeline: { ...broker.pipeline, environments },
    identity: () => identity,
    environmentsFor: (who) => control.access.environmentsFor(who),
    timeoutMax: broker.config.sandbox.timeout_max,
    admitter: control.admitter,
    ...(control.approvals === undefined ? {} : { approvals: control.approvals }),
  };
}
