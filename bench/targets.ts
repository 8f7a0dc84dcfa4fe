/**
 * Issue 16's targets, in one place: the fixture's figures table, the corpus section and the stand-alone
 * benches all print these, so no table can show an older target than the issue's.
 */
export const TARGETS = {
  /** P1 cold, fresh venv: pipgate / bare pip --no-cache-dir, at most */
  p1Cold: 1.0,
  /** P2 warm, fresh venv: pipgate / bare pip with a warm cache, at most */
  p2Warm: 0.2,
  /** P6: one small wheel into a 40 k-file venv / into an empty venv, at most */
  p6EnvSize: 1.2,
  /** P3: check_package calls per second, warm, at least */
  p3Checks: 2000,
  /** P3: a refusal's round trip p50, milliseconds, at most */
  p3RefusalMs: 5,
  /** P4: eight agents at once / one by one, at most */
  p4Agents: 0.6,
  /** `pipgate install` from process start to its first stage, milliseconds, at most */
  startupMs: 150,
} as const;

/** "≤ 1.0×" */
export function ratioTarget(ratio: number): string {
  return `≤ ${ratio.toFixed(1)}×`;
}
