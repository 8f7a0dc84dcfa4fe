/**
 * `fn` over `items`, at most `size` calls at a time (a batch, then the next): how the commit's file
 * system work keeps libuv's pool busy without opening thousands of operations at once. Resolves with
 * the results in the items' order. Every call of a batch settles before a failure is thrown (the
 * first rejection, in the items' order), so nothing is still touching the file system when the caller
 * cleans up or restores. `until`, when given, ends the walk after the first batch holding a result it
 * accepts: the results stop there.
 */
export async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<R>,
  options: { until?: (result: R) => boolean } = {},
): Promise<R[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a batch holds at least one call, not ${String(size)}`);
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    const settled = await Promise.allSettled(items.slice(i, i + size).map(fn));
    for (const result of settled) {
      if (result.status === "rejected") throw result.reason;
      results.push(result.value);
    }
    if (options.until !== undefined && results.slice(i).some(options.until)) break;
  }
  return results;
}
