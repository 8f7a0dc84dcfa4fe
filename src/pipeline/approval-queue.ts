import type { ApprovalGate, PipelineDeps } from "./deps.js";
import { runInstall, type InstallHooks, type InstallResult } from "./install.js";
import type { ApprovalPolicy } from "../config/policy-file-schema.js";
import { validateInstallArguments } from "../validate/tool-arguments.js";
import { environmentsWithApproval } from "../approvals/overlay.js";
import { screenDecision } from "../approvals/screen.js";
import { newApprovalId, type Approval, type ApprovalResult, type ApprovalState, type ApprovalStore } from "../approvals/store.js";

/** The outcome of a person's decision, as a value: the CLI prints it, tests read it. */
export type Decided = { ok: true; approval: Approval; install?: InstallResult } | { ok: false; error: string; approval?: Approval };

export interface ApprovalQueue extends ApprovalGate {
  /** A request as its requester may see it; another grant's request does not exist for them. */
  status(identity: string, id: string): Approval | undefined;
  list(states?: readonly ApprovalState[]): Approval[];
  /** Approves a pending request and runs it through the whole pipeline, here, in this process. */
  approve(id: string, by: string, reason: string, hooks?: InstallHooks): Promise<Decided>;
  reject(id: string, by: string, reason: string): Decided;
  /** Expires every pending request whose time ran out, one audit record each. */
  sweep(): Approval[];
}

export interface ApprovalQueueOptions {
  policy: ApprovalPolicy;
  store: ApprovalStore;
  pipeline: PipelineDeps;
  timeoutMax: number;
  now: () => Date;
}

const FINAL: Readonly<Record<InstallResult["status"], ApprovalState>> = {
  installed: "installed",
  "already-satisfied": "already-satisfied",
  denied: "denied",
  failed: "failed",
  "timed-out": "timed-out",
  // an approved request runs without admission or the gate, and its arguments are checked again
  invalid: "failed",
  "rate-limited": "failed",
  pending: "failed",
  rejected: "failed",
};

/**
 * The approval queue. Approved requests run in the process of whoever approves them (the CLI), so the
 * person sees the outcome at once and the server holds no background work; the agent learns the
 * outcome by polling install_status. Expiry is swept lazily, whenever anyone looks at the queue.
 */
export function createApprovalQueue(options: ApprovalQueueOptions): ApprovalQueue {
  const { store, pipeline, policy, now } = options;
  const audit = pipeline.audit;

  function sweep(): Approval[] {
    const expired: Approval[] = [];
    for (const approval of store.due(now())) {
      if (!store.transition(approval.id, "pending", "expired", { at: now(), by: "pipgate", reason: "nobody decided in time" })) continue;
      audit.append({
        identity: "pipgate",
        tool: "approvals",
        environment: approval.environment,
        package: approval.package,
        outcome: "expired",
        arguments: { id: approval.id },
        reason: `approval request ${approval.id} from ${approval.identity} expired at ${approval.expiresAt.toISOString()} undecided`,
        approval: { id: approval.id, requested_by: approval.identity, request_audit_id: approval.auditId },
      });
      const after = store.get(approval.id);
      if (after !== undefined) expired.push(after);
    }
    return expired;
  }

  function pendingOrError(id: string): { ok: true; approval: Approval } | { ok: false; error: string; approval?: Approval } {
    sweep();
    const approval = store.get(id);
    if (approval === undefined) return { ok: false, error: `no approval request ${JSON.stringify(id)}` };
    if (approval.state !== "pending") return { ok: false, error: `approval request ${id} is ${approval.state}, not pending`, approval };
    return { ok: true, approval };
  }

  return {
    consider(decision, env, requirement) {
      const screening = screenDecision(decision, env.allowlist, policy, env.name);
      if (!screening.queue) return undefined;
      const id = newApprovalId();
      const expiresAt = new Date(now().getTime() + policy.expires_after_hours * 3_600_000);
      const message = `${requirement} needs a person's approval (${screening.detail}); queued as ${id} until ${expiresAt.toISOString()}. Poll install_status with this id; an approver runs \`pipgate approvals approve ${id} --reason …\`.`;
      return { id, expiresAt, message, reason: screening.reason, detail: screening.detail };
    },

    enqueue(considered, request) {
      store.create({
        id: considered.id,
        identity: request.identity,
        environment: request.environment,
        package: request.package,
        request: { arguments: request.arguments, requirement: request.requirement, reason: considered.reason, detail: considered.detail },
        auditId: request.auditId,
        createdAt: now(),
        expiresAt: considered.expiresAt,
      });
    },

    status(identity, id) {
      sweep();
      const approval = store.get(id);
      return approval !== undefined && approval.identity === identity ? approval : undefined;
    },

    list(states) {
      sweep();
      return store.list(states);
    },

    async approve(id, by, reason, hooks = {}) {
      const found = pendingOrError(id);
      if (!found.ok) return found;
      const approval = found.approval;
      if (!store.transition(id, "pending", "approved", { by, at: now(), reason })) {
        return { ok: false, error: `approval request ${id} was decided by someone else meanwhile`, approval: store.get(id) };
      }
      audit.append({
        identity: by,
        tool: "approvals approve",
        environment: approval.environment,
        package: approval.package,
        outcome: "approved",
        arguments: { id, reason },
        reason: `${by} approved ${approval.request.requirement} for ${approval.identity}: ${reason}`,
        approval: { id, requested_by: approval.identity, decided_by: by, reason, request_audit_id: approval.auditId },
      });
      const finish = (result: ApprovalResult, state: ApprovalState): Decided => {
        store.transition(id, "approved", state, { result });
        const after = store.get(id);
        return after === undefined ? { ok: false, error: `approval request ${id} vanished` } : { ok: true, approval: after };
      };
      // The arguments are checked again on the one request path: the configuration may have changed since.
      // (validated here only for the specifier the approval adds to the allowlist; the request path audits a refusal)
      const context = { environments: pipeline.environments.names(), timeoutMax: options.timeoutMax };
      const validated = validateInstallArguments(approval.request.arguments, context);
      const environments = validated.ok
        ? environmentsWithApproval(pipeline.environments, approval, validated.args.requirement.specifier)
        : pipeline.environments;
      const install = await runInstall(
        { ...pipeline, environments },
        {
          identity: approval.identity,
          tool: "install_package",
          rawArguments: approval.request.arguments,
          gates: { context },
          audit: { approval: { id, decided_by: by } },
        },
        hooks,
      );
      const decided = finish(
        {
          status: install.status,
          message: install.message,
          ...(install.version === undefined ? {} : { version: install.version }),
          installed: install.installed,
          audit_id: install.auditId,
        },
        FINAL[install.status],
      );
      return decided.ok ? { ...decided, install } : decided;
    },

    reject(id, by, reason) {
      const found = pendingOrError(id);
      if (!found.ok) return found;
      const approval = found.approval;
      if (!store.transition(id, "pending", "rejected", { by, at: now(), reason })) {
        return { ok: false, error: `approval request ${id} was decided by someone else meanwhile`, approval: store.get(id) };
      }
      audit.append({
        identity: by,
        tool: "approvals deny",
        environment: approval.environment,
        package: approval.package,
        outcome: "rejected",
        arguments: { id, reason },
        reason: `${by} denied ${approval.request.requirement} for ${approval.identity}: ${reason}`,
        approval: { id, requested_by: approval.identity, decided_by: by, reason, request_audit_id: approval.auditId },
      });
      const after = store.get(id);
      return after === undefined ? { ok: false, error: `approval request ${id} vanished` } : { ok: true, approval: after };
    },

    sweep,
  };
}
