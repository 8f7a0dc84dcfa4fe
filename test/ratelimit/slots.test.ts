import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createCallApprovalStore } from "../../src/approvals/index.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { parsePolicy } from "../../src/config/policy-file.js";
import type { Limit, Policy } from "../../src/config/policy-file-schema.js";
import { createLimiter } from "../../src/ratelimit/limiter.js";
import { createMemorySlotStore, holdSlot, processOwner, type SlotStore } from "../../src/ratelimit/slots.js";
import { createSqliteRateStore } from "../../src/ratelimit/store.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

function memoryDb(): Db {
  const db = openMemoryDb();
  dbs.push(db);
  return db;
}

/** A logger that keeps what it writes, as parsed lines. */
function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

/** The memory store with every call recorded, and optionally one method made to fail as a database would. */
function recording(inner: SlotStore, fail: { acquire?: boolean; renew?: boolean; release?: boolean } = {}) {
  const calls = { acquire: [] as string[], renew: [] as string[], release: [] as string[] };
  /** the ids of the slots acquired */
  const ids: string[] = [];
  const broken = () => Promise.reject(new Error("the state database is unreachable"));
  const store: SlotStore = {
    acquire: (key, max, owner, leaseMs, now) => {
      calls.acquire.push(key);
      if (fail.acquire === true) return broken();
      return inner.acquire(key, max, owner, leaseMs, now).then((result) => {
        if (result.ok) ids.push(result.id);
        return result;
      });
    },
    renew: (id, leaseMs, now) => {
      calls.renew.push(id);
      return fail.renew === true ? broken() : inner.renew(id, leaseMs, now);
    },
    release: (id) => {
      calls.release.push(id);
      return fail.release === true ? broken() : inner.release(id);
    },
  };
  return { store, calls, ids };
}

function concurrencyPolicy(concurrency: number, limits: Limit[] = []): Policy {
  return { version: "1", default: "deny", tools: { install_package: { limits, concurrency } } };
}

const KEY = "install_package|alice";

/** Polls until `condition` holds (timers run on real time; a busy machine may delay them). */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(5);
  }
}

describe("the in-memory slot store", () => {
  it("takes a slot when called, so concurrent acquires never pass the cap", async () => {
    const slots = createMemorySlotStore();
    const pending = Array.from({ length: 10 }, (_, i) => slots.acquire(KEY, 3, "host:1", 60_000, i));
    const results = await Promise.all(pending);
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.slice(3)).toEqual(Array.from({ length: 7 }, () => ({ ok: false, running: 3 })));
  });

  it("names this process as the owner", () => {
    expect(processOwner()).toMatch(new RegExp(`:${process.pid}$`));
  });
});

describe("holdSlot", () => {
  it("renews the lease while the call runs, so a call longer than the lease keeps its slot", async () => {
    const { store, calls } = recording(createMemorySlotStore());
    const { log, lines } = capturingLog();
    // the lease clock is the test's; the renewal timer (every 30 ms) is real
    let now = 1_000;
    const held = await holdSlot(store, KEY, 1, { owner: "host:1", leaseMs: 90, log, now: () => now });
    if (!held.ok) throw new Error("a free slot");
    for (const at of [1_080, 1_160, 1_240]) {
      now = at;
      const before = calls.renew.length;
      await waitFor(() => calls.renew.length > before);
    }
    // renewed at 1240 (to 1330), not lapsed at 1090 as the first lease would have
    expect(await store.acquire(KEY, 1, "host:2", 90, 1_300)).toEqual({ ok: false, running: 1 });
    await held.slot.release();
    const renewals = calls.renew.length;
    await sleep(100);
    // released: no renewal after, and the slot is free
    expect(calls.renew).toHaveLength(renewals);
    expect(await store.acquire(KEY, 1, "host:2", 90, 1_300)).toMatchObject({ ok: true });
    expect(lines).toEqual([]);
  });

  it("releases once however often release is called, and concurrent callers wait for the same release", async () => {
    const { store, calls } = recording(createMemorySlotStore());
    const held = await holdSlot(store, KEY, 1, { owner: "host:1", leaseMs: 60_000, log: capturingLog().log });
    if (!held.ok) throw new Error("a free slot");
    await Promise.all([held.slot.release(), held.slot.release()]);
    await held.slot.release();
    expect(calls.release).toHaveLength(1);
  });

  it("logs a failed release and resolves: the lease frees the slot", async () => {
    const { store } = recording(createMemorySlotStore(), { release: true });
    const { log, lines } = capturingLog();
    const held = await holdSlot(store, KEY, 1, { owner: "host:1", leaseMs: 60_000, log });
    if (!held.ok) throw new Error("a free slot");
    await expect(held.slot.release()).resolves.toBeUndefined();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        key: KEY,
        err: "the state database is unreachable",
        msg: expect.stringContaining("frees itself when its lease runs out (within 60 s)"),
      }),
    ]);
  });

  it("logs a failed renewal and tries again; a lapsed lease is logged once and renewals stop", async () => {
    const inner = createMemorySlotStore();
    const failing = recording(inner, { renew: true });
    const { log, lines } = capturingLog();
    // renewed every 20 ms, each renewal failing; the lease clock stands still, so only the failures count
    const short = await holdSlot(failing.store, KEY, 1, { owner: "host:1", leaseMs: 60, log, now: () => 0 });
    await waitFor(() => failing.calls.renew.length >= 2);
    expect(lines[0]).toMatchObject({ key: KEY, err: "the state database is unreachable", msg: expect.stringContaining("retrying") });
    if (short.ok) await short.slot.release();

    // the slot taken from under its holder (as another broker deletes a lapsed row): renew says false
    const lapsing = recording(inner);
    const second = capturingLog();
    const mine = await holdSlot(lapsing.store, KEY, 1, { owner: "host:1", leaseMs: 60, log: second.log });
    if (!mine.ok) throw new Error("a free slot");
    await inner.release(lapsing.ids[0]!);
    await waitFor(() => second.lines.length > 0);
    expect(second.lines).toEqual([expect.objectContaining({ key: KEY, msg: expect.stringContaining("lease ran out before its call finished") })]);
    const renewals = lapsing.calls.renew.length;
    await sleep(100);
    expect(lapsing.calls.renew).toHaveLength(renewals);
    await mine.slot.release();
  });
});

describe("the limiter's concurrency caps over a slot store", () => {
  it("lets two limiters over one store share a cap, and gives the slot back on release", async () => {
    const slots = createMemorySlotStore();
    const a = createLimiter({ policy: concurrencyPolicy(1), store: createSqliteRateStore(memoryDb()), slots, now: () => new Date() });
    const b = createLimiter({ policy: concurrencyPolicy(1), store: createSqliteRateStore(memoryDb()), slots, now: () => new Date() });
    const first = await a.admit("alice", "install_package", "default");
    expect(first.ok).toBe(true);
    const second = await b.admit("alice", "install_package", "default");
    expect(second).toMatchObject({ ok: false, outcome: "rate-limited", retryAfterSeconds: 1, message: expect.stringContaining("already has 1 running") });
    if (first.ok) await first.release();
    expect(await b.admit("alice", "install_package", "default")).toMatchObject({ ok: true });
  });

  it("admits exactly the cap of many concurrent calls in one process", async () => {
    const limiter = createLimiter({ policy: concurrencyPolicy(3), store: createSqliteRateStore(memoryDb()), now: () => new Date() });
    const admitted = await Promise.all(Array.from({ length: 10 }, () => limiter.admit("alice", "install_package", "default")));
    expect(admitted.filter((a) => a.ok)).toHaveLength(3);
  });

  it("gives the slot back when a window refuses the call after the slot was taken", async () => {
    const { store, calls } = recording(createMemorySlotStore());
    const limiter = createLimiter({
      policy: concurrencyPolicy(1, [{ counter: "installs", window: "minute", max: 1, scope: "grant" }]),
      store: createSqliteRateStore(memoryDb()),
      slots: store,
      now: () => new Date(),
    });
    const first = await limiter.admit("alice", "install_package", "default");
    if (!first.ok) throw new Error("the first call is admitted");
    await first.release();
    const second = await limiter.admit("alice", "install_package", "default");
    expect(second).toMatchObject({ ok: false, outcome: "rate-limited", message: expect.stringContaining("installs allows 1 call(s) per minute") });
    expect(calls.acquire).toHaveLength(2);
    expect(calls.release).toHaveLength(2);
    expect(await store.acquire(KEY, 1, "host:2", 60_000, Date.now())).toMatchObject({ ok: true });
  });

  it("gives the slot back when the call's approval was used by a concurrent call", async () => {
    const parsed = parsePolicy(
      { version: "1", default: "deny", approval: { expires_after_hours: 1 }, tools: { run_python_code: { action: "approval", concurrency: 2 } } },
      "policy.json",
      { gateway: true },
    );
    if (!parsed.ok) throw new Error(parsed.issues.join("\n"));
    const db = memoryDb();
    const callApprovals = createCallApprovalStore(db, { canonical: canonicalJson });
    const { store, calls } = recording(createMemorySlotStore());
    const limiter = createLimiter({ policy: parsed.policy, store: createSqliteRateStore(db), slots: store, now: () => new Date(), callApprovals });
    const args = { code: "print(1)" };
    const held = await limiter.admit("alice", "run_python_code", undefined, args);
    if (held.ok || held.outcome !== "pending") throw new Error("the call is held first");
    await callApprovals.decide(held.approval.id, "approved", "carol", "fine", new Date());
    const both = await Promise.all([limiter.admit("alice", "run_python_code", undefined, args), limiter.admit("alice", "run_python_code", undefined, args)]);
    expect(both.filter((a) => a.ok)).toHaveLength(1);
    expect(both.find((a) => !a.ok)).toMatchObject({ outcome: "denied", message: expect.stringContaining("already used by another call") });
    // the refused call's slot is back: one running, so one more fits under the cap of 2
    expect(calls.release).toHaveLength(1);
    expect(await store.acquire("run_python_code|alice", 2, "host:2", 60_000, Date.now())).toMatchObject({ ok: true });
    expect(await store.acquire("run_python_code|alice", 2, "host:2", 60_000, Date.now())).toEqual({ ok: false, running: 2 });
  });

  it("refuses the call by throwing when the slot store fails, and spends no quota", async () => {
    const rates = createSqliteRateStore(memoryDb());
    const { store } = recording(createMemorySlotStore(), { acquire: true });
    const limiter = createLimiter({
      policy: concurrencyPolicy(1, [{ counter: "installs", window: "minute", max: 5, scope: "grant" }]),
      store: rates,
      slots: store,
      now: () => new Date(),
    });
    await expect(limiter.admit("alice", "install_package", "default")).rejects.toThrow("the state database is unreachable");
    expect(await rates.events("installs|grant=alice", Date.now())).toEqual([]);
  });

  it("takes no slot for a tool without a concurrency cap", async () => {
    const { store, calls } = recording(createMemorySlotStore());
    const policy: Policy = { version: "1", default: "deny", tools: { install_package: { limits: [] } } };
    const limiter = createLimiter({ policy, store: createSqliteRateStore(memoryDb()), slots: store, now: () => new Date() });
    const admitted = await limiter.admit("alice", "install_package", "default");
    if (admitted.ok) await admitted.release();
    expect(calls).toEqual({ acquire: [], renew: [], release: [] });
  });
});
