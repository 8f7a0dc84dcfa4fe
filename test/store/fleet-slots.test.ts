import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Policy } from "../../src/config/policy-file-schema.js";
import { createLimiter } from "../../src/ratelimit/limiter.js";
import type { PgStores } from "../../src/store/postgres/open.js";
import { openTestStores, postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";

// A tool's concurrency cap across a fleet (issue 17): two limiters, each over its own pool (two brokers),
// counting their slots in one throwaway PostgreSQL database.

const available = postgresAvailable();
const POLICY: Policy = { version: "1", default: "deny", tools: { install_package: { limits: [], concurrency: 1 } } };

describe.skipIf(!available.ok)("fleet: a concurrency cap shared by brokers over PostgreSQL", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });

  const broker = (database: string): Promise<PgStores> => openTestStores(server, database);
  const limiterOver = (stores: PgStores, slotLeaseMs?: number) =>
    createLimiter({ policy: POLICY, store: stores.rates, slots: stores.slots, now: () => new Date(), ...(slotLeaseMs === undefined ? {} : { slotLeaseMs }) });

  it("refuses the second broker's call while the first runs, and admits it after the release", async () => {
    const database = await server.createDatabase();
    const [a, b] = await Promise.all([broker(database), broker(database)]);
    try {
      const first = await limiterOver(a).admit("alice", "install_package", "default");
      expect(first.ok).toBe(true);
      const second = await limiterOver(b).admit("alice", "install_package", "default");
      expect(second).toMatchObject({ ok: false, outcome: "rate-limited", retryAfterSeconds: 1, message: expect.stringContaining("already has 1 running") });
      // another grant has its own cap
      const bob = await limiterOver(b).admit("bob", "install_package", "default");
      expect(bob.ok).toBe(true);
      if (first.ok) await first.release();
      const after = await limiterOver(b).admit("alice", "install_package", "default");
      expect(after.ok).toBe(true);
      if (after.ok) await after.release();
      if (bob.ok) await bob.release();
      const rows = await server.superQuery(database, "SELECT count(*)::int AS n FROM rate_slots");
      expect(rows.rows).toEqual([{ n: 0 }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("keeps a long call's slot by renewing it, and frees a dead broker's slot when its lease ends", async () => {
    const database = await server.createDatabase();
    const [a, b] = await Promise.all([broker(database), broker(database)]);
    let aClosed = false;
    try {
      const lease = 1_500;
      const running = await limiterOver(a, lease).admit("alice", "install_package", "default");
      expect(running.ok).toBe(true);
      await sleep(lease * 2.5);
      // renewed every 500 ms: still held well past one lease
      expect(await limiterOver(b, lease).admit("alice", "install_package", "default")).toMatchObject({ ok: false, outcome: "rate-limited" });
      // broker A "dies": its connections go and nothing renews or releases its slot
      await a.close();
      aClosed = true;
      await sleep(lease * 1.5);
      const after = await limiterOver(b, lease).admit("alice", "install_package", "default");
      expect(after.ok).toBe(true);
      if (after.ok) await after.release();
      // A's release, late (its pool is gone), is logged and never throws
      if (running.ok) await expect(running.release()).resolves.toBeUndefined();
    } finally {
      await Promise.all([aClosed ? undefined : a.close(), b.close()]);
    }
  });

  it("refuses a call by throwing while the database is away: the cap fails closed", async () => {
    const database = await server.createDatabase();
    const a = await broker(database);
    try {
      await server.stop();
      try {
        await expect(limiterOver(a).admit("alice", "install_package", "default")).rejects.toThrow(/the state database .* is unreachable/);
      } finally {
        await server.start();
      }
      const admitted = await limiterOver(a).admit("alice", "install_package", "default");
      expect(admitted.ok).toBe(true);
      if (admitted.ok) await admitted.release();
    } finally {
      await a.close();
    }
  });
});
