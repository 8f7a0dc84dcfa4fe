/** `promise`, unless the signal aborts or the deadline passes first (then the matching message). */
export function raceBounds<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  deadline: number,
  messages: { aborted: string; timedOut: string },
): Promise<T | { ok: false; error: string }> {
  if (signal?.aborted === true) return Promise.resolve({ ok: false, error: messages.aborted });
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ ok: false, error: messages.timedOut }), Math.max(0, deadline - Date.now()));
    const onAbort = () => finish({ ok: false, error: messages.aborted });
    signal?.addEventListener("abort", onAbort, { once: true });
    function finish(value: T | { ok: false; error: string }): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    }
    void promise.then(finish);
  });
}

/** Whether `promise` settles within `ms` (a grace period before a harder signal); the timer does not hold the process. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    void promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
