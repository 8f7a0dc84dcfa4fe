import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCallApprovalStore } from "../../src/approvals/index.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { parsePolicy } from "../../src/config/policy-file.js";
import type { Policy } from "../../src/config/policy-file-schema.js";
import { createLimiter } from "../../src/ratelimit/limiter.js";
import { createSqliteRateStore } from "../../src/ratelimit/store.js";
import { openStateDb, type Db } from "../../src/state/db.js";

const dirs: string[] = [];
const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openDb(): Db {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-call-approvals-"));
  dirs.push(dir);
  const db = openStateDb(dir);
  dbs.push(db);
  return db;
}

const POLICY = {
  version: "1",
  default: "deny",
  // how long a held call's request stays open, and its approval usable
  approval: { expires_after_hours: 1 },
  tools: {
    run_python_code: { action: "approval", limits: [{ counter: "runs", window: "minute", max: 2, scope: "grant" }] },
    write_file: {
      conditions: [
        { name: "no-overwrite", argument: "overwrite", equals: false, optional: true, action: "approval" },
        { argument: "file_path", prefix: "/srv/work" },
      ],
    },
    install_package: { limits: [{ counter: "installs", window: "minute", max: 10, scope: "grant" }] },
  },
};

function policy(): Policy {
  const parsed = parsePolicy(POLICY, "policy.json", { gateway: true });
  if (!parsed.ok) throw new Error(parsed.issues.join("\n"));
  return parsed.policy;
}

function setup(db: Db = openDb()) {
  let now = Date.parse("2026-03-01T10:00:00Z");
  const clock = { now: () => new Date(now), advance: (ms: number) => (now += ms) };
  const calls = createCallApprovalStore(db, { canonical: canonicalJson });
  const limiter = createLimiter({ policy: policy(), store: createSqliteRateStore(db), now: clock.now, callApprovals: calls });
  return { db, clock, calls, limiter };
}

describe("a held tool call, approved over a real state database", () => {
  it("is pending first, admitted exactly once after approval, and pending again after", async () => {
    const { clock, calls, limiter } = setup();
    const args = { code: "print(1)", session_id: "a" };
    const first = await limiter.admit("alice", "run_python_code", undefined, args);
    expect(first).toMatchObject({ ok: false, outcome: "pending", rule: "tools.run_python_code.action" });
    if (first.ok || first.outcome !== "pending") return;
    const id = first.approval.id;
    expect(id).toMatch(/^apc_[a-z2-9]{10}$/);
    expect(first.message).toContain(`pipgate approvals approve ${id}`);
    // asking again before anyone decided names the same request: no duplicates
    expect(await limiter.admit("alice", "run_python_code", undefined, { session_id: "a", code: "print(1)" })).toMatchObject({
      outcome: "pending",
      approval: { id },
    });
    expect(await calls.list(clock.now(), ["pending"])).toHaveLength(1);
    // no quota was spent while refused: both window slots are still free after approval
    expect(await calls.decide(id, "approved", "carol", "looks fine", clock.now())).toMatchObject({
      ok: true,
      approval: { state: "approved", decidedBy: "carol" },
    });

    // another identity, or other arguments, are not covered by this approval
    expect(await limiter.admit("bob", "run_python_code", undefined, args)).toMatchObject({ ok: false, outcome: "pending" });
    expect(await limiter.admit("alice", "run_python_code", undefined, { ...args, code: "print(2)" })).toMatchObject({ ok: false, outcome: "pending" });

    const admitted = await limiter.admit("alice", "run_python_code", undefined, args);
    expect(admitted).toMatchObject({ ok: true, approval: { id } });
    if (admitted.ok) await admitted.release();
    expect(await calls.get(id, clock.now())).toMatchObject({ state: "used" });
    const again = await limiter.admit("alice", "run_python_code", undefined, args);
    expect(again).toMatchObject({ ok: false, outcome: "pending" });
    if (!again.ok && again.outcome === "pending") expect(again.approval.id).not.toBe(id);
  });

  it("refuses a denied call naming who denied it and when, until the request expires", async () => {
    const { clock, calls, limiter } = setup();
    const args = { file_path: "/srv/work/a.txt", content: "x", overwrite: true };
    const held = await limiter.admit("alice", "write_file", undefined, args);
    expect(held).toMatchObject({
      ok: false,
      outcome: "pending",
      rule: "no-overwrite",
      message: expect.stringMatching(/held for approval by policy rule "no-overwrite"/),
    });
    if (held.ok || held.outcome !== "pending") return;
    clock.advance(60_000);
    expect((await calls.decide(held.approval.id, "denied", "dave", "keep the old file", clock.now())).ok).toBe(true);
    const refused = await limiter.admit("alice", "write_file", undefined, args);
    expect(refused).toMatchObject({ ok: false, outcome: "rejected" });
    if (!refused.ok) expect(refused.message).toContain(`dave denied this call (approval ${held.approval.id}) at 2026-03-01T10:01:00.000Z: keep the old file`);
    // a second decision on a decided request is refused, naming the first
    expect(await calls.decide(held.approval.id, "approved", "erin", "changed my mind", clock.now())).toMatchObject({
      ok: false,
      error: expect.stringMatching(/is denied by dave/),
    });
    clock.advance(3_600_000);
    expect(await limiter.admit("alice", "write_file", undefined, args)).toMatchObject({ ok: false, outcome: "pending" });
  });

  it("an approval expires unused, and a deny condition is never turned into a question", async () => {
    const { clock, calls, limiter } = setup();
    const args = { code: "x" };
    const held = await limiter.admit("alice", "run_python_code", undefined, args);
    if (held.ok || held.outcome !== "pending") throw new Error("expected pending");
    expect((await calls.decide(held.approval.id, "approved", "carol", "ok", clock.now())).ok).toBe(true);
    clock.advance(3_600_001);
    expect(await calls.get(held.approval.id, clock.now())).toMatchObject({ state: "expired" });
    expect(await limiter.admit("alice", "run_python_code", undefined, args)).toMatchObject({ ok: false, outcome: "pending" });
    expect((await calls.decide(held.approval.id, "approved", "carol", "late", clock.now())).ok).toBe(false);
    expect(await limiter.admit("alice", "write_file", undefined, { file_path: "/etc/passwd", content: "x", overwrite: true })).toMatchObject({
      ok: false,
      outcome: "denied",
      rule: "tools.write_file.conditions[1]",
    });
  });

  it("an approved call that is rate limited keeps its approval for the retry", async () => {
    const { clock, calls, limiter } = setup();
    const approve = async (args: unknown) => {
      const held = await limiter.admit("alice", "run_python_code", undefined, args);
      if (held.ok || held.outcome !== "pending") throw new Error("expected pending");
      expect((await calls.decide(held.approval.id, "approved", "carol", "ok", clock.now())).ok).toBe(true);
      return held.approval.id;
    };
    await approve({ n: 1 });
    await approve({ n: 2 });
    const third = await approve({ n: 3 });
    expect((await limiter.admit("alice", "run_python_code", undefined, { n: 1 })).ok).toBe(true);
    expect((await limiter.admit("alice", "run_python_code", undefined, { n: 2 })).ok).toBe(true);
    expect(await limiter.admit("alice", "run_python_code", undefined, { n: 3 })).toMatchObject({ ok: false, outcome: "rate-limited" });
    expect(await calls.get(third, clock.now())).toMatchObject({ state: "approved" });
    clock.advance(61_000);
    expect(await limiter.admit("alice", "run_python_code", undefined, { n: 3 })).toMatchObject({ ok: true, approval: { id: third } });
  });

  it("survives a reopen of the database, and without an approval store a held call is refused", async () => {
    const db = openDb();
    const first = setup(db);
    const held = await first.limiter.admit("alice", "run_python_code", undefined, { code: "y" });
    if (held.ok || held.outcome !== "pending") throw new Error("expected pending");
    expect((await first.calls.decide(held.approval.id, "approved", "carol", "ok", first.clock.now())).ok).toBe(true);
    const second = setup(db);
    expect(await second.limiter.admit("alice", "run_python_code", undefined, { code: "y" })).toMatchObject({ ok: true, approval: { id: held.approval.id } });

    const bare = createLimiter({ policy: policy(), store: createSqliteRateStore(db), now: () => new Date() });
    expect(await bare.admit("alice", "run_python_code", undefined, { code: "z" })).toMatchObject({
      ok: false,
      outcome: "denied",
      message: expect.stringMatching(/no approval queue/),
    });
    // the seed-style tool still works as before, without arguments
    expect((await bare.admit("alice", "install_package", "default")).ok).toBe(true);
  });

  it("keeps at most 64 KB of the arguments for the approver, and binds the hash to all of them", async () => {
    const { clock, calls, limiter } = setup();
    const big = { code: "x".repeat(100_000) };
    const held = await limiter.admit("alice", "run_python_code", undefined, big);
    if (held.ok || held.outcome !== "pending") throw new Error("expected pending");
    const row = await calls.get(held.approval.id, clock.now());
    expect(row?.argumentsTruncated).toBe(true);
    expect(row?.arguments.length).toBe(64 * 1024);
    expect((await calls.decide(held.approval.id, "approved", "carol", "ok", clock.now())).ok).toBe(true);
    expect(await limiter.admit("alice", "run_python_code", undefined, { code: `${"x".repeat(99_999)}y` })).toMatchObject({ ok: false, outcome: "pending" });
    expect((await limiter.admit("alice", "run_python_code", undefined, big)).ok).toBe(true);
  });
});
