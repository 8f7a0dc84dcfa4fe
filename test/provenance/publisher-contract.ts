import { describe, expect, it } from "vitest";
import type { PublisherStore } from "../../src/provenance/store.js";

/**
 * What every PublisherStore keeps (SQLite: change-approval.test.ts; PostgreSQL: publishers-postgres.test.ts):
 * the first install wins, and `repin` moves a record only from the publisher the approver saw.
 * `open` gives a fresh, empty store.
 */
export function publisherContract(name: string, open: () => Promise<{ store: PublisherStore; close(): Promise<void> }>): void {
  describe(`${name}: publisher store contract`, () => {
    const at = new Date("2026-01-02T03:04:05.000Z");
    const later = new Date("2026-02-03T04:05:06.000Z");

    it("records the first publisher once, and repins only from the publisher in force", async () => {
      const { store, close } = await open();
      try {
        const first = { indexUrl: "http://index/simple/", project: "demo", publisher: "github:a/demo@w", firstVersion: "1.0", recordedAt: at };
        expect(await store.recordFirst(first)).toEqual(first);
        expect(await store.recordFirst({ ...first, publisher: "github:b/demo@w", firstVersion: "1.1" })).toEqual(first);
        const moved = { ...first, publisher: "github:b/demo@w", firstVersion: "1.1", recordedAt: later };
        // a stale approval (it saw another publisher) moves nothing
        expect(await store.repin("github:c/demo@w", moved)).toBe(false);
        expect(await store.get(first.indexUrl, "demo")).toEqual(first);
        expect(await store.repin("github:a/demo@w", moved)).toBe(true);
        expect(await store.get(first.indexUrl, "demo")).toEqual(moved);
        // the same change run twice (two brokers) moves it once
        expect(await store.repin("github:a/demo@w", moved)).toBe(false);
        // nothing recorded: nothing to move, nothing created
        expect(await store.repin("github:a/demo@w", { ...moved, project: "other" })).toBe(false);
        expect(await store.get(first.indexUrl, "other")).toBeUndefined();
        expect((await store.list()).map((record) => `${record.project} ${record.publisher} ${record.firstVersion}`)).toEqual(["demo github:b/demo@w 1.1"]);
      } finally {
        await close();
      }
    });
  });
}
