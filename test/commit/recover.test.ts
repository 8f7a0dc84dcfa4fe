import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, recoverUnfinishedCommits } from "../../src/commit/index.js";
import { openStateDb } from "../../src/state/db.js";
import { openApp } from "../support/app.js";
import { loadConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { stringify } from "yaml";
import { cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// A broker killed mid-commit: the child is a real node process running the real commit code
// (through vite-node, which runs TypeScript directly), SIGKILLed while its pip runs.
const VITE_NODE = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "vite-node");
const CHILD = join(import.meta.dirname, "broker-child.ts");

let dir: string;
let template: string;
let counter = 0;

beforeAll(async () => {
  dir = await scratch("recover");
  template = await makeTemplateVenv(dir);
});
afterAll(async () => {
  await removeAll(dir);
});

async function waitForFile(path: string, child: { exitCode: number | null }): Promise<string> {
  for (;;) {
    if (existsSync(path)) {
      const text = await readFile(path, "utf8");
      if (text.length > 0) return text;
    }
    if (child.exitCode !== null) throw new Error(`the broker child exited (${child.exitCode}) before ${path} appeared`);
    await sleep(20);
  }
}

async function crashedCommit(killPip: boolean, installer: "pip" | "direct") {
  counter += 1;
  const venv = join(dir, `venv-${counter}`);
  const python = await cloneVenv(template, venv);
  const stateDir = join(dir, `state-${counter}`);
  const v1 = await verifiedWheel(join(dir, `w1-${counter}`), { name: "demo", version: "1.0" });
  const db = openStateDb(stateDir);
  expect((await commitWheels(db, { installer, environment: "main", python, wheels: [v1], auditId: "before", stateDir })).ok).toBe(true);
  const before = await hashTree(await venvRoots(venv));

  const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`demo/m${i}.py`, `X = ${i}\n`]));
  const v2 = await verifiedWheel(join(dir, `w2-${counter}`), { name: "demo", version: "2.0", files });
  const marker = join(dir, `marker-${counter}`);
  const child = execa(
    VITE_NODE,
    [CHILD, JSON.stringify({ mode: "commit", stateDir, environment: "main", python, auditId: `crash-${counter}`, wheels: [v2], marker, installer })],
    { reject: false },
  );
  const { pipPid } = JSON.parse(await waitForFile(marker, child)) as { pipPid: number };
  child.kill("SIGKILL");
  // With the direct installer the "pip" is the broker child itself, already killed.
  if (killPip && installer === "pip") process.kill(pipPid, "SIGKILL");
  await child;
  return { db, venv, python, stateDir, before, pipPid };
}

describe.each(["pip", "direct"] as const)("recoverUnfinishedCommits (%s installer)", (installer) => {
  it("restores an environment whose broker and pip were SIGKILLed mid-commit", async () => {
    const { db, venv, python, stateDir, before } = await crashedCommit(true, installer);
    const row = db.prepare("SELECT id, state FROM commit_journal WHERE audit_id = ?").get(`crash-${counter}`) as {
      id: string;
      state: string;
    };
    expect(row.state).toBe("started");
    // The dead broker's lock is still on disk; recovery must take it over.
    expect(existsSync(join(stateDir, "locks", "main.lock"))).toBe(true);

    const report = await recoverUnfinishedCommits(db, stateDir, { main: { python } });
    expect(report).toEqual([{ journalId: row.id, environment: "main", auditId: `crash-${counter}`, restored: true, action: "rolled-back" }]);
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect(await runPython(python, "import demo; print(demo.__version__)")).toBe("1.0");
    expect(db.prepare("SELECT state FROM commit_journal WHERE id = ?").get(row.id)).toEqual({ state: "rolled-back" });
    expect(await readdir(join(stateDir, "backups"))).toEqual([]);
    // Nothing is left to recover, and the environment takes commits again.
    expect(await recoverUnfinishedCommits(db, stateDir, { main: { python } })).toEqual([]);
    db.close();
  });

  it("restores an environment whose broker died while its pip ran on (that pip is stopped first if still alive)", async () => {
    const { db, venv, python, stateDir, before, pipPid } = await crashedCommit(false, installer);
    const report = await recoverUnfinishedCommits(db, stateDir, { main: { python } });
    expect(report).toMatchObject([{ environment: "main", auditId: `crash-${counter}`, restored: true }]);
    expect(existsSync(`/proc/${pipPid}/cmdline`) && (await readFile(`/proc/${pipPid}/cmdline`, "utf8")).includes("pip")).toBe(false);
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    db.close();
  });

  it("a restarted broker rolls back before serving, and says so in an intact audit chain", async () => {
    const { db, venv, python, stateDir, before } = await crashedCommit(true, installer);
    db.close();
    const allowlist = join(dir, `allowlist-${counter}.yaml`);
    await writeFile(allowlist, "packages: {}\n");
    const config = join(dir, `pipgate-${counter}.yaml`);
    await writeFile(config, stringify({ index: { url: "http://127.0.0.1:9/simple/" }, state_dir: stateDir, environments: { main: { python, allowlist } } }));
    const loaded = loadConfig(config);
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const broker = (await openApp(loaded.config, silentLogger())).broker;
    try {
      expect(await hashTree(await venvRoots(venv))).toBe(before);
      // The commit's request left no intent (this child commits directly): recovery gives it its one outcome.
      const records = await broker.audit.list({ outcome: "interrupted" });
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        environment: "main",
        identity: "pipgate",
        request: { requestId: `crash-${counter}` },
        recovery: { found: "rolled back" },
      });
      expect(records[0]?.reason).toMatch(/rolled back/);
      expect(await broker.audit.count()).toBe(1);
      expect((await broker.audit.verify()).ok).toBe(true);
    } finally {
      broker.close();
    }
  });

  it("drops the partial backup of a commit that died while backing up, and reports unknown environments", async () => {
    const stateDir = join(dir, `state-partial-${installer}`);
    const db = openStateDb(stateDir);
    const partial = join(stateDir, "backups", "p-1");
    await mkdir(join(partial, "roots", "0"), { recursive: true });
    const insert = db.prepare("INSERT INTO commit_journal (id, environment, audit_id, started_at, backup_dir, state) VALUES (?, ?, ?, ?, ?, ?)");
    insert.run("p-1", "main", "audit-p", "2024-01-01T00:00:00Z", partial, "preparing");
    insert.run("g-1", "gone", "audit-g", "2024-01-01T00:00:01Z", join(stateDir, "backups", "g-1"), "started");
    const report = await recoverUnfinishedCommits(db, stateDir, { main: { python: "/unused/bin/python" } });
    expect(report).toEqual([
      { journalId: "p-1", environment: "main", auditId: "audit-p", restored: true, action: "abandoned" },
      expect.objectContaining({ journalId: "g-1", environment: "gone", restored: false, error: expect.stringMatching(/no longer configured/) }),
    ]);
    expect(existsSync(partial)).toBe(false);
    expect(db.prepare("SELECT state FROM commit_journal WHERE id = 'p-1'").get()).toEqual({ state: "abandoned" });
    db.close();
  });
});
