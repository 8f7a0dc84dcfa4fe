/** Admission before a tool runs (rate limits, grants); a refusal is audited and returned as a tool error. */
export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; outcome: "rate-limited" | "denied"; message: string; retryAfterSeconds?: number; retryAt?: string };

/** The rate-limit stage as the server sees it: one call per tool call, before the tool runs. */
export interface Admitter {
  admit(identity: string, tool: string, environment: string | undefined): Admission;
}
