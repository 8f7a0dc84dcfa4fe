import { describe, expect, it } from "vitest";
import { bucketise, chooseUnit, kindOf, KINDS, summarise } from "../../src/audit/report-data.js";
import { createAuditLog, OUTCOMES, type AuditInput } from "../../src/audit/index.js";
import { openMemoryDb } from "../../src/state/db.js";

/** A mixed thirty-two requests over twelve minutes, the mix issue 20 saw misreported. */
async function mixedTwelveMinutes() {
  let now = new Date("2026-03-01T10:00:00Z");
  const log = createAuditLog(openMemoryDb(), { now: () => now });
  const add = async (minute: number, input: Partial<AuditInput> & Pick<AuditInput, "outcome">) => {
    now = new Date(Date.parse("2026-03-01T10:00:00Z") + minute * 60_000 + 5_000);
    await log.append({ identity: "agent", tool: "install_package", arguments: {}, environment: "default", package: "demo", ...input });
  };
  for (let i = 0; i < 4; i += 1) await add(0, { outcome: "installed" });
  for (let i = 0; i < 3; i += 1) await add(1, { outcome: "already-satisfied" });
  for (let i = 0; i < 6; i += 1) await add(3, { outcome: "denied", reason: "not on the allowlist: demo" });
  for (let i = 0; i < 5; i += 1) await add(4, { outcome: "invalid", reason: "not a requirement: demo @ x" });
  for (let i = 0; i < 7; i += 1) await add(6, { tool: "check_package", outcome: i % 2 === 0 ? "denied" : "allowed", reason: "dry run" });
  for (let i = 0; i < 2; i += 1) await add(8, { outcome: "rate-limited", reason: "rate limit: 10 per minute" });
  await add(9, { outcome: "timed-out" });
  await add(10, { tool: "echo", outcome: "forwarded", package: undefined });
  await add(10, { tool: "echo", outcome: "forwarded", package: undefined });
  await add(11, { outcome: "pending" });
  await add(11, { tool: "list_environments", outcome: "listed", package: undefined });
  return log.list();
}

describe("counting by kind", () => {
  it("gives every outcome a kind, and dry runs are never install refusals", () => {
    for (const outcome of OUTCOMES) expect(KINDS).toContain(kindOf({ outcome, tool: "install_package" }));
    expect(kindOf({ outcome: "denied", tool: "check_package" })).toBe("check");
    expect(kindOf({ outcome: "invalid", tool: "check_package" })).toBe("check");
    expect(kindOf({ outcome: "already-satisfied", tool: "install_package" })).toBe("already-satisfied");
    expect(kindOf({ outcome: "rejected", tool: "approvals deny" })).toBe("refused");
    expect(kindOf({ outcome: "forwarded", tool: "echo" })).toBe("gateway");
    expect(kindOf({ outcome: "interrupted", tool: "install_package" })).toBe("failed");
  });

  it("counts a mixed twelve minutes as what each request was, in one-minute bars", async () => {
    const records = await mixedTwelveMinutes();
    const data = summarise(records);
    expect(data.totals).toMatchObject({
      all: 32,
      installed: 4,
      "already-satisfied": 3,
      refused: 6,
      invalid: 5,
      "rate-limited": 2,
      failed: 1,
      gateway: 2,
      check: 7,
      approval: 1,
      other: 1,
    });
    // every request counted exactly once
    expect(KINDS.reduce((n, kind) => n + data.totals[kind], 0)).toBe(data.totals.all);
    expect(data.unit).toBe("minute");
    expect(data.buckets).toHaveLength(12);
    expect(data.buckets[0]).toMatchObject({ label: "2026-03-01 10:00Z", tick: "10:00" });
    expect(data.buckets[0]!.counts.installed).toBe(4);
    expect(data.buckets[2]!.counts).toEqual(Object.fromEntries(KINDS.map((k) => [k, 0])));
    expect(data.buckets[6]!.counts.check).toBe(7);
    expect(data.buckets.reduce((n, b) => n + KINDS.reduce((m, k) => m + b.counts[k], 0), 0)).toBe(32);
    // the refusal reasons hold refusals only: no dry run, no install
    expect(data.reasons.reduce((n, r) => n + r.count, 0)).toBe(6 + 5 + 2);
    expect(data.reasons.map((r) => r.kind)).not.toContain("dry run");
  });

  it("sizes buckets to the range shown, not to the records in it", async () => {
    const records = await mixedTwelveMinutes();
    const from = new Date("2026-03-01T00:00:00Z");
    const to = new Date("2026-03-02T00:00:00Z");
    const day = summarise(records, { range: { from, to } });
    expect(day.unit).toBe("hour");
    expect(day.buckets).toHaveLength(25);
    expect(day.buckets.find((b) => b.label === "2026-03-01 10:00Z")?.counts.installed).toBe(4);
    const month = summarise(records, { range: { from, to: new Date("2026-03-31T00:00:00Z") } });
    expect(month.unit).toBe("day");
    expect(month.buckets).toHaveLength(31);
  });

  it("chooses the finest unit under the bar limit", () => {
    expect(chooseUnit(0)).toBe("minute");
    expect(chooseUnit(12 * 60_000)).toBe("minute");
    expect(chooseUnit(3 * 3_600_000)).toBe("5 minutes");
    expect(chooseUnit(20 * 3_600_000)).toBe("15 minutes");
    expect(chooseUnit(3 * 86_400_000)).toBe("hour");
    expect(chooseUnit(20 * 86_400_000)).toBe("6 hours");
    expect(chooseUnit(60 * 86_400_000)).toBe("day");
    expect(chooseUnit(5 * 365 * 86_400_000)).toBe("week");
  });

  it("never draws more than a thousand bars, whatever unit is asked for", () => {
    const { unit, buckets } = bucketise([], { from: 0, to: 10 * 365 * 86_400_000 }, "minute");
    expect(unit).toBe("week");
    expect(buckets.length).toBeLessThanOrEqual(1001);
    const weeks = bucketise([], { from: Date.parse("2026-03-04T00:00:00Z"), to: Date.parse("2026-03-20T00:00:00Z") }, "week");
    // weeks start on Monday
    expect(weeks.buckets.map((b) => b.label)).toEqual(["week of 2026-03-02", "week of 2026-03-09", "week of 2026-03-16"]);
  });
});
