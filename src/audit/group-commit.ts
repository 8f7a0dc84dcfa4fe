/**
 * Group commit for an append-only log: the appends made while the event loop runs one turn are written
 * by one `writeAll` (one transaction), in call order, and each caller's promise settles only after it —
 * no answer is sent before its record is stored. A failed batch is written again item by item with
 * `writeOne`, so one item that cannot be written (a constraint, a full disk) fails alone and the others
 * land or fail for their own reason. At most one batch is in flight: appends made while one is being
 * written wait for it and form the next.
 */
export function groupCommit<I, O>(writeAll: (items: readonly I[]) => Promise<O[]>, writeOne: (item: I) => Promise<O>): (item: I) => Promise<O> {
  type Pending = { item: I; resolve: (out: O) => void; reject: (error: unknown) => void };
  let pending: Pending[] = [];
  let scheduled = false;
  let writing: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    scheduled = false;
    if (batch.length === 0) return;
    let written: O[] | undefined;
    try {
      written = await writeAll(batch.map((entry) => entry.item));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
    }
    if (written !== undefined) {
      // Written, so never written again: a short answer is the writer's bug, and every caller hears of it.
      if (written.length !== batch.length) {
        const error = new Error(`group commit: ${String(batch.length)} records written but ${String(written.length)} returned`);
        for (const entry of batch) entry.reject(error);
      } else batch.forEach((entry, i) => entry.resolve(written[i]!));
      return;
    }
    for (const entry of batch) {
      try {
        entry.resolve(await writeOne(entry.item));
      } catch (error) {
        entry.reject(error);
      }
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        writing = writing.then(flush, flush);
      });
    });
}
