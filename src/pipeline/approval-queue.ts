import type { ApprovalGate, PipelineDeps } from "./deps.js";
import { runInstall, type InstallHooks, type InstallResult } from "./install.js";
import type { ApprovalPolicy } from "../config/policy-file-schema.js";
import { screenDecision } from "../approvals/screen.js";
import { setSummary } from "./approval-stage.js";
import { newApprovalId, type Approval, type ApprovalResult, type ApprovalState, type ApprovalStore } from "../approvals/store.js";

/** Where a person decided: the CLI, or the agent's own client (MCP elicitation), whose user is the grant's. */
export type DecidedVia = "cli" | "elicitation";

/** Who decided, as the queue stores it: an in-client confirmation names the grant and the channel. */
function decider(by: string, via: DecidedVia): string {
  return via === "elicitation" ? `${by} (elicitation)` : by;
}

/** The outcome of a person's decision, as a value: the CLI prints it, tests read it. */
export type Decided = { ok: true; approval: Approval; install?: InstallResult } | { ok: false; error: string; approval?: Approval };

/** An approval's hooks: the install's, and `decided`, called once the decision is stored and audited, before the install runs. */
export interface ApproveHooks extends InstallHooks {
  decided?: () => void;
}

export interface ApprovalQueue extends ApprovalGate {
  /** A request as its requester may see it; another grant's request does not exist for them. */
  status(identity: string, id: string): Promise<Approval | undefined>;
  list(states?: readonly ApprovalState[]): Promise<Approval[]>;
  /** One request, whoever asked (the approver's view). */
  get(id: string): Promise<Approval | undefined>;
  /**
   * Approves a pending request and runs it through the whole pipeline, here, in this process — when
   * this is the broker that queued it. A request another broker of the fleet queued is `scheduled`
   * instead: that broker runs it (runScheduled) and the result lands in the queue for everyone to read.
   */
  approve(id: string, by: string, reason: string, hooks?: ApproveHooks, via?: DecidedVia): Promise<Decided>;
  reject(id: string, by: string, reason: string, via?: DecidedVia): Promise<Decided>;
  /** the approval policy's `elicitation`: a client that supports it may confirm a set in place of the CLI */
  elicitation: boolean;
  /** Expires every pending request whose time ran out, one audit record each. */
  sweep(): Promise<Approval[]>;
  /** Runs the requests other brokers approved for this one, one at a time, oldest first; what became of each. */
  runScheduled(hooks?: InstallHooks): Promise<Approval[]>;
}

export interface ApprovalQueueOptions {
  policy: ApprovalPolicy;
  store: ApprovalStore;
  pipeline: PipelineDeps;
  timeoutMax: number;
  now: () => Date;
  /** the broker this queue runs in (state/broker-id.ts): it owns what it queues */
  brokerId: string;
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
  // the set changed before it ran: a new request for the new set took its place
  pending: "superseded",
  rejected: "failed",
};

/**
 * The approval queue. An approved request runs in the process of whoever approves it (the CLI), so the
 * person sees the outcome at once, when that process is the broker that queued it: its state directory,
 * so its environments. In a fleet, a request approved on another broker is `scheduled` for its owner,
 * whose serve process takes it (a compare-and-set to `approved`, so it runs once) and runs it; the
 * approver's CLI waits for the result in the shared queue. The agent learns the outcome by polling
 * install_status either way. Expiry is swept lazily, whenever anyone looks at the queue.
 */
export function createApprovalQueue(options: ApprovalQueueOptions): ApprovalQueue {
  const { store, pipeline, policy, now } = options;
  const audit = pipeline.audit;

  async function sweep(): Promise<Approval[]> {
    const expired: Approval[] = [];
    for (const approval of await store.due(now())) {
      if (!(await store.transition(approval.id, "pending", "expired", { at: now(), by: "pipgate", reason: "nobody decided in time" }))) continue;
      await audit.append({
        identity: "pipgate",
        tool: "approvals",
        environment: approval.environment,
        package: approval.package,
        outcome: "expired",
        arguments: { id: approval.id },
        reason: `approval request ${approval.id} from ${approval.identity} expired at ${approval.expiresAt.toISOString()} undecided`,
        approval: { id: approval.id, requested_by: approval.identity, request_audit_id: approval.auditId },
      });
      const after = await store.get(approval.id);
      if (after !== undefined) expired.push(after);
    }
    return expired;
  }

  async function pendingOrError(id: string): Promise<{ ok: true; approval: Approval } | { ok: false; error: string; approval?: Approval }> {
    await sweep();
    const approval = await store.get(id);
    if (approval === undefined) return { ok: false, error: `no approval request ${JSON.stringify(id)}` };
    if (approval.state !== "pending") return { ok: false, error: `approval request ${id} is ${approval.state}, not pending`, approval };
    return { ok: true, approval };
  }

  /** A decision's outcome: the request as it stands now, with the install that ran for it, if one did. */
  async function decidedNow(id: string, install?: InstallResult): Promise<Decided> {
    const after = await store.get(id);
    if (after === undefined) return { ok: false, error: `approval request ${id} vanished` };
    return install === undefined ? { ok: true, approval: after } : { ok: true, approval: after, install };
  }

  /** The request as it stands now, as Decided's optional field (absent when it vanished). */
  async function approvalField(id: string): Promise<{ approval?: Approval }> {
    const approval = await store.get(id);
    return approval === undefined ? {} : { approval };
  }

  /**
   * Runs an approved request through the whole pipeline and stores what became of it. The arguments are
   * checked again on the one request path: the configuration may have changed since. The run may
   * install the approved set and nothing else; a set that resolves differently now is queued anew
   * (through this gate) for the same requester.
   */
  async function run(approval: Approval, set: NonNullable<Approval["request"]["set"]>, by: string, hooks: InstallHooks): Promise<Decided> {
    const id = approval.id;
    const context = { environments: pipeline.environments.names(), timeoutMax: options.timeoutMax };
    const unlisted = policy.unlisted && set.some((dist) => dist.needs === "unlisted");
    const install = await runInstall(
      pipeline,
      {
        identity: approval.identity,
        tool: "install_package",
        rawArguments: approval.request.arguments,
        gates: { context, approvals: gate, approved: { id, decidedBy: by, set, unlisted } },
        audit: { approval: { id, decided_by: by, ran_on: options.brokerId } },
      },
      hooks,
    );
    const result: ApprovalResult = {
      status: install.status,
      message: install.message,
      ...(install.version === undefined ? {} : { version: install.version }),
      installed: install.installed,
      audit_id: install.auditId,
      ran_on: options.brokerId,
      ...(install.status === "pending" && install.approval !== undefined ? { superseded_by: install.approval.id } : {}),
    };
    await store.transition(id, "approved", FINAL[install.status], { result });
    return decidedNow(id, install);
  }

  const gate: ApprovalGate = {
    screen(decision, env) {
      const screening = screenDecision(decision, env.allowlist, policy, env.name);
      return screening.queue ? { reason: screening.reason, detail: screening.detail, unlisted: policy.unlisted } : undefined;
    },

    consider(hold, set, requirement, supersedes) {
      const id = newApprovalId();
      const expiresAt = new Date(now().getTime() + policy.expires_after_hours * 3_600_000);
      const changed = supersedes === undefined ? "" : `the set approved as ${supersedes} changed before it ran (${hold.detail}), so it needs a new approval: `;
      const why = supersedes === undefined ? hold.detail : "the set changed";
      const message = `${changed}${requirement} needs a person's approval (${why}) for the whole set it resolves to, ${setSummary(set)}; queued as ${id} until ${expiresAt.toISOString()}. Poll install_status with this id; an approver runs \`pipgate approvals show ${id}\` and \`pipgate approvals approve ${id} --reason …\`.`;
      return { id, expiresAt, message, reason: hold.reason, detail: hold.detail, set, ...(supersedes === undefined ? {} : { supersedes }) };
    },

    async enqueue(considered, request) {
      await store.create({
        id: considered.id,
        identity: request.identity,
        environment: request.environment,
        package: request.package,
        request: {
          arguments: request.arguments,
          requirement: request.requirement,
          reason: considered.reason,
          detail: considered.detail,
          set: considered.set,
          ...(considered.supersedes === undefined ? {} : { supersedes: considered.supersedes }),
        },
        auditId: request.auditId,
        owner: options.brokerId,
        createdAt: now(),
        expiresAt: considered.expiresAt,
      });
    },
  };

  return {
    ...gate,

    async status(identity, id) {
      await sweep();
      const approval = await store.get(id);
      return approval !== undefined && approval.identity === identity ? approval : undefined;
    },

    async list(states) {
      await sweep();
      return store.list(states);
    },

    async get(id) {
      await sweep();
      return store.get(id);
    },

    elicitation: policy.elicitation,

    async approve(id, who, reason, hooks = {}, via = "cli") {
      const by = decider(who, via);
      const found = await pendingOrError(id);
      if (!found.ok) return found;
      const approval = found.approval;
      const set = approval.request.set;
      if (set === undefined || set.length === 0) {
        return { ok: false, error: `approval request ${id} names no resolved set (it predates set approvals); deny it and let the agent ask again`, approval };
      }
      // A request without an owner predates fleets: it was queued in this state database, so it is ours.
      const elsewhere = approval.owner !== undefined && approval.owner !== options.brokerId ? approval.owner : undefined;
      if (!(await store.transition(id, "pending", elsewhere === undefined ? "approved" : "scheduled", { by, at: now(), reason }))) {
        return { ok: false, error: `approval request ${id} was decided by someone else meanwhile`, ...(await approvalField(id)) };
      }
      await audit.append({
        identity: by,
        tool: "approvals approve",
        environment: approval.environment,
        package: approval.package,
        outcome: "approved",
        arguments: { id, reason },
        reason:
          `${by} approved ${approval.request.requirement} for ${approval.identity} as one set (${setSummary(set)}): ${reason}` +
          (elsewhere === undefined ? "" : `; it runs on ${elsewhere}, the broker that queued it`),
        resolved: set.map((dist) => ({ name: dist.name, version: dist.version, sha256: dist.sha256 })),
        approval: {
          id,
          requested_by: approval.identity,
          decided_by: by,
          via,
          reason,
          request_audit_id: approval.auditId,
          ...(elsewhere === undefined ? {} : { runs_on: elsewhere }),
        },
      });
      hooks.decided?.();
      return elsewhere === undefined ? run(approval, set, by, hooks) : decidedNow(id);
    },

    async runScheduled(hooks = {}) {
      const ran: Approval[] = [];
      for (const approval of await store.scheduledFor(options.brokerId)) {
        const set = approval.request.set;
        const by = approval.decidedBy;
        // Taken here, once: another process of this broker may be looking at the same rows.
        if (set === undefined || set.length === 0 || by === undefined || !(await store.transition(approval.id, "scheduled", "approved"))) continue;
        const decided = await run(approval, set, by, hooks);
        if (decided.approval !== undefined) ran.push(decided.approval);
      }
      return ran;
    },

    async reject(id, who, reason, via = "cli") {
      const by = decider(who, via);
      const found = await pendingOrError(id);
      if (!found.ok) return found;
      const approval = found.approval;
      if (!(await store.transition(id, "pending", "rejected", { by, at: now(), reason }))) {
        return { ok: false, error: `approval request ${id} was decided by someone else meanwhile`, ...(await approvalField(id)) };
      }
      await audit.append({
        identity: by,
        tool: "approvals deny",
        environment: approval.environment,
        package: approval.package,
        outcome: "rejected",
        arguments: { id, reason },
        reason: `${by} denied ${approval.request.requirement} for ${approval.identity}: ${reason}`,
        approval: { id, requested_by: approval.identity, decided_by: by, via, reason, request_audit_id: approval.auditId },
      });
      return decidedNow(id);
    },

    sweep,
  };
}
