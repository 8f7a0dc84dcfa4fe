import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentBroker } from "../../src/audit/interrupted.js";
import { createAuditLog, summarise, type AuditLog, type BrokerProcess, type IntentInput } from "../../src/audit/index.js";
import { runAudit } from "../../src/cli/audit.js";
import { openStateDb, type Db } from "../../src/state/db.js";
import { capture } from "../support/cli-io.js";

function intentFor(requestId: string, broker: BrokerProcess, env = "main"): IntentInput {
  return {
    identity: "agent-a",
    tool: "install_package",
    environment: env,
    package: "demo",
    arguments: { package_name: "demo" },
    reason: "started: a sandbox run",
    request: { requestId, requirement: "demo", upgrade: false, timeout: 300 },
    broker,
  };
}

describe("intent records", () => {
  let dir: string;
  let db: Db;
  let log: AuditLog;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pipgate-intents-"));
    db = openStateDb(join(dir, "state"));
    log = createAuditLog(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("are in the chain, committed before appendIntent returns, and hidden from queries unless asked", async () => {
    const intent = await log.appendIntent(intentFor("req_1", await currentBroker()));
    expect(intent).toMatchObject({ seq: 1, outcome: "intent", broker: { pid: process.pid } });
    // Another connection (another process would see the same) reads it at once: it is committed.
    const other = openStateDb(join(dir, "state"));
    try {
      expect(other.prepare("SELECT outcome FROM audit WHERE id = ?").get(intent.id)).toEqual({ outcome: "intent" });
    } finally {
      other.close();
    }
    expect(db.pragma("synchronous", { simple: true })).toBe(1); // NORMAL again after the synced intent
    const outcome = await log.append({
      identity: "agent-a",
      tool: "install_package",
      environment: "main",
      package: "demo",
      outcome: "installed",
      arguments: {},
      request: { requestId: "req_1", intent: intent.id },
    });
    expect((await log.list()).map((r) => r.outcome)).toEqual(["installed"]);
    expect(await log.count()).toBe(1);
    expect((await log.list({ intents: true })).map((r) => r.outcome)).toEqual(["intent", "installed"]);
    expect((await log.list({ outcome: "intent" })).map((r) => r.id)).toEqual([intent.id]);
    expect((await log.outcomeOf("req_1"))?.id).toBe(outcome.id);
    expect(await log.openIntents()).toEqual([]);
    expect(await log.verify()).toMatchObject({ ok: true, count: 2 });
    expect(summarise(await log.list({ intents: true })).totals.all).toBe(1);
  });

  it("cannot be written as a plain record, nor inside an open transaction", async () => {
    const broker = await currentBroker();
    await expect(log.append({ identity: "a", tool: "t", outcome: "intent" as never, arguments: {} })).rejects.toThrow(/invalid audit record/);
    // better-sqlite3 refuses a transaction function that returns a promise: the transaction is opened by hand
    db.exec("BEGIN");
    try {
      await expect(log.appendIntent(intentFor("req_tx", broker))).rejects.toThrow(/cannot be written inside an open transaction/);
    } finally {
      db.exec("ROLLBACK");
    }
    expect(await log.count({ intents: true })).toBe(0);
  });

  it("appendOutcomeOnce closes a request once, whoever tries second", async () => {
    const input = { identity: "pipgate", tool: "recovery", outcome: "interrupted" as const, arguments: {}, request: { requestId: "req_x" } };
    expect(await log.appendOutcomeOnce("req_x", input)).toBeDefined();
    expect(await log.appendOutcomeOnce("req_x", input)).toBeUndefined();
    expect(await log.count()).toBe(1);
  });

  it("the CLI hides intents from list unless asked, notes them in show and verify, and reports count outcomes", async () => {
    const run = async (...argv: string[]) => {
      const io = capture();
      const code = await runAudit(argv, io, { db });
      return { code, out: io.out(), err: io.err() };
    };
    const broker = await currentBroker();
    const closed = await log.appendIntent(intentFor("req_a", broker));
    await log.append({
      identity: "agent-a",
      tool: "install_package",
      package: "demo",
      outcome: "installed",
      arguments: {},
      request: { requestId: "req_a", intent: closed.id },
    });
    const open = await log.appendIntent(intentFor("req_b", broker));

    const list = await run("list", "--json");
    expect((JSON.parse(list.out) as Array<{ outcome: string }>).map((r) => r.outcome)).toEqual(["installed"]);
    const all = await run("list", "--intents", "--json");
    expect((JSON.parse(all.out) as Array<{ outcome: string }>).map((r) => r.outcome)).toEqual(["intent", "installed", "intent"]);
    const only = await run("list", "--outcome", "intent", "--json");
    expect((JSON.parse(only.out) as Array<{ id: string }>).map((r) => r.id)).toEqual([closed.id, open.id]);

    expect((await run("show", closed.id)).err).toMatch(/request req_a ended in record aud_\S+ \(installed\)/);
    expect((await run("show", open.id)).err).toMatch(/request req_b has no outcome yet/);
    const verify = await run("verify");
    expect(verify.code).toBe(0);
    expect(verify.out).toContain("chain intact: 3 records");
    expect(verify.out).toContain(`1 request(s) started and have no outcome yet`);
    expect(verify.out).toContain(open.id);

    const exported = await run("export", "--format", "jsonl");
    expect(exported.out.trim().split("\n")).toHaveLength(3);
    const report = await run("report", "--html", join(dir, "report.html"));
    expect(report.err).toMatch(/: 1 records, chain intact/);
  });
});
