import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuditLog, recordHash, type AuditRecord, type StoredRow } from "../../src/audit/index.js";
import { openStateDb, type Db } from "../../src/state/db.js";
import { SAMPLE_INPUTS, seed, steppingClock } from "./seed.js";

// Every tampering here is done the way an intruder with the database file would do it: plain SQL on the
// on-disk database through a second connection, never through pipgate's own code.
describe("tamper detection on an on-disk log", () => {
  let dir: string;
  let records: AuditRecord[];
  let intruder: Db;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "pipgate-audit-tamper-"));
    const db = openStateDb(dir);
    const log = createAuditLog(db, { now: steppingClock("2024-05-01T10:00:00Z", 60_000).now });
    await seed(log);
    records = await log.list();
    expect(await log.verify()).toMatchObject({ ok: true, count: SAMPLE_INPUTS.length });
    db.close();
    intruder = openStateDb(dir);
  });

  afterEach(() => {
    intruder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh process's view: reopen the file and verify. */
  async function verifyFromDisk() {
    const db = openStateDb(dir);
    try {
      return await createAuditLog(db).verify();
    } finally {
      db.close();
    }
  }
  const idAt = (seq: number) => records[seq - 1]!.id;

  it("names a record whose body was edited", async () => {
    const changed = intruder.prepare("UPDATE audit SET body = replace(body, 'not on the allowlist', 'allowed') WHERE seq = 2").run();
    expect(changed.changes).toBe(1);
    const result = await verifyFromDisk();
    expect(result).toMatchObject({ ok: false, count: 8, firstBad: { seq: 2, id: idAt(2), problem: "edited" } });
  });

  it("names a record whose indexed column was edited (outcome denied → installed)", async () => {
    intruder.prepare("UPDATE audit SET outcome = 'installed' WHERE seq = 3").run();
    expect(await verifyFromDisk()).toMatchObject({ ok: false, firstBad: { seq: 3, id: idAt(3), problem: "edited" } });
  });

  it("names the edited record even when the intruder recomputed its hash", async () => {
    const row = intruder.prepare<[], StoredRow>("SELECT * FROM audit WHERE seq = 2").get()!;
    const forged = { ...row, outcome: "installed" };
    intruder.prepare("UPDATE audit SET outcome = ?, hash = ? WHERE seq = 2").run("installed", recordHash(forged));
    const result = await verifyFromDisk();
    expect(result).toMatchObject({ ok: false, firstBad: { seq: 2, id: idAt(2), problem: "edited" } });
    expect(result.ok ? "" : result.firstBad.detail).toMatch(/hash recomputed/);
  });

  it("names the record after the gap when one is deleted", async () => {
    intruder.prepare("DELETE FROM audit WHERE seq = 4").run();
    const result = await verifyFromDisk();
    expect(result).toMatchObject({ ok: false, count: 7, firstBad: { seq: 5, id: idAt(5), problem: "deleted" } });
    expect(result.ok ? "" : result.firstBad.detail).toMatch(/seq 4 is missing/);
  });

  it("notices when the first record is deleted", async () => {
    intruder.prepare("DELETE FROM audit WHERE seq = 1").run();
    expect(await verifyFromDisk()).toMatchObject({ ok: false, firstBad: { seq: 2, id: idAt(2), problem: "deleted" } });
  });

  it("calls two rows with exchanged contents reordered and names the first of them", async () => {
    // Exchange everything but the seq between rows 3 and 6 (ids are UNIQUE, so park them first).
    intruder.exec(`
      CREATE TEMP TABLE parked AS SELECT * FROM audit WHERE seq IN (3, 6);
      UPDATE audit SET id = 'parked-' || id WHERE seq IN (3, 6);
      UPDATE audit SET (id, time, identity, tool, environment, package, outcome, body, prev_hash, hash) =
        (SELECT id, time, identity, tool, environment, package, outcome, body, prev_hash, hash FROM parked
          WHERE parked.seq = CASE audit.seq WHEN 3 THEN 6 ELSE 3 END)
        WHERE seq IN (3, 6);
    `);
    expect(intruder.prepare<[], { id: string }>("SELECT id FROM audit WHERE seq = 3").get()?.id).toBe(idAt(6));
    const result = await verifyFromDisk();
    // Walking in seq order, the first misplaced record is the one now at seq 3: record 6's content.
    expect(result).toMatchObject({ ok: false, count: 8, firstBad: { seq: 3, id: idAt(6), problem: "reordered" } });
    expect(result.ok ? "" : result.firstBad.detail).toContain(`belongs at seq 6; it changed places with record ${idAt(3)}`);
  });

  it("calls two rows with exchanged seq numbers reordered", async () => {
    intruder.exec(`
      UPDATE audit SET seq = -1 WHERE seq = 4;
      UPDATE audit SET seq = 4 WHERE seq = 5;
      UPDATE audit SET seq = 5 WHERE seq = -1;
    `);
    const result = await verifyFromDisk();
    expect(result).toMatchObject({ ok: false, firstBad: { seq: 4, id: idAt(5), problem: "reordered" } });
    expect(result.ok ? "" : result.firstBad.detail).toContain(`it changed places with record ${idAt(4)}`);
  });

  it("names a forged record inserted in the middle, with the later rows renumbered", async () => {
    intruder.exec("UPDATE audit SET seq = seq + 1000 WHERE seq > 4; UPDATE audit SET seq = seq - 999 WHERE seq > 1000;");
    const before = intruder.prepare<[], StoredRow>("SELECT * FROM audit WHERE seq = 4").get()!;
    const forged = {
      seq: 5,
      id: "aud_01HXXXXXXXXXXXXXXXXXXXXXXX",
      time: "2024-05-01T10:04:30.000Z",
      identity: "agent-a",
      tool: "install_package",
      environment: "default",
      package: "evil",
      outcome: "installed",
      body: "{}",
      prev_hash: before.hash,
    };
    intruder
      .prepare("INSERT INTO audit VALUES (@seq, @id, @time, @identity, @tool, @environment, @package, @outcome, @body, @prev_hash, @hash)")
      .run({ ...forged, hash: recordHash(forged) });
    const result = await verifyFromDisk();
    expect(result).toMatchObject({ ok: false, count: 9, firstBad: { seq: 5, id: forged.id, problem: "inserted" } });
  });

  it("keeps one chain when three processes append to the same file at once", async () => {
    intruder.close();
    const { execa } = await import("execa");
    const script = join(import.meta.dirname, "append-worker.ts");
    const runs = ["p1", "p2", "p3"].map((name) => execa("npx", ["vite-node", script, dir, name, "150"], { cwd: join(import.meta.dirname, "../..") }));
    const results = await Promise.all(runs);
    for (const run of results) expect(run.stdout.trim()).toMatch(/^appended 150$/m);
    intruder = openStateDb(dir);
    const log = createAuditLog(intruder);
    expect(await log.verify()).toMatchObject({ ok: true, count: 8 + 450 });
    for (const name of ["p1", "p2", "p3"]) expect(await log.count({ identity: name })).toBe(150);
  });
});
