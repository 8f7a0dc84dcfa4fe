import { describe, expect, it } from "vitest";
import { groupCommit } from "../../src/audit/group-commit.js";

describe("group commit", () => {
  it("writes the calls of one turn in one batch, in call order, and answers each after it", async () => {
    const batches: number[][] = [];
    const append = groupCommit(
      async (items: readonly number[]) => {
        batches.push([...items]);
        return items.map((n) => n * 10);
      },
      async () => {
        throw new Error("not used");
      },
    );
    const answers = [1, 2, 3, 4, 5].map((n) => append(n));
    expect(batches).toEqual([]);
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
  });

  it("keeps one batch in flight: calls made while it is written form the next one", async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const append = groupCommit(
      async (items: readonly number[]) => {
        batches.push([...items]);
        if (batches.length === 1) await gate;
        return [...items];
      },
      async (item: number) => item,
    );
    const first = append(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [append(2), append(3)];
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([1, 2, 3]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("after a failed batch writes each call alone, so only the bad one fails", async () => {
    const singles: string[] = [];
    const append = groupCommit(
      async (items: readonly string[]) => {
        if (items.includes("bad")) throw new Error("batch refused");
        return [...items];
      },
      async (item: string) => {
        singles.push(item);
        if (item === "bad") throw new Error(`${item} refused`);
        return item;
      },
    );
    const settled = await Promise.allSettled(["a", "bad", "b"].map((item) => append(item)));
    expect(settled.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual(["a", "Error: bad refused", "b"]);
    expect(singles).toEqual(["a", "bad", "b"]);
    // A batch of one that fails is not written twice.
    singles.length = 0;
    await expect(append("bad")).rejects.toThrow("batch refused");
    expect(singles).toEqual([]);
  });

  it("never writes a batch again when the writer answered short: every caller gets the error", async () => {
    let writes = 0;
    const append = groupCommit(
      async (items: readonly number[]) => {
        writes += 1;
        return items.slice(1);
      },
      async (item: number) => {
        writes += 100;
        return item;
      },
    );
    const settled = await Promise.allSettled([append(1), append(2)]);
    expect(settled.every((r) => r.status === "rejected" && String(r.reason).includes("2 records written but 1 returned"))).toBe(true);
    expect(writes).toBe(1);
  });
});
