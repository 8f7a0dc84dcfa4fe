import type { Admission, Admitter, CallApprovals } from "./admission.js";
import { WINDOW_MS, type Limit, type Policy, type ToolPolicy } from "../config/policy-file-schema.js";
import { toolRules, toolVerdict, type ToolVerdict } from "../policy-rules/index.js";
import type { RateStore } from "./store.js";
import type { WindowCheck } from "./window.js";

export interface LimiterOptions {
  policy: Policy;
  store: RateStore;
  /** The clock; tests inject one to walk across window edges. */
  now: () => Date;
  /** A grant's own tool policies: their limits replace the policy file's, their action and conditions narrow it (policy-rules/effective.ts). */
  grantTools?: (identity: string) => Readonly<Record<string, ToolPolicy | undefined>> | undefined;
  /** Where calls the policy holds for a person wait; without it such calls are refused (fail closed). */
  callApprovals?: CallApprovals;
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
 * call costs no quota; then a held call's approval; then the tool's concurrency cap (in this process)
 * and every sliding window through the store. Only admitted calls are recorded, so an agent that keeps
 * retrying while refused does not push its own retry time further out.
 */
export function createLimiter(options: LimiterOptions): Admitter {
  const running = new Map<string, number>();

  const admitter: Admitter = {
    listable(identity, tool) {
      const rules = toolRules(options.policy, tool, { name: identity, tools: options.grantTools?.(identity) });
      return rules.kind !== "default-deny" && !(rules.kind === "named" && rules.action === "deny");
    },

    async admit(identity, tool, environment, args): Promise<Admission> {
      const rules = toolRules(options.policy, tool, { name: identity, tools: options.grantTools?.(identity) });
      const verdict = toolVerdict(rules, tool, args ?? {});
      if (verdict.action === "deny") return { ok: false, outcome: "denied", message: verdict.message, rule: verdict.rule };
      if (rules.kind === "open" || rules.kind === "default-deny") return { ok: true, release: () => undefined };

      let approvalId: string | undefined;
      if (verdict.action === "approval") {
        const store = options.callApprovals;
        if (store === undefined) {
          return { ok: false, outcome: "denied", rule: verdict.rule, message: `${verdict.message}; this server has no approval queue, so the call is refused` };
        }
        const found = await store.lookup({ identity, tool, arguments: args ?? {}, rule: verdict.rule, message: verdict.message }, options.now());
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

      const slot = `${tool}|${identity}`;
      const busy = running.get(slot) ?? 0;
      if (rules.concurrency !== undefined && busy >= rules.concurrency) {
        return {
          ok: false,
          outcome: "rate-limited",
          message: `${tool} allows ${rules.concurrency} call(s) at a time per grant and ${JSON.stringify(identity)} already has ${busy} running; retry when one finishes`,
          retryAfterSeconds: 1,
        };
      }
      // The slot is taken before the first await below, so concurrent admissions in this process see it;
      // a refusal further on gives it back.
      running.set(slot, busy + 1);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        const left = (running.get(slot) ?? 1) - 1;
        if (left <= 0) running.delete(slot);
        else running.set(slot, left);
      };
      try {
        const refusal = await windowsThenApproval(identity, environment, rules.limits, approvalId, verdict);
        if (refusal === undefined) return { ok: true, ...(approvalId === undefined ? {} : { approval: { id: approvalId } }), release };
        release();
        return refusal;
      } catch (error) {
        release();
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
