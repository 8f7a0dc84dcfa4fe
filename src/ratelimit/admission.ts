/** Admission before a tool runs (policy action and conditions, rate limits, grants); a refusal is audited and returned as a tool error. */
export type Admission =
  | {
      ok: true;
      /** Gives the call's concurrency slot back, once the call is over. Idempotent; never rejects (a failure is logged). */
      release: () => Promise<void>;
      approval?: { id: string };
    }
  | { ok: false; outcome: "rate-limited" | "denied" | "rejected"; message: string; retryAfterSeconds?: number; retryAt?: string; rule?: string }
  | {
      ok: false;
      outcome: "pending";
      message: string;
      rule: string;
      approval: { id: string; expiresAt: string };
      retryAfterSeconds?: undefined;
      retryAt?: undefined;
    };

/** The rate-limit stage as the server sees it: one call per tool call, before the tool runs. */
export interface Admitter {
  /** `args`: the call's arguments as received (attacker-controlled), for the policy's argument conditions. */
  admit(identity: string, tool: string, environment: string | undefined, args?: unknown): Promise<Admission>;
  /**
   * Whether `tool` is listed to `identity` at all: false when the policy refuses every call of it (its
   * default, or `action: deny`), so under `"default": "deny"` an unnamed tool is neither listed nor callable.
   */
  listable(identity: string, tool: string): boolean;
}

/** Where a held call stands for its requester: waiting, decided, or never asked before (then it is now). */
export type CallApprovalState =
  | { state: "pending"; id: string; expiresAt: Date }
  | { state: "approved"; id: string; expiresAt: Date; by: string }
  | { state: "denied"; id: string; by: string; at: Date; reason: string | undefined };

/** A call held for a person, as the limiter hands it to the approval store. */
export interface HeldCall {
  identity: string;
  tool: string;
  arguments: unknown;
  rule: string;
  message: string;
  /** how long a new request stays open, and its approval usable (the policy's approval.expires_after_hours) */
  expiresAfterMs: number;
}

/**
 * The approvals of held tool calls, as the limiter needs them (implemented over the state database in
 * approvals/call-approvals.ts; passed in, so the limiter stays below the approval stage).
 */
export interface CallApprovals {
  /** This exact call's approval (same identity, tool and arguments), creating a pending request when there is none in force. */
  lookup(call: HeldCall, now: Date): Promise<CallApprovalState>;
  /** Uses an approval up: true once, for the one call it lets through. */
  consume(id: string, now: Date): Promise<boolean>;
}
