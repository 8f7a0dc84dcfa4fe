// The composition root: openPipgate() is what serve, install, approvals, the HTTP server and the tests
// open. It opens the broker's state (broker.ts: recovery, reaper, index) and wires grants (identify),
// limits (admit) and the approval queue over it. It may import every stage; nothing but cli/ imports it.
import { resolve } from "node:path";
import type { CallApprovalStore } from "./approvals/index.js";
import { openBroker, type Broker, type BrokerOverrides } from "./broker.js";
import type { LoadedConfig } from "./config/schema.js";
import type { Logger } from "./log.js";
import type { Environments } from "./config/environments.js";
import { createApprovalQueue, type ApprovalQueue } from "./pipeline/approval-queue.js";
import { createLimiter } from "./ratelimit/limiter.js";
import { loadPolicy, watchPolicy } from "./config/policy-file.js";
import { gatewayConfigured } from "./config/policy-tools.js";
import type { Policy } from "./config/policy-file-schema.js";
import type { Admitter } from "./ratelimit/admission.js";
import type { ServerDeps } from "./server/context.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { UpstreamConfig } from "./config/upstream-schema.js";
import type { Gateway } from "./gateway/extension.js";
import type { transportFor } from "./gateway/transports.js";
import { createGrantAccess, type GrantAccess } from "./grants/access.js";
import { narrowAllowlist, overlayLoader, type OverlayResult } from "./grants/allowlist-overlay.js";

/** Grants, limits and the approval queue of one running pipgate, shared by all its sessions. */
export interface AccessControl {
  policy: Policy;
  access: GrantAccess;
  admitter: Admitter;
  /** present when the policy has an `approval:` section */
  approvals: ApprovalQueue | undefined;
  /** tool calls the policy holds for a person (action or condition "approval"); always present */
  callApprovals: CallApprovalStore;
  /** grants' allowlist overlays, by path, reloaded when they change */
  overlays: (path: string) => OverlayResult;
}

type AccessControlResult = { ok: true; control: AccessControl } | { ok: false; issues: string[] };

/** One running pipgate: its state, its access control, and the collaborators of a server per identity. */
export interface Pipgate {
  broker: Broker;
  control: AccessControl;
  /** gateway mode (`upstream:` in pipgate.yaml): the upstream every session fronts */
  gateway: Gateway | undefined;
  /** What one MCP server needs whose every call comes from `identity` (stdio's, or an HTTP session's grant). */
  serverDeps(identity: string): ServerDeps;
  /** One MCP server for one client session of `identity`: pipgate's tools, and in gateway mode its own upstream session. */
  serverFor(identity: string): { server: Server; close: () => Promise<void> };
  close(): void;
}

export type PipgateResult = { ok: true; value: Pipgate } | { ok: false; issues: string[] };

/**
 * What a pipgate is opened for. `serve` (the default) can make MCP servers and fronts the gateway's
 * upstream; `local` is a command that only runs the pipeline or reads the state (`pipgate install`):
 * it never loads the MCP SDK or the gateway, which are most of the start-up, and its serverFor throws.
 */
export type OpenMode = "serve" | "local";

/**
 * Opens pipgate from its configuration: the broker (which first recovers what a dead process left),
 * then the policy file and grants. A policy or grant that does not parse closes it again and says why.
 */
export async function openPipgate(config: LoadedConfig, log: Logger, overrides: BrokerOverrides = {}, mode: OpenMode = "serve"): Promise<PipgateResult> {
  // Loaded on demand: the MCP SDK's server and the gateway are not what a local command needs.
  const serving = mode === "serve" ? await import("./server/create-server.js") : undefined;
  const gatewayModules =
    mode === "serve" && config.upstream !== undefined
      ? await Promise.all([import("./gateway/extension.js"), import("./gateway/pins.js"), import("./gateway/transports.js")])
      : undefined;
  const broker = await openBroker(config, log, overrides, { longRunning: mode === "serve" });
  const opened = openAccessControl(broker, overrides.now === undefined ? {} : { now: overrides.now });
  if (!opened.ok) {
    broker.close();
    return opened;
  }
  const control = opened.control;
  const gateway =
    config.upstream === undefined || gatewayModules === undefined
      ? undefined
      : openGateway(config.upstream, broker, log, overrides.now ?? (() => new Date()), {
          upstreamKey: gatewayModules[1].upstreamKey,
          transportFor: gatewayModules[2].transportFor,
        });
  const serverDeps = (identity: string) => serverDepsFor(broker, control, identity);
  return {
    ok: true,
    value: {
      broker,
      control,
      gateway,
      serverDeps,
      serverFor: (identity) => {
        if (serving === undefined) throw new Error("pipgate was opened for a local command (mode local): it makes no MCP server");
        const deps = serverDeps(identity);
        return serving.createServer(
          deps,
          gateway === undefined || gatewayModules === undefined ? undefined : gatewayModules[0].gatewaySession(gateway, deps, identity),
        );
      },
      close: () => broker.close(),
    },
  };
}

/** What every session of a gateway shares: the upstream's transport, its pins and what was audited of them. */
function openGateway(
  upstream: UpstreamConfig,
  broker: Broker,
  log: Logger,
  now: () => Date,
  loaded: { upstreamKey: (upstream: UpstreamConfig) => string; transportFor: typeof transportFor },
): Gateway {
  return {
    upstream,
    transport: loaded.transportFor(upstream, log, broker.config),
    db: broker.db,
    key: loaded.upstreamKey(upstream),
    log,
    now,
    auditedChanges: new Set(),
  };
}

/**
 * Reads the policy file and the grants of a broker's configuration and builds the admitter and the
 * approval queue over the broker's state database. The concurrency caps are counted in the state
 * store's slots: per process on the embedded store, across the fleet on a shared database.
 */
function openAccessControl(broker: Broker, options: { now?: () => Date; gateway?: boolean } = {}): AccessControlResult {
  const now = options.now ?? (() => new Date());
  // gateway: pipgate.yaml configures an `upstream:`, so the policy may name the upstream's tools
  const policyOptions = { gateway: options.gateway ?? gatewayConfigured(broker.config) };
  const loaded = loadPolicy(broker.config.policy, policyOptions);
  if (!loaded.ok) return { ok: false, issues: loaded.issues };
  const policy = loaded.policy;
  const built = createGrantAccess(broker.config.grants, broker.config.identity, broker.environments.names());
  if (!built.ok) return { ok: false, issues: built.issues };
  const access = built.access;
  const watched = watchPolicy(
    broker.config.policy,
    policy,
    (issues) => broker.pipeline.log.error({ path: broker.config.policy, issues }, "policy edit invalid; the previous limits stay in force"),
    policyOptions,
  );
  const callApprovals = broker.state.callApprovals;
  const admitter = createLimiter({
    // read on every admission, so edits to the limits apply without a restart
    get policy() {
      return watched.current();
    },
    store: broker.state.rates,
    slots: broker.state.slots,
    log: broker.pipeline.log,
    now,
    grantTools: (identity) => access.toolsFor(identity),
    callApprovals,
  });
  const approvals =
    policy.approval === undefined
      ? undefined
      : createApprovalQueue({
          policy: policy.approval,
          store: broker.state.approvals,
          pipeline: broker.pipeline,
          timeoutMax: broker.config.sandbox.timeout_max,
          now,
          brokerId: broker.brokerId,
        });
  const overlays = overlayLoader((path, issues, lastGoodKept) =>
    broker.pipeline.log.error(
      { path, issues },
      lastGoodKept ? "allowlist overlay edit invalid; the last good version stays in force" : "allowlist overlay invalid; the grant is refused every install",
    ),
  );
  return { ok: true, control: { policy, access, admitter, approvals, callApprovals, overlays } };
}

/**
 * The environments as one identity sees them: the others are neither advertised (tool schemas list
 * names()) nor loadable, so a grant cannot even learn their names.
 */
function narrowedEnvironments(environments: Environments, allowed: readonly string[], overlay: (() => OverlayResult) | undefined): Environments {
  return {
    names: () => environments.names().filter((name) => allowed.includes(name)),
    config: (name) => (allowed.includes(name) ? environments.config(name) : undefined),
    status: () => environments.status().filter((entry) => allowed.includes(entry.environment)),
    get: async (name) => {
      if (!allowed.includes(name)) return { ok: false, error: `environment ${JSON.stringify(name)} is not one you may use` };
      const loaded = await environments.get(name);
      if (!loaded.ok || overlay === undefined) return loaded;
      const narrowing = overlay();
      if (!narrowing.ok) return { ok: false, error: narrowing.error };
      return { ok: true, env: { ...loaded.env, allowlist: narrowAllowlist(loaded.env.allowlist, narrowing.overlay) } };
    },
  };
}

/** The collaborators of one MCP server whose every call comes from `identity` (stdio's, or an HTTP session's grant). */
function serverDepsFor(broker: Broker, control: AccessControl, identity: string): ServerDeps {
  const overlayFile = Object.hasOwn(broker.config.grants, identity) ? broker.config.grants[identity]?.allowlist_overlay : undefined;
  const overlay = overlayFile === undefined ? undefined : () => control.overlays(resolve(broker.config.dir, overlayFile));
  const environments = narrowedEnvironments(broker.environments, control.access.environmentsFor(identity), overlay);
  return {
    pipeline: { ...broker.pipeline, environments },
    identity: () => identity,
    environmentsFor: (who) => control.access.environmentsFor(who),
    timeoutMax: broker.config.sandbox.timeout_max,
    admitter: control.admitter,
    ...(control.approvals === undefined ? {} : { approvals: control.approvals }),
    ...(Object.hasOwn(broker.config.grants, identity) && broker.config.grants[identity]?.mode === "shadow" ? { shadow: true } : {}),
  };
}
