import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { createLimiter } from "../../src/ratelimit/limiter.js";
import { parsePolicy } from "../../src/config/policy-file.js";
import type { Policy } from "../../src/config/policy-file-schema.js";
import { createSqliteRateStore } from "../../src/ratelimit/store.js";
import { judgeWindow } from "../../src/ratelimit/window.js";
import { openMemoryDb, openStateDb } from "../../src/state/db.js";

const SEED = `{"version": "1", "default": "deny", "tools": {"install_package": {"limits": [{"counter": "install_package_rate", "window": "minute", "max": 10, "scope": "grant"}]}}}`;

function seedPolicy(): Policy {
  const parsed = parsePolicy(JSON.parse(SEED), "policy.json");
  if (!parsed.ok) throw new Error(parsed.issues.join("\n"));
  return parsed.policy;
}

/** A clock the test moves by hand. */
function manualClock(startMs = 0) {
  let now = startMs;
  return { now: () => new Date(now), set: (ms: number) => (now = ms) };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("policy file", () => {
  it("accepts the seed format verbatim, with the fail-closed default kept", () => {
    const policy = seedPolicy();
    expect(policy.default).toBe("deny");
    expect(policy.tools.install_package?.limits).toEqual([{ counter: "install_package_rate", window: "minute", max: 10, scope: "grant" }]);
  });

  it("names the place of every problem in one line each", () => {
    const parsed = parsePolicy(
      { version: "2", tools: { install_pakage: {}, check_package: { limits: [{ counter: "x", window: "week", max: 0 }], concurency: 2 } } },
      "policy.yaml",
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const text = parsed.issues.join("\n");
    expect(text).toContain('policy.yaml: version: version must be "1"');
    expect(text).toContain("policy.yaml: tools.install_pakage: unknown key; did you mean install_package?");
    expect(text).toMatch(/tools\.check_package\.limits\.0\.window/);
    expect(text).toMatch(/tools\.check_package\.limits\.0\.max/);
    expect(text).toMatch(/concurency/);
  });
});

describe("sliding window", () => {
  it("never admits more than max in any window-long span across the edge (10 at 59 s, then 61 s, 119 s)", async () => {
    const clock = manualClock();
    const limiter = createLimiter({ policy: seedPolicy(), store: createSqliteRateStore(openMemoryDb()), now: clock.now });
    clock.set(59_000);
    for (let i = 0; i < 10; i += 1) expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(true);
    // A fixed minute bucket would reset at 60 s and let ten more through at 61 s: the sliding log does not.
    clock.set(61_000);
    const refused = await limiter.admit("alice", "install_package", "default");
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.outcome).toBe("rate-limited");
    expect(refused.retryAt).toBe(new Date(119_000).toISOString());
    expect(refused.retryAfterSeconds).toBe(58);
    expect(refused.message).toContain("retry after 1970-01-01T00:01:59.000Z (in 58 s)");
    clock.set(118_999);
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(false);
    clock.set(119_000);
    for (let i = 0; i < 10; i += 1) expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(true);
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(false);
  });

  it("counts grants apart, and refused calls do not consume quota", async () => {
    const clock = manualClock(1_000_000);
    const store = createSqliteRateStore(openMemoryDb());
    const limiter = createLimiter({ policy: seedPolicy(), store, now: clock.now });
    for (let i = 0; i < 10; i += 1) await limiter.admit("alice", "install_package", "default");
    for (let i = 0; i < 5; i += 1) expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(false);
    expect((await limiter.admit("bob", "install_package", "default")).ok).toBe(true);
    expect(await store.events("install_package_rate|grant=alice", clock.now().getTime())).toHaveLength(10);
  });

  it("holds the invariant for any sequence of calls (property, against a brute-force check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 6 }), async (times, max) => {
        const policy: Policy = {
          version: "1",
          default: "deny",
          tools: { check_package: { limits: [{ counter: "c", window: "minute", max, scope: "grant" }] } },
        };
        const clock = manualClock();
        const limiter = createLimiter({ policy, store: createSqliteRateStore(openMemoryDb()), now: clock.now });
        const admitted: number[] = [];
        for (const t of [...times].sort((a, b) => a - b)) {
          clock.set(t);
          const inWindow = admitted.filter((at) => at > t - 60_000).length;
          const answer = await limiter.admit("g", "check_package", undefined);
          // Admitted exactly when fewer than max were admitted in (t - 60 s, t]: never more, never needlessly less.
          expect(answer.ok).toBe(inWindow < max);
          if (answer.ok) admitted.push(t);
          else expect(Date.parse(answer.retryAt ?? "")).toBeGreaterThan(t);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("computes the retry time from the event that must leave the window", () => {
    expect(judgeWindow([1000, 2000, 3000], 3000, { key: "k", windowMs: 60_000, max: 3 })).toEqual({ ok: false, count: 3, retryAt: 61_000 });
    expect(judgeWindow([1000, 2000, 3000], 3000, { key: "k", windowMs: 60_000, max: 2 })).toEqual({ ok: false, count: 3, retryAt: 62_000 });
    expect(judgeWindow([1000, 2000], 61_000, { key: "k", windowMs: 60_000, max: 2 })).toEqual({ ok: true, count: 1 });
  });

  it("keeps counts across a restart (a new store on the same state directory)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pipgate-rate-"));
    dirs.push(dir);
    const clock = manualClock(5_000_000);
    const first = openStateDb(dir);
    const before = createLimiter({ policy: seedPolicy(), store: createSqliteRateStore(first), now: clock.now });
    for (let i = 0; i < 10; i += 1) expect((await before.admit("alice", "install_package", "default")).ok).toBe(true);
    first.close();
    const second = openStateDb(dir);
    const after = createLimiter({ policy: seedPolicy(), store: createSqliteRateStore(second), now: clock.now });
    expect((await after.admit("alice", "install_package", "default")).ok).toBe(false);
    second.close();
  });

  it("applies hour and day windows, environment scopes and the tightest refusal's retry time", async () => {
    const policy: Policy = {
      version: "1",
      default: "deny",
      tools: {
        install_package: {
          limits: [
            { counter: "per-env", window: "hour", max: 3, scope: "environment" },
            { counter: "per-grant-day", window: "day", max: 4, scope: "grant+environment" },
          ],
        },
      },
    };
    const clock = manualClock(0);
    const limiter = createLimiter({ policy, store: createSqliteRateStore(openMemoryDb()), now: clock.now });
    expect((await limiter.admit("a", "install_package", "prod")).ok).toBe(true);
    expect((await limiter.admit("b", "install_package", "prod")).ok).toBe(true);
    expect((await limiter.admit("c", "install_package", "prod")).ok).toBe(true);
    const full = await limiter.admit("d", "install_package", "prod");
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.message).toContain('environment "prod"');
    expect((await limiter.admit("d", "install_package", "dev")).ok).toBe(true);
    clock.set(3_600_000);
    expect((await limiter.admit("a", "install_package", "prod")).ok).toBe(true);
    clock.set(3_600_001);
    expect((await limiter.admit("a", "install_package", "prod")).ok).toBe(true);
    expect((await limiter.admit("a", "install_package", "prod")).ok).toBe(true);
    clock.set(7_200_001);
    const day = await limiter.admit("a", "install_package", "prod");
    expect(day.ok).toBe(false);
    if (!day.ok) expect(day.retryAt).toBe(new Date(86_400_000).toISOString());
  });
});

describe("policy default and concurrency", () => {
  it("refuses tools the policy does not name under default deny, and allows them under default allow", async () => {
    const store = createSqliteRateStore(openMemoryDb());
    const deny = createLimiter({ policy: seedPolicy(), store, now: () => new Date() });
    const refused = await deny.admit("alice", "list_environments", undefined);
    expect(refused).toMatchObject({ ok: false, outcome: "denied" });
    const allow = createLimiter({ policy: { ...seedPolicy(), default: "allow" }, store, now: () => new Date() });
    expect((await allow.admit("alice", "list_environments", undefined)).ok).toBe(true);
  });

  it("caps calls running at once per grant, and a release frees the slot", async () => {
    const policy: Policy = { version: "1", default: "deny", tools: { install_package: { limits: [], concurrency: 2 } } };
    const limiter = createLimiter({ policy, store: createSqliteRateStore(openMemoryDb()), now: () => new Date() });
    const one = await limiter.admit("alice", "install_package", "default");
    const two = await limiter.admit("alice", "install_package", "default");
    expect(one.ok && two.ok).toBe(true);
    const three = await limiter.admit("alice", "install_package", "default");
    expect(three).toMatchObject({ ok: false, outcome: "rate-limited" });
    expect((await limiter.admit("bob", "install_package", "default")).ok).toBe(true);
    if (one.ok) {
      await one.release();
      await one.release();
    }
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(true);
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(false);
  });

  it("lets a grant's own limits replace the policy's for the tools it names", async () => {
    const clock = manualClock(0);
    const limiter = createLimiter({
      policy: seedPolicy(),
      store: createSqliteRateStore(openMemoryDb()),
      now: clock.now,
      grantTools: (identity) =>
        identity === "ci" ? { install_package: { limits: [{ counter: "ci", window: "minute", max: 1, scope: "grant" }] } } : undefined,
    });
    expect((await limiter.admit("ci", "install_package", "default")).ok).toBe(true);
    expect((await limiter.admit("ci", "install_package", "default")).ok).toBe(false);
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(true);
    expect((await limiter.admit("alice", "install_package", "default")).ok).toBe(true);
  });
});
