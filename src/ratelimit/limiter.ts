import type { Admission, Admitter } from "./admission.js";
import { WINDOW_MS, type Limit, type Policy, type ToolPolicy } from "../config/policy-file-schema.js";
import type { RateStore } from "./store.js";
import type { WindowCheck } from "./window.js";

export interface LimiterOptions {
  policy: Policy;
  store: RateStore;
  /** The clock; tests inject one to walk across window edges. */
  now: () => Date;
  /** A grant's own tool policies, which replace the policy file's for the tools they name. */
  grantTools?: (identity: string) => Readonly<Record<string, ToolPolicy | undefined>> | undefined;
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
 * The rate-limit stage as an Admitter: the policy's default for unnamed tools, the tool's concurrency cap
 * (in this process), then every sliding window through the store. Only admitted calls are recorded, so an
 * agent that keeps retrying while refused does not push its own retry time further out.
 */
export function createLimiter(options: LimiterOptions): Admitter {
  const running = new Map<string, number>();

  function toolPolicy(identity: string, tool: string): ToolPolicy | "deny" | "open" {
    const own = options.grantTools?.(identity);
    if (own !== undefined && Object.hasOwn(own, tool)) return own[tool] ?? { limits: [] };
    if (Object.hasOwn(options.policy.tools, tool)) return options.policy.tools[tool as keyof Policy["tools"]] ?? { limits: [] };
    return options.policy.default === "allow" ? "open" : "deny";
  }

  return {
    admit(identity, tool, environment): Admission {
      const found = toolPolicy(identity, tool);
      if (found === "deny") {
        return { ok: false, outcome: "denied", message: `the policy does not allow ${tool} (its default is deny and it names no limits for this tool); ask an operator to add it to the policy file` };
      }
      if (found === "open") return { ok: true, release: () => undefined };

      const slot = `${tool}|${identity}`;
      const busy = running.get(slot) ?? 0;
      if (found.concurrency !== undefined && busy >= found.concurrency) {
        return {
          ok: false,
          outcome: "rate-limited",
          message: `${tool} allows ${found.concurrency} call(s) at a time per grant and ${JSON.stringify(identity)} already has ${busy} running; retry when one finishes`,
          retryAfterSeconds: 1,
        };
      }

      const now = options.now().getTime();
      const checks: Array<WindowCheck & { limit: Limit }> = found.limits.map((limit) => ({
        key: limitKey(limit, identity, environment),
        windowMs: WINDOW_MS[limit.window],
        max: limit.max,
        limit,
      }));
      const taken = options.store.take(checks, now);
      if (!taken.ok) {
        const limit = checks.find((check) => check === taken.check)?.limit ?? checks[0]?.limit;
        const retryAfterSeconds = Math.max(1, Math.ceil((taken.retryAt - now) / 1000));
        const retryAt = new Date(taken.retryAt).toISOString();
        const what = limit === undefined ? "a rate limit" : `${limit.counter} allows ${limit.max} call(s) per ${limit.window} for ${describeScope(limit, identity, environment)}`;
        return {
          ok: false,
          outcome: "rate-limited",
          message: `rate limited: ${what}, and that many were made in the last ${limit?.window ?? "window"}; retry after ${retryAt} (in ${retryAfterSeconds} s). Repeating the call sooner is refused again.`,
          retryAfterSeconds,
          retryAt,
        };
      }

      running.set(slot, busy + 1);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          const left = (running.get(slot) ?? 1) - 1;
          if (left <= 0) running.delete(slot);
          else running.set(slot, left);
        },
      };
    },
  };
}
