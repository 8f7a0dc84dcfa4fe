import { describe, expect, it } from "vitest";
import { createAuditLog, GENESIS_HASH, recordHash, type AuditRecord } from "../../src/audit/index.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { openMemoryDb } from "../../src/state/db.js";
import { SAMPLE_INPUTS, seed, steppingClock } from "./seed.js";

describe("audit store", () => {
  it("appends records that chain from 64 zeros, with a recomputable hash", async () => {
    const log = createAuditLog(openMemoryDb(), { now: steppingClock("2024-05-01T10:00:00Z", 60_000).now });
    await seed(log);
    const records = await log.list();
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(records[0]?.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < records.length; i += 1) expect(records[i]?.prevHash).toBe(records[i - 1]?.hash);
    const first = records[0]!;
    // The hash is reproducible from the documented recipe alone.
    const { seq, id, time, identity, tool, outcome, prevHash, hash, environment, package: pkg, ...rest } = first;
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
    expect(await log.verify()).toEqual({ ok: true, count: 8, head: records[7]?.hash });
    expect(await log.count()).toBe(8);
  });

  it("returns what it stored: append's record equals get's, ids sort by time", async () => {
    const log = createAuditLog(openMemoryDb(), { now: steppingClock("2024-05-01T10:00:00Z", 1).now });
    const appended: AuditRecord[] = [];
    for (const input of SAMPLE_INPUTS) appended.push(await log.append(input));
    for (const record of appended) expect(await log.get(record.id)).toEqual(record);
    const ids = appended.map((r) => r.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(appended[0]).toMatchObject({
      identity: "agent-a",
      package: "requests",
      outcome: "installed",
      resolved: SAMPLE_INPUTS[0]?.resolved,
      sandbox: SAMPLE_INPUTS[0]?.sandbox,
    });
    // package names are stored normalised
    expect(appended[2]?.package).toBe("numpy");
  });

  it("commits the appends of one event-loop turn together, each chained, each answered after the commit", async () => {
    const db = openMemoryDb();
    const log = createAuditLog(db);
    const input = (identity: string) => ({ identity, tool: "install_package", outcome: "denied" as const, arguments: {} });
    const appended = Array.from({ length: 40 }, (_, i) => log.append(input(`agent-${String(i)}`)));
    // Nothing is written before the turn ends; then all of them, in call order, in one chain.
    expect(db.prepare("SELECT count(*) AS n FROM audit").get()).toEqual({ n: 0 });
    const records = await Promise.all(appended);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(records.map((r) => r.identity)).toEqual(Array.from({ length: 40 }, (_, i) => `agent-${String(i)}`));
    for (const record of records) expect(await log.get(record.id)).toEqual(record);
    expect(await log.verify()).toMatchObject({ ok: true, count: 40 });
  });

  it("fails only the record that cannot be written when a batch fails; the others land in one intact chain", async () => {
    const db = openMemoryDb();
    db.exec("CREATE TRIGGER refuse_boom BEFORE INSERT ON audit WHEN NEW.identity = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
    const log = createAuditLog(db);
    const input = (identity: string) => ({ identity, tool: "install_package", outcome: "denied" as const, arguments: {} });
    const settled = await Promise.allSettled([log.append(input("first")), log.append(input("boom")), log.append(input("last"))]);
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toContain("boom refused");
    expect((await log.list()).map((r) => [r.seq, r.identity])).toEqual([
      [1, "first"],
      [2, "last"],
    ]);
    expect(await log.verify()).toMatchObject({ ok: true, count: 2 });
    // Alone, a failing record fails the same way, and nothing is written.
    await expect(log.append(input("boom"))).rejects.toThrow(/boom refused/);
    expect(await log.count()).toBe(2);
  });

  it("finds records by unique id prefix, and says when a prefix is ambiguous", async () => {
    const log = createAuditLog(openMemoryDb(), { now: () => new Date("2024-05-01T10:00:00Z") });
    const a = await log.append(SAMPLE_INPUTS[0]!);
    const b = await log.append(SAMPLE_INPUTS[1]!);
    // Same millisecond: the ids share their 10-character time prefix.
    expect(await log.lookup(a.id.slice(0, 14))).toEqual({ ok: false, reason: "ambiguous", matches: [a.id, b.id] });
    let unique = 15;
    while (a.id.slice(0, unique) === b.id.slice(0, unique)) unique += 1;
    expect(await log.get(a.id.slice(0, unique))).toEqual(a);
    expect(await log.get(a.id.slice(4, unique))).toEqual(a);
    expect(await log.lookup("aud_ZZZZ")).toEqual({ ok: false, reason: "not-found" });
    expect(await log.get("")).toBeUndefined();
  });

  it("filters by time, identity, environment, package, outcome, tool; orders and limits", async () => {
    const clock = steppingClock("2024-05-01T10:00:00Z", 3_600_000); // one record an hour
    const log = createAuditLog(openMemoryDb(), { now: clock.now });
    await seed(log);
    const ids = async (filter: Parameters<typeof log.list>[0]) => (await log.list(filter)).map((r) => r.seq);
    expect(await ids({ identity: "agent-a" })).toEqual([1, 3, 5, 8]);
    expect(await ids({ environment: "data" })).toEqual([3, 5]);
    expect(await ids({ package: "NumPy" })).toEqual([3]);
    expect(await ids({ package: "Re.Quests" })).toEqual([]);
    expect(await ids({ package: "requests" })).toEqual([1]);
    expect(await ids({ outcome: "denied" })).toEqual([2, 3]);
    expect(await ids({ outcome: ["denied", "invalid", "rate-limited"] })).toEqual([2, 3, 4, 7]);
    expect(await ids({ tool: "list_environments" })).toEqual([6]);
    expect(await ids({ since: "2024-05-01T12:00:00Z" })).toEqual([3, 4, 5, 6, 7, 8]);
    expect(await ids({ since: new Date("2024-05-01T12:00:00Z"), until: "2024-05-01T14:00:00Z" })).toEqual([3, 4]);
    expect(await ids({ identity: "agent-a", outcome: "denied" })).toEqual([3]);
    expect(await ids({ order: "desc", limit: 3 })).toEqual([8, 7, 6]);
    expect(await ids({ limit: 2 })).toEqual([1, 2]);
    const iterated: number[] = [];
    for await (const record of log.iterate({ identity: "agent-b" })) iterated.push(record.seq);
    expect(iterated).toEqual([2, 4]);
    expect((await log.after(5)).map((r) => r.seq)).toEqual([6, 7, 8]);
    expect((await log.after(5, { identity: "agent-a" })).map((r) => r.seq)).toEqual([8]);
    expect(await log.count({ outcome: "denied" })).toBe(2);
  });

  it("takes relative times back from its clock", async () => {
    const clock = steppingClock("2024-05-01T00:00:00Z", 86_400_000); // one record a day
    const log = createAuditLog(openMemoryDb(), { now: clock.now });
    await seed(log); // 8 records, 2024-05-01 .. 2024-05-08; the clock now reads 2024-05-09
    expect((await log.list({ since: "3d" })).map((r) => r.seq)).toEqual([6, 7, 8]);
    await expect(log.list({ since: "yesterday" })).rejects.toThrow(/not a time/);
  });

  it("refuses a record that does not match the schema instead of storing garbage", async () => {
    const log = createAuditLog(openMemoryDb());
    await expect(log.append({ identity: "", tool: "x", outcome: "installed", arguments: {} })).rejects.toThrow(/invalid audit record/);
    await expect(log.append({ identity: "a", tool: "x", outcome: "exploded" as never, arguments: {} })).rejects.toThrow(/invalid audit record/);
    expect(await log.count()).toBe(0);
    expect(await log.verify()).toEqual({ ok: true, count: 0, head: GENESIS_HASH });
  });
});
