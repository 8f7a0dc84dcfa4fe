/** One window to check for one key: at most `max` events in (now - windowMs, now]. */
export interface WindowCheck {
  key: string;
  windowMs: number;
  max: number;
}

export type WindowVerdict = { ok: true; count: number } | { ok: false; count: number; retryAt: number };

/**
 * The sliding-log rule, pure. `events` are the key's event times (ms) with `at > now - windowMs`, oldest
 * first. A call is admitted when fewer than `max` of them remain; otherwise it may come back when enough
 * have left the window that one more fits: the (count - max + 1)-th oldest event's time plus the window
 * (the oldest one's, when the limiter alone wrote them and count == max).
 */
export function judgeWindow(events: readonly number[], now: number, check: WindowCheck): WindowVerdict {
  const inWindow = events.filter((at) => at > now - check.windowMs);
  if (inWindow.length < check.max) return { ok: true, count: inWindow.length };
  const leaving = inWindow[inWindow.length - check.max] ?? now;
  return { ok: false, count: inWindow.length, retryAt: leaving + check.windowMs };
}
