/** `promise`, unless the signal aborts or the deadline passes first (then the matching message). */
export function raceBounds<T>(promise: Promise<T>, signal: AbortSignal | undefined, deadline: number, messages: { aborted: string; timedOut: string }): Promise<T | { ok: false; error: string }> {
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
