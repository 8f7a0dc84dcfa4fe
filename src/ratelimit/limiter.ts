import type { Admission, Admitter, CallApprovals } from "./admission.js";
import { WINDOW_MS, type Limit, type Policy, type ToolPolicy } from "../config/policy-file-schema.js";
import { toolRules, toolVerdict, type ToolVerdict } from "../policy-rules/index.js";
import { silentLogger, type Logger } from "../log.js";
import { createMemorySlotStore, holdSlot, processOwner, type SlotStore } from "./slots.js";
import type { RateStore } from "./store.js";
import type { WindowCheck } from "./window.js";

/** How long a concurrency slot is held without a renewal: a broker that dies mid-call frees its slots within this. */
export const SLOT_LEASE_MS = 60_000;

export interface LimiterOptions {
  policy: Policy;
  store: RateStore;
  /** The clock; tests inject one to walk across window edges. */
  now: () => Date;
  /** A grant's own tool policies: their limits replace the policy file's, their action and conditions narrow it (policy-rules/effective.ts). */
  grantTools?: (identity: string) => Readonly<Record<string, ToolPolicy | undefined>> | undefined;
  /** Where calls the policy holds for a person wait; without it such calls are refused (fail closed). */
  callApprovals?: CallApprovals;
  /**
   * Where tools' concurrency caps are counted: the state store's (in this process on the embedded store,
   * across the fleet on a shared database). Without it, in memory in this limiter.
   */
  slots?: SlotStore;
  /** a slot's lease (SLOT_LEASE_MS); renewed every third of it while its call runs */
  slotLeaseMs?: number;
  /** who holds the slots, as the shared database records it (hostname:pid) */
  slotOwner?: string;
  /** where a failed slot renewal or release is logged */
  log?: Logger;
}

/** The key a limit counts under: its counter, and the grant and/or environment its scope separates. */
export function limitKey(limit: Limit, identity: string, environment: string | undefined): string {
  const env = environment ?? "-";
  switch (limit.scope) {
    case "grant":
      return `${limit.counter}|grant=${identity}`;
    case "environment":
      return `${limit.counter}|env=${env}`;
    case "grant+environment":
      return `${limit.counter}|grant=${identity}|env=${env}`;
  }
}

function describeScope(limit: Limit, identity: string, environment: string | undefined): string {
  switch (limit.scope) {
    case "grant":
      return `grant ${JSON.stringify(identity)}`;
    case "environment":
      return `environment ${JSON.stringify(environment ?? "-")}`;
    case "grant+environment":
      return `grant ${JSON.stringify(identity)} in environment ${JSON.stringify(environment ?? "-")}`;
  }
}

/**
 * The admission stage as an Admitter, one call for every tool: the policy's verdict on the call (the
 * tool's action and argument conditions, or the default for unnamed tools) first, so a refused or held
 * call costs no quota; then a held call's approval; then the tool's concurrency cap (a leased slot in
 * the slot store) and every sliding window through the store. Only admitted calls are recorded, so an
 * agent that keeps retrying while refused does not push its own retry time further out.
 */
export function createLimiter(options: LimiterOptions): Admitter {
  const slots = options.slots ?? createMemorySlotStore();
  const hold = {
    owner: options.slotOwner ?? processOwner(),
    leaseMs: options.slotLeaseMs ?? SLOT_LEASE_MS,
    log: options.log ?? silentLogger(),
  };

  const admitter: Admitter = {
    listable(identity, tool) {
      const rules = toolRules(options.policy, tool, { name: identity, tools: options.grantTools?.(identity) });
      return rules.kind !== "default-deny" && !(rules.kind === "named" && rules.action === "deny");
    },

    async admit(identity, tool, environment, args): Promise<Admission> {
      const rules = toolRules(options.policy, tool, { name: identity, tools: options.grantTools?.(identity) });
      const verdict = toolVerdict(rules, tool, args ?? {});
      if (verdict.action === "deny") return { ok: false, outcome: "denied", message: verdict.message, rule: verdict.rule };
      if (rules.kind === "open" || rules.kind === "default-deny") return { ok: true, release: async () => undefined };

      let approvalId: string | undefined;
      if (verdict.action === "approval") {
        const store = options.callApprovals;
        if (store === undefined) {
          return { ok: false, outcome: "denied", rule: verdict.rule, message: `${verdict.message}; this server has no approval queue, so the call is refused` };
        }
        const expiresAfterMs = (options.policy.approval?.expires_after_hours ?? 24) * 3_600_000;
        const found = await store.lookup(
          { identity, tool, arguments: args ?? {}, rule: verdict.rule, message: verdict.message, expiresAfterMs },
          options.now(),
        );
        switch (found.state) {
          case "denied":
            return {
              ok: false,
              outcome: "rejected",
              rule: verdict.rule,
              message: `${verdict.message}; ${found.by} denied this call (approval ${found.id}) at ${found.at.toISOString()}${found.reason === undefined ? "" : `: ${found.reason}`}`,
            };
          case "pending":
            return {
              ok: false,
              outcome: "pending",
              rule: verdict.rule,
              approval: { id: found.id, expiresAt: found.expiresAt.toISOString() },
              message:
                `${verdict.message}. Approval ${found.id} is pending: an operator runs \`pipgate approvals approve ${found.id} --reason TEXT\`; ` +
                `then repeat exactly this call (same arguments) before ${found.expiresAt.toISOString()}; it is admitted once`,
            };
          case "approved":
            approvalId = found.id;
            break;
        }
      }

      // The slot is taken before the windows, so a call refused for concurrency costs no quota. The
      // in-memory store takes it when called, so concurrent admissions in this process see it; a shared
      // database counts under a lock. A store error here throws, as the windows' do (fail closed). A
      // refusal further on gives the slot back.
      let release: () => Promise<void> = async () => undefined;
      if (rules.concurrency !== undefined) {
        const held = await holdSlot(slots, `${tool}|${identity}`, rules.concurrency, hold);
        if (!held.ok) {
          return {
            ok: false,
            outcome: "rate-limited",
            message: `${tool} allows ${rules.concurrency} call(s) at a time per grant and ${JSON.stringify(identity)} already has ${held.running} running; retry when one finishes`,
            retryAfterSeconds: 1,
          };
        }
        release = held.slot.release;
      }
      try {
        const refusal = await windowsThenApproval(identity, environment, rules.limits, approvalId, verdict);
        if (refusal === undefined) return { ok: true, ...(approvalId === undefined ? {} : { approval: { id: approvalId } }), release };
        await release();
        return refusal;
      } catch (error) {
        await release();
        throw error;
      }
    },
  };
  return admitter;

  /** Every sliding window through the store, then the use of a held call's approval: the refusal, or undefined to admit. */
  async function windowsThenApproval(
    identity: string,
    environment: string | undefined,
    limits: readonly Limit[],
    approvalId: string | undefined,
    verdict: ToolVerdict,
  ): Promise<Exclude<Admission, { ok: true }> | undefined> {
    const now = options.now().getTime();
    const checks: Array<WindowCheck & { limit: Limit }> = limits.map((limit) => ({
      key: limitKey(limit, identity, environment),
      windowMs: WINDOW_MS[limit.window],
      max: limit.max,
      limit,
    }));
    const taken = await options.store.take(checks, now);
    if (!taken.ok) {
      const limit = checks.find((check) => check === taken.check)?.limit ?? checks[0]?.limit;
      const retryAfterSeconds = Math.max(1, Math.ceil((taken.retryAt - now) / 1000));
      const retryAt = new Date(taken.retryAt).toISOString();
      const what =
        limit === undefined
          ? "a rate limit"
          : `${limit.counter} allows ${limit.max} call(s) per ${limit.window} for ${describeScope(limit, identity, environment)}`;
      return {
        ok: false,
        outcome: "rate-limited",
        message: `rate limited: ${what}, and that many were made in the last ${limit?.window ?? "window"}; retry after ${retryAt} (in ${retryAfterSeconds} s). Repeating the call sooner is refused again.`,
        retryAfterSeconds,
        retryAt,
      };
    }
    // An approval is used up only by a call that got past the limits, so a rate-limited retry keeps it.
    // Another process may have used it between lookup and here: then this call is refused (its quota is spent).
    if (approvalId !== undefined && (await options.callApprovals?.consume(approvalId, options.now())) !== true) {
      return {
        ok: false,
        outcome: "denied",
        rule: verdict.action === "approval" ? verdict.rule : "approval",
        message: `approval ${approvalId} was already used by another call; repeat the call to ask again`,
      };
    }
    return undefined;
  }
}
