import { describe, expect, it } from "vitest";
import { GENESIS_HASH, type AuditInput, type AuditLog, type AuditRecord, type BrokerProcess, type IntentInput } from "../../src/audit/index.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import type { ApprovalStore, NewApproval } from "../../src/approvals/store.js";
import type { CallApprovalStore } from "../../src/approvals/call-approvals.js";
import type { HttpCacheStore } from "../../src/index/http-cache.js";
import type { ResolutionCache } from "../../src/pipeline/resolution-cache.js";
import type { SlotStore } from "../../src/ratelimit/slots.js";
import type { RateStore } from "../../src/ratelimit/store.js";
import { SAMPLE_INPUTS } from "../audit/seed.js";

/**
 * The contract every state store keeps, whatever it runs on: one suite, run over the embedded SQLite
 * file and over PostgreSQL (test/store/*-contract.test.ts). `open()` is one broker's handle; every call
 * on one harness reaches the same data, as brokers sharing a state directory or a database do.
 */
export interface ContractStores {
  audit: AuditLog;
  rates: RateStore;
  slots: SlotStore;
  approvals: ApprovalStore;
  callApprovals: CallApprovalStore;
  httpCache: HttpCacheStore;
  resolutions: ResolutionCache;
  close(): Promise<void>;
}

export interface StoreHarness {
  /** one broker's stores over the harness's data; `now` is the audit and cache clock */
  open(opts?: { now?: () => Date }): Promise<ContractStores>;
}

/** A fresh, empty store (a new file or database) for each test. */
export type FreshHarness = () => Promise<StoreHarness>;

const BROKER: BrokerProcess = { pid: 4242, start: null, host: "contract-host" };

function intentFor(requestId: string): IntentInput {
  return {
    identity: "agent-a",
    tool: "install_package",
    environment: "main",
    package: "demo",
    arguments: { package_name: "demo" },
    reason: "started: a sandbox run",
    request: { requestId, requirement: "demo", upgrade: false, timeout: 300 },
    broker: BROKER,
  };
}

function outcomeFor(requestId: string, outcome: AuditInput["outcome"] = "installed"): AuditInput {
  return { identity: "agent-a", tool: "install_package", environment: "main", package: "demo", outcome, arguments: {}, request: { requestId } };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function auditContract(name: string, fresh: FreshHarness): void {
  describe(`${name}: audit log contract`, () => {
    it("chains records from 64 zeros and verifies them; reads return what was stored", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const appended: Awaited<ReturnType<AuditLog["append"]>>[] = [];
        for (const input of SAMPLE_INPUTS) appended.push(await stores.audit.append(input));
        expect(appended.map((r) => r.seq)).toEqual(SAMPLE_INPUTS.map((_, i) => i + 1));
        expect(appended[0]?.prevHash).toBe(GENESIS_HASH);
        for (let i = 1; i < appended.length; i += 1) expect(appended[i]?.prevHash).toBe(appended[i - 1]?.hash);
        for (const record of appended) expect(await stores.audit.get(record.id)).toEqual(record);
        expect(await stores.audit.list()).toEqual(appended);
        expect(await collect(stores.audit.iterate({ order: "desc" }))).toEqual([...appended].reverse());
        expect(await stores.audit.after(2)).toEqual(appended.slice(2));
        expect(await stores.audit.count({ identity: "agent-a" })).toBe(appended.filter((r) => r.identity === "agent-a").length);
        expect(await stores.audit.list({ package: "NumPy" })).toEqual(appended.filter((r) => r.package === "numpy"));
        expect(await stores.audit.seqOfHash(appended[1]!.hash)).toBe(2);
        expect(await stores.audit.verify()).toEqual({ ok: true, count: appended.length, head: appended[appended.length - 1]?.hash });
        expect(await stores.audit.lookup("aud_")).toEqual({ ok: false, reason: "not-found" });
        const byPrefix = await stores.audit.lookup(appended[0]!.id.slice(4, 30));
        expect(byPrefix).toEqual({ ok: true, record: appended[0] });
      } finally {
        await stores.close();
      }
    });

    it("commits concurrent appends from one broker together, each chained, in call order", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const input = (identity: string): AuditInput => ({ identity, tool: "check_package", outcome: "allowed", arguments: {} });
        const records = await Promise.all(Array.from({ length: 30 }, (_, i) => stores.audit.append(input(`agent-${String(i)}`))));
        expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(records.map((r) => r.identity)).toEqual(Array.from({ length: 30 }, (_, i) => `agent-${String(i)}`));
        expect(await stores.audit.list()).toEqual(records);
        expect(await stores.audit.verify()).toMatchObject({ ok: true, count: 30 });
      } finally {
        await stores.close();
      }
    });

    it("keeps every body field a record is given, whichever store wrote it", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const full: AuditInput = {
          identity: "agent-a",
          tool: "install_package",
          environment: "main",
          package: "demo",
          outcome: "installed",
          arguments: { package_name: "demo" },
          reason: "installed demo 1.0",
          request: { requestId: "req_full" },
          decision: { allowed: true },
          resolved: [{ name: "demo", version: "1.0", sha256: "a".repeat(64) }],
          sandbox: { durationMs: 10 },
          commit: { installed: [] },
          approval: { id: "apr_x" },
          durationMs: 12,
          recovery: { found: "nothing to do" },
          upstream: { durationMs: 1, arguments_sha256: "b".repeat(64), arguments_bytes: 2 },
          shadow: { mode: "shadow", would_deny: false, refusals: [] },
          provenance: { recorded: [{ project: "demo", publisher: "https://example.invalid/publisher" }] },
        };
        const written = await stores.audit.append(full);
        const read = await stores.audit.get(written.id);
        const bodyKeys = Object.keys(full).filter((key) => !["identity", "tool", "environment", "package", "outcome"].includes(key));
        for (const key of bodyKeys) expect(read?.[key as keyof AuditRecord], key).toEqual(full[key as keyof AuditInput]);
      } finally {
        await stores.close();
      }
    });

    it("keeps the body as canonical JSON: a record's hash is the documented recipe's, whichever store wrote it", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const record = await stores.audit.append(SAMPLE_INPUTS[0]!);
        const { seq, id, time, identity, tool, outcome, prevHash, hash, environment, package: pkg, ...rest } = record;
        const { recordHash } = await import("../../src/audit/chain.js");
        const recomputed = recordHash({
          seq,
          id,
          time,
          identity,
          tool,
          outcome,
          environment: environment ?? null,
          package: pkg ?? null,
          body: canonicalJson(rest),
          prev_hash: prevHash,
        });
        expect(recomputed).toBe(hash);
      } finally {
        await stores.close();
      }
    });

    it("pairs intents with outcomes: open intents, outcomeOf, and one outcome per request", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const a = await stores.audit.appendIntent(intentFor("req_a"));
        const b = await stores.audit.appendIntent(intentFor("req_b"));
        expect(a.outcome).toBe("intent");
        expect((await stores.audit.openIntents()).map((r) => r.id)).toEqual([a.id, b.id]);
        const closed = await stores.audit.appendOutcomeOnce("req_a", outcomeFor("req_a"));
        expect(closed?.outcome).toBe("installed");
        expect(await stores.audit.appendOutcomeOnce("req_a", outcomeFor("req_a", "interrupted"))).toBeUndefined();
        expect((await stores.audit.outcomeOf("req_a"))?.id).toBe(closed?.id);
        expect(await stores.audit.outcomeOf("req_b")).toBeUndefined();
        expect((await stores.audit.openIntents()).map((r) => r.id)).toEqual([b.id]);
        // Queries show one record per request unless intents are asked for.
        expect(await stores.audit.count()).toBe(1);
        expect(await stores.audit.count({ intents: true })).toBe(3);
      } finally {
        await stores.close();
      }
    });

    it("keeps one chain when several brokers append at once, and closes a request once however many recover it", async () => {
      const harness = await fresh();
      const brokers = await Promise.all([harness.open(), harness.open(), harness.open()]);
      try {
        const perBroker = 12;
        await Promise.all(
          brokers.map((stores, b) =>
            Promise.all(Array.from({ length: perBroker }, (_, i) => stores.audit.append({ ...SAMPLE_INPUTS[1]!, identity: `agent-${b}-${i}` }))),
          ),
        );
        await brokers[0]!.audit.appendIntent(intentFor("req_shared"));
        const closers = await Promise.all(brokers.map((stores) => stores.audit.appendOutcomeOnce("req_shared", outcomeFor("req_shared", "interrupted"))));
        expect(closers.filter((r) => r !== undefined)).toHaveLength(1);
        const verified = await brokers[1]!.audit.verify();
        expect(verified).toMatchObject({ ok: true, count: brokers.length * perBroker + 2 });
        const identities = (await brokers[2]!.audit.list({ tool: "install_package" })).map((r) => r.identity);
        expect(new Set(identities).size).toBe(brokers.length * perBroker + 1);
      } finally {
        await Promise.all(brokers.map((stores) => stores.close()));
      }
    });
  });
}

export function rateContract(name: string, fresh: FreshHarness): void {
  describe(`${name}: rate store contract`, () => {
    it("admits max calls per window, then refuses until the oldest leaves it; a refusal records nothing", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const check = { key: "installs|grant=a", windowMs: 60_000, max: 3 };
        const t0 = 1_700_000_000_000;
        for (let i = 0; i < 3; i += 1) expect(await stores.rates.take([check], t0 + i * 1000)).toEqual({ ok: true });
        expect(await stores.rates.take([check], t0 + 5000)).toEqual({ ok: false, check, retryAt: t0 + 60_000 });
        expect(await stores.rates.events(check.key, t0 + 5000)).toEqual([t0, t0 + 1000, t0 + 2000]);
        expect(await stores.rates.take([check], t0 + 60_001)).toEqual({ ok: true });
        expect(await stores.rates.take([], t0)).toEqual({ ok: true });
      } finally {
        await stores.close();
      }
    });

    it("of several full windows reports the one that frees up last, and takes all keys or none", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const t0 = 1_700_000_000_000;
        const minute = { key: "m|grant=a", windowMs: 60_000, max: 1 };
        const hour = { key: "h|grant=a", windowMs: 3_600_000, max: 1 };
        const other = { key: "o|grant=a", windowMs: 60_000, max: 5 };
        expect(await stores.rates.take([minute, hour], t0)).toEqual({ ok: true });
        expect(await stores.rates.take([minute, hour, other], t0 + 10)).toEqual({ ok: false, check: hour, retryAt: t0 + 3_600_000 });
        expect(await stores.rates.events(other.key, t0 + 10)).toEqual([]);
      } finally {
        await stores.close();
      }
    });

    it("never over-admits when several brokers take the last slots at once", async () => {
      const harness = await fresh();
      const brokers = await Promise.all([harness.open(), harness.open(), harness.open()]);
      try {
        const check = { key: "install_package|grant=race", windowMs: 60_000, max: 10 };
        const now = Date.now();
        const results = await Promise.all(brokers.flatMap((stores) => Array.from({ length: 10 }, () => stores.rates.take([check], now))));
        expect(results.filter((r) => r.ok)).toHaveLength(10);
        expect(await brokers[0]!.rates.events(check.key, now)).toHaveLength(10);
      } finally {
        await Promise.all(brokers.map((stores) => stores.close()));
      }
    });
  });
}

/**
 * Concurrency slots. `shared`: whether every open() of a harness counts the same slots (a shared
 * database: the cap holds across brokers) or each its own (the embedded store: per process).
 */
export function slotContract(name: string, fresh: FreshHarness, opts: { shared: boolean }): void {
  describe(`${name}: slot store contract`, () => {
    const key = "install_package|alice";
    const t0 = 1_700_000_000_000;

    it("refuses past the cap and says how many run; a release frees one, and releasing again does nothing", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const one = await stores.slots.acquire(key, 2, "host:1", 60_000, t0);
        const two = await stores.slots.acquire(key, 2, "host:1", 60_000, t0 + 1);
        expect(one).toMatchObject({ ok: true, id: expect.stringMatching(/^slot_/) });
        expect(two).toMatchObject({ ok: true });
        expect(await stores.slots.acquire(key, 2, "host:1", 60_000, t0 + 2)).toEqual({ ok: false, running: 2 });
        // another grant's key counts apart; a higher cap on the same key counts the slots already held
        expect(await stores.slots.acquire("install_package|bob", 2, "host:1", 60_000, t0 + 2)).toMatchObject({ ok: true });
        expect(await stores.slots.acquire(key, 3, "host:1", 60_000, t0 + 2)).toMatchObject({ ok: true });
        expect(await stores.slots.acquire(key, 3, "host:1", 60_000, t0 + 3)).toEqual({ ok: false, running: 3 });
        if (!one.ok) return;
        await stores.slots.release(one.id);
        await stores.slots.release(one.id);
        await stores.slots.release("slot_never-was");
        expect(await stores.slots.acquire(key, 3, "host:1", 60_000, t0 + 4)).toMatchObject({ ok: true });
        expect(await stores.slots.acquire(key, 3, "host:1", 60_000, t0 + 5)).toEqual({ ok: false, running: 3 });
      } finally {
        await stores.close();
      }
    });

    it("stops counting a slot whose lease ran out; renewing keeps one, and renewing a lapsed one says false", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const dead = await stores.slots.acquire(key, 2, "host:1", 10_000, t0);
        const live = await stores.slots.acquire(key, 2, "host:2", 10_000, t0);
        if (!dead.ok || !live.ok) throw new Error("two slots under a cap of 2");
        expect(await stores.slots.renew(live.id, 10_000, t0 + 9_000)).toBe(true);
        // at t0 + 10 s the first lease ends: its slot is free, the renewed one (to t0 + 19 s) still counts
        expect(await stores.slots.acquire(key, 2, "host:3", 10_000, t0 + 10_000)).toMatchObject({ ok: true });
        expect(await stores.slots.acquire(key, 2, "host:3", 10_000, t0 + 10_001)).toEqual({ ok: false, running: 2 });
        expect(await stores.slots.renew(dead.id, 10_000, t0 + 10_002)).toBe(false);
        expect(await stores.slots.renew(live.id, 10_000, t0 + 19_001)).toBe(false);
        expect(await stores.slots.renew("slot_never-was", 10_000, t0)).toBe(false);
        // past every lease nothing counts
        expect(await stores.slots.acquire(key, 1, "host:3", 10_000, t0 + 30_000)).toMatchObject({ ok: true });
      } finally {
        await stores.close();
      }
    });

    it(
      opts.shared
        ? "admits exactly max of many concurrent acquires from several brokers' pools"
        : "admits exactly max of many concurrent acquires on one store, and counts each store's apart",
      async () => {
        const harness = await fresh();
        const brokers = await Promise.all([harness.open(), harness.open(), harness.open()]);
        try {
          const max = 5;
          const results = await Promise.all(
            brokers.flatMap((stores, b) => Array.from({ length: 8 }, (_, i) => stores.slots.acquire("race|grant", max, `host:${b}-${i}`, 60_000, t0))),
          );
          const won = results.filter((r) => r.ok);
          // shared: 5 between the three; apart: 5 in each
          expect(won).toHaveLength(opts.shared ? max : max * brokers.length);
          expect(new Set(won.map((r) => (r.ok ? r.id : ""))).size).toBe(won.length);
          for (const refused of results.filter((r) => !r.ok)) expect(refused).toEqual({ ok: false, running: max });
        } finally {
          await Promise.all(brokers.map((stores) => stores.close()));
        }
      },
    );
  });
}

function newApproval(id: string, now: Date): NewApproval {
  return {
    id,
    identity: "agent-a",
    environment: "main",
    package: "demo",
    request: { arguments: { package_name: "demo" }, requirement: "demo", reason: "unlisted", detail: "not on the allowlist", set: [] },
    auditId: "aud_x",
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  };
}

export function approvalContract(name: string, fresh: FreshHarness): void {
  describe(`${name}: approval stores contract`, () => {
    it("queues, lists and moves an install approval by compare-and-set: of two deciders one wins", async () => {
      const harness = await fresh();
      const [a, b] = await Promise.all([harness.open(), harness.open()]);
      try {
        const now = new Date("2024-05-01T10:00:00Z");
        const created = await a!.approvals.create(newApproval("apr_contract1", now));
        expect(created).toMatchObject({ id: "apr_contract1", state: "pending", request: { requirement: "demo" }, decidedBy: undefined });
        expect(await b!.approvals.get("apr_contract1")).toEqual(created);
        await a!.approvals.create(newApproval("apr_contract2", new Date(now.getTime() + 1)));
        const raced = await Promise.all([
          a!.approvals.transition("apr_contract1", "pending", "approved", { by: "alice", at: now, reason: "ok" }),
          b!.approvals.transition("apr_contract1", "pending", "denied", { by: "bob", at: now, reason: "no" }),
        ]);
        expect(raced.filter(Boolean)).toHaveLength(1);
        const decided = await b!.approvals.get("apr_contract1");
        expect(decided?.state).toBe(raced[0] ? "approved" : "denied");
        expect(decided?.decidedBy).toBe(raced[0] ? "alice" : "bob");
        const result = { status: "installed", message: "done", installed: [{ name: "demo", version: "1.0" }], audit_id: "aud_y" };
        if (raced[0]) expect(await a!.approvals.transition("apr_contract1", "approved", "installed", { result })).toBe(true);
        expect((await b!.approvals.list(["pending"])).map((r) => r.id)).toEqual(["apr_contract2"]);
        expect((await b!.approvals.list()).map((r) => r.id)).toEqual(["apr_contract1", "apr_contract2"]);
        if (raced[0]) expect((await a!.approvals.get("apr_contract1"))?.result).toEqual(result);
        expect((await a!.approvals.due(new Date(now.getTime() + 60_001))).map((r) => r.id)).toEqual(["apr_contract2"]);
        expect(await a!.approvals.due(now)).toEqual([]);
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it("keeps a request's owner, and hands a request scheduled for its owner to exactly one taker", async () => {
      const harness = await fresh();
      const [a, b] = await Promise.all([harness.open(), harness.open()]);
      try {
        const now = new Date("2024-05-01T10:00:00Z");
        const owned = (id: string, owner: string, at: number) => ({ ...newApproval(id, new Date(now.getTime() + at)), owner });
        expect((await a!.approvals.create(owned("apr_owned1", "brk_aaaaaaaaaa@a", 0))).owner).toBe("brk_aaaaaaaaaa@a");
        await a!.approvals.create(owned("apr_owned2", "brk_aaaaaaaaaa@a", 1));
        await a!.approvals.create(owned("apr_owned3", "brk_bbbbbbbbbb@b", 2));
        expect((await b!.approvals.create(newApproval("apr_ownerless", now))).owner).toBeUndefined();
        // Approved on broker B for broker A: scheduled, and only A's list names them, in the order decided.
        for (const [id, at] of [
          ["apr_owned2", 5],
          ["apr_owned1", 9],
          ["apr_owned3", 7],
        ] as const) {
          expect(await b!.approvals.transition(id, "pending", "scheduled", { by: "maria", at: new Date(now.getTime() + at), reason: "ok" })).toBe(true);
        }
        expect((await b!.approvals.scheduledFor("brk_aaaaaaaaaa@a")).map((r) => r.id)).toEqual(["apr_owned2", "apr_owned1"]);
        expect((await a!.approvals.scheduledFor("brk_bbbbbbbbbb@b")).map((r) => r.id)).toEqual(["apr_owned3"]);
        expect(await a!.approvals.scheduledFor("brk_cccccccccc@c")).toEqual([]);
        // Two processes of broker A take the same request: one runs it.
        const taken = await Promise.all([
          a!.approvals.transition("apr_owned2", "scheduled", "approved"),
          b!.approvals.transition("apr_owned2", "scheduled", "approved"),
        ]);
        expect(taken.filter(Boolean)).toHaveLength(1);
        const after = await a!.approvals.get("apr_owned2");
        expect(after).toMatchObject({ state: "approved", decidedBy: "maria", decisionReason: "ok", owner: "brk_aaaaaaaaaa@a" });
        expect((await a!.approvals.scheduledFor("brk_aaaaaaaaaa@a")).map((r) => r.id)).toEqual(["apr_owned1"]);
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it("holds a call once, lets an approval through exactly once, and a denial stands", async () => {
      const harness = await fresh();
      const [a, b] = await Promise.all([harness.open(), harness.open()]);
      try {
        const now = new Date("2024-05-01T10:00:00Z");
        const call = {
          identity: "agent-a",
          tool: "run_query",
          arguments: { sql: "select 1" },
          rule: "tools.run_query",
          message: "needs a person",
          expiresAfterMs: 86_400_000,
        };
        const first = await Promise.all([a!.callApprovals.lookup(call, now), b!.callApprovals.lookup(call, now)]);
        expect(first[0]).toMatchObject({ state: "pending" });
        expect(first[1]).toEqual(first[0]);
        const id = first[0]!.id;
        expect(await b!.callApprovals.consume(id, now)).toBe(false);
        const decided = await b!.callApprovals.decide(id, "approved", "alice", "fine", now);
        expect(decided).toMatchObject({ ok: true, approval: { state: "approved", decidedBy: "alice" } });
        expect(await b!.callApprovals.decide(id, "denied", "bob", "late", now)).toMatchObject({ ok: false });
        expect(await a!.callApprovals.lookup(call, now)).toMatchObject({ state: "approved", id, by: "alice" });
        const used = await Promise.all([a!.callApprovals.consume(id, now), b!.callApprovals.consume(id, now)]);
        expect(used.filter(Boolean)).toHaveLength(1);
        // Used up: the same call asks again.
        const again = await a!.callApprovals.lookup(call, now);
        expect(again.state).toBe("pending");
        expect(again.id).not.toBe(id);
        expect(await a!.callApprovals.decide(again.id, "denied", "bob", "no", now)).toMatchObject({ ok: true });
        expect(await b!.callApprovals.lookup(call, now)).toMatchObject({ state: "denied", id: again.id, by: "bob", reason: "no" });
        expect((await a!.callApprovals.list(now)).map((r) => r.state).sort()).toEqual(["denied", "used"]);
        expect((await a!.callApprovals.get(id, new Date(now.getTime() + 86_400_000)))?.state).toBe("used");
        expect(await a!.callApprovals.get("apc_missing", now)).toBeUndefined();
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });
  });
}

export function cacheContract(name: string, fresh: FreshHarness): void {
  describe(`${name}: cache stores contract`, () => {
    it("stores, replaces and revalidates metadata responses byte for byte", async () => {
      const harness = await fresh();
      const [a, b] = await Promise.all([harness.open(), harness.open()]);
      try {
        const body = Buffer.from([0, 1, 2, 255, 10, 13]);
        await a!.httpCache.put({ url: "http://index/simple/demo/", fetchedAt: 1000, etag: '"x"', lastModified: undefined, contentType: "text/html", body });
        expect(await b!.httpCache.get("http://index/simple/demo/")).toEqual({
          url: "http://index/simple/demo/",
          fetchedAt: 1000,
          etag: '"x"',
          lastModified: undefined,
          contentType: "text/html",
          body,
        });
        await b!.httpCache.touch("http://index/simple/demo/", 2000);
        expect((await a!.httpCache.get("http://index/simple/demo/"))?.fetchedAt).toBe(2000);
        await a!.httpCache.put({
          url: "http://index/simple/demo/",
          fetchedAt: 3000,
          etag: undefined,
          lastModified: "yesterday",
          contentType: undefined,
          body: Buffer.from("new"),
        });
        expect(await b!.httpCache.get("http://index/simple/demo/")).toMatchObject({
          fetchedAt: 3000,
          etag: undefined,
          lastModified: "yesterday",
          body: Buffer.from("new"),
        });
        expect(await b!.httpCache.get("http://index/simple/other/")).toBeUndefined();
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it("keeps verified resolutions by key", async () => {
      const harness = await fresh();
      const stores = await harness.open();
      try {
        const wheels = [{ name: "demo", version: "1.0", path: "/state/wheels/demo-1.0-py3-none-any.whl", sha256: "c".repeat(64) }];
        expect(await stores.resolutions.get("k1")).toBeUndefined();
        await stores.resolutions.put("k1", wheels);
        expect(await stores.resolutions.get("k1")).toEqual(wheels);
        await stores.resolutions.put("k1", []);
        expect(await stores.resolutions.get("k1")).toEqual([]);
      } finally {
        await stores.close();
      }
    });
  });
}
