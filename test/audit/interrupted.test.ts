import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closeInterrupted, currentBroker } from "../../src/audit/interrupted.js";
import { createAuditLog, type AuditLog, type BrokerProcess, type IntentInput } from "../../src/audit/index.js";
import { insertJournal, journalsOf, setJournalState, type JournalState } from "../../src/commit/journal.js";
import { isProcessAlive as isAlive, processStart } from "../../src/state/process.js";
import { openStateDb, type Db } from "../../src/state/db.js";

// A broker that has ended: a real process that ran and exited, so its pid names nobody (or someone
// younger, which its start time tells apart).
async function endedBroker(): Promise<BrokerProcess> {
  const child = execa("sleep", ["0.2"]);
  const pid = child.pid ?? 0;
  const start = await processStart(pid);
  await child;
  return { pid, start, host: (await currentBroker()).host };
}

function intentFor(requestId: string, broker: BrokerProcess): IntentInput {
  return {
    identity: "agent-a",
    tool: "install_package",
    environment: "main",
    package: "demo",
    arguments: { package_name: "demo" },
    reason: "started: a sandbox run",
    request: { requestId, requirement: "demo", upgrade: false, timeout: 300 },
    broker,
  };
}

describe("closing interrupted requests at start-up", () => {
  let dir: string;
  let db: Db;
  let log: AuditLog;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pipgate-interrupted-"));
    db = openStateDb(join(dir, "state"));
    log = createAuditLog(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const journal = (auditId: string, state: JournalState) => {
    const id = `j-${auditId}`;
    insertJournal(db, { id, environment: "main", audit_id: auditId, started_at: new Date().toISOString(), backup_dir: join(dir, id) });
    setJournalState(db, id, state);
    return id;
  };
  const close = (recoveries: Parameters<typeof closeInterrupted>[1] = []) =>
    closeInterrupted({ audit: log, journalsOf: (requestId) => journalsOf(db, requestId), isAlive }, recoveries);

  it("a dead broker's intent gets one interrupted outcome saying what recovery found; a live one's stays open", async () => {
    const dead = await endedBroker();
    expect(await isAlive(dead)).toBe(false);
    const live = await currentBroker();
    await log.appendIntent(intentFor("req_none", dead));
    await log.appendIntent(intentFor("req_done", dead));
    await log.appendIntent(intentFor("req_failed", dead));
    await log.appendIntent(intentFor("req_restored", dead));
    await log.appendIntent(intentFor("req_live", live));
    journal("req_done", "done");
    journal("req_failed", "rolled-back");
    const restoredJournal = journal("req_restored", "rolled-back");

    const written = await close([{ journalId: restoredJournal, environment: "main", auditId: "req_restored", restored: true, action: "rolled-back" }]);
    const found = Object.fromEntries(written.map((r) => [(r.request as { requestId: string }).requestId, r.recovery?.found]));
    expect(found).toEqual({ req_none: "nothing to do", req_done: "completed", req_failed: "rolled back", req_restored: "rolled back" });
    for (const record of written) {
      expect(record).toMatchObject({ outcome: "interrupted", identity: "agent-a", tool: "install_package", environment: "main", package: "demo" });
      expect(record.reason).toMatch(new RegExp(`broker pid ${dead.pid} ended .*recovery found: ${record.recovery?.found ?? "?"}`));
    }
    expect((await log.openIntents()).map((r) => (r.request as { requestId: string }).requestId)).toEqual(["req_live"]);

    // A second start-up finds nothing more to close: exactly one outcome per request.
    expect(await close()).toEqual([]);
    const perRequest = new Map<string, number>();
    for (const record of await log.list()) {
      const id = (record.request as { requestId: string }).requestId;
      perRequest.set(id, (perRequest.get(id) ?? 0) + 1);
    }
    expect([...perRequest.values()].every((n) => n === 1)).toBe(true);
    expect(perRequest.has("req_live")).toBe(false);
    expect((await log.verify()).ok).toBe(true);
  });

  it("on a shared chain closes only its own broker's dead intents: another broker's, on a same-named host, stay open", async () => {
    const dead = await endedBroker();
    const mine = "brk_aaaaaaaaaa@host";
    // The same host name and a pid that names nobody here: a container of another broker, not provably dead.
    await log.appendIntent(intentFor("req_theirs", { ...dead, id: "brk_bbbbbbbbbb@host" }));
    await log.appendIntent(intentFor("req_mine", { ...dead, id: mine }));
    await log.appendIntent(intentFor("req_legacy", dead));
    const written = await closeInterrupted({ audit: log, journalsOf: (requestId) => journalsOf(db, requestId), isAlive, brokerId: mine }, []);
    expect(written.map((r) => (r.request as { requestId: string }).requestId).sort()).toEqual(["req_legacy", "req_mine"]);
    expect((await log.openIntents()).map((r) => (r.request as { requestId: string }).requestId)).toEqual(["req_theirs"]);
    // Its own broker, starting again, closes it.
    const theirs = await closeInterrupted({ audit: log, journalsOf: (requestId) => journalsOf(db, requestId), isAlive, brokerId: "brk_bbbbbbbbbb@host" }, []);
    expect(theirs.map((r) => r.outcome)).toEqual(["interrupted"]);
    expect(await log.openIntents()).toEqual([]);
  });

  it("a recovered commit without an intent gets one outcome, and a later restore of a closed request its own record", async () => {
    const first = await close([{ journalId: "j-old", environment: "main", auditId: "old-request", restored: false, error: "environment gone" }]);
    expect(first).toEqual([
      expect.objectContaining({
        outcome: "interrupted",
        tool: "recovery",
        request: { requestId: "old-request" },
        recovery: expect.objectContaining({ found: "not restored" }),
      }),
    ]);
    const second = await close([{ journalId: "j-old", environment: "main", auditId: "old-request", restored: true, action: "rolled-back" }]);
    expect(second).toEqual([
      expect.objectContaining({ outcome: "rolled-back", tool: "recovery", request: expect.objectContaining({ recovers: "old-request" }) }),
    ]);
    expect(await log.list({ outcome: "interrupted" })).toHaveLength(1);
  });
});
