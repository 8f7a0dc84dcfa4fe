import { describe, expect, it } from "vitest";
import { inBatches } from "../../src/commit/batches.js";

/** A call that resolves (or rejects) after `ms`, counting how many run at once. */
function tracked(ms: (n: number) => number, fail: (n: number) => boolean = () => false) {
  let running = 0;
  const seen = { max: 0, started: [] as number[], settled: [] as number[] };
  const fn = async (n: number): Promise<number> => {
    running += 1;
    seen.max = Math.max(seen.max, running);
    seen.started.push(n);
    await new Promise((resolve) => setTimeout(resolve, ms(n)));
    running -= 1;
    seen.settled.push(n);
    if (fail(n)) throw new Error(`item ${String(n)} failed`);
    return n * 10;
  };
  return { fn, seen };
}

const items = Array.from({ length: 10 }, (_, i) => i);

describe("inBatches", () => {
  it("keeps the items' order and at most `size` calls at once", async () => {
    const { fn, seen } = tracked((n) => (n % 3) * 3);
    expect(await inBatches(items, 4, fn)).toEqual(items.map((n) => n * 10));
    expect(seen.max).toBe(4);
    expect(await inBatches([], 4, fn)).toEqual([]);
  });

  it("lets every call of a batch settle before it throws the first failure in order, and starts no later batch", async () => {
    const { fn, seen } = tracked(
      (n) => (n === 5 ? 1 : 8),
      (n) => n === 5 || n === 6,
    );
    await expect(inBatches(items, 4, fn)).rejects.toThrow("item 5 failed");
    expect([...seen.settled].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen.started).not.toContain(8);
  });

  it("stops after the first batch holding a result `until` accepts", async () => {
    const { fn, seen } = tracked(() => 1);
    expect(await inBatches(items, 3, fn, { until: (r) => r === 40 })).toEqual([0, 10, 20, 30, 40, 50]);
    expect(seen.started).toHaveLength(6);
  });

  it("refuses a batch size that is not a positive integer", async () => {
    await expect(inBatches(items, 0, async (n) => n)).rejects.toThrow(RangeError);
    await expect(inBatches(items, 1.5, async (n) => n)).rejects.toThrow(RangeError);
  });
});
