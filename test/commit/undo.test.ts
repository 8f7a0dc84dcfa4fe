import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, recoverUnfinishedCommits, type CommitFaults, type CommitResult } from "../../src/commit/index.js";
import { checkUndoPaths, UndoManifestSchema, type UndoManifest } from "../../src/commit/undo.js";
import { openStateDb, type Db } from "../../src/state/db.js";
import { cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";
import type { UNDO_POINTS } from "./undo-child.js";

// The direct installer's undo journal: it names exactly the paths one install touches (the old
// version's files, the new files and directories), nothing of the rest of the venv; every failure,
// in process or a SIGKILL at one of the journal's own points, leaves the venv hashing as before.
const VITE_NODE = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "vite-node");
const CHILD = join(import.meta.dirname, "undo-child.ts");

let dir: string;
let template: string;
let counter = 0;

beforeAll(async () => {
  dir = await scratch("undo");
  template = await makeTemplateVenv(dir);
});
afterAll(async () => {
  await removeAll(dir);
});

interface Setup {
  venv: string;
  python: string;
  site: string;
  stateDir: string;
  db: Db;
  before: string;
  commitV2: (faults?: CommitFaults) => Promise<CommitResult>;
}

/** demo 1.0 installed beside 300 files of an unrelated package; demo 2.0 (120 modules) ready to commit. */
async function setup(): Promise<Setup> {
  counter += 1;
  const venv = join(dir, `venv-${counter}`);
  const python = await cloneVenv(template, venv);
  const stateDir = join(dir, `state-${counter}`);
  const db = openStateDb(stateDir);
  const [site = ""] = await venvRoots(venv);
  await mkdir(join(site, "bulky"), { recursive: true });
  for (let i = 0; i < 300; i += 1) await writeFile(join(site, "bulky", `b${i}.py`), `B = ${i}\n`);
  const v1 = await verifiedWheel(join(dir, `w1-${counter}`), {
    name: "demo",
    version: "1.0",
    entryPoints: { demo: "demo:main" },
    files: { "demo/old.py": "OLD = 1\n" },
  });
  expect((await commitWheels(db, { installer: "direct", environment: "main", python, wheels: [v1], auditId: "v1", stateDir })).ok).toBe(true);
  const files = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`demo/sub/m${i}.py`, `X = ${i}\n`]));
  const v2 = await verifiedWheel(join(dir, `w2-${counter}`), { name: "demo", version: "2.0", files, entryPoints: { demo: "demo:main" } });
  return {
    venv,
    python,
    site,
    stateDir,
    db,
    before: "",
    // The byte-compiling crash point exists where the install compiles: without the store, which compiles once per wheel.
    commitV2: (faults) =>
      commitWheels(db, {
        installer: "direct",
        environment: "main",
        python,
        wheels: [v2],
        auditId: `v2-${counter}`,
        stateDir,
        faults,
        ...(faults?.duringCompile === undefined ? {} : { store: false }),
      }),
  };
}

async function snapshot(s: Setup): Promise<Setup> {
  return { ...s, before: await hashTree(await venvRoots(s.venv)) };
}

async function expectUnchanged(s: Setup): Promise<void> {
  expect(await hashTree(await venvRoots(s.venv))).toBe(s.before);
  expect(await runPython(s.python, "import demo; print(demo.__version__)")).toBe("1.0");
  expect(existsSync(join(s.stateDir, "backups")) ? await readdir(join(s.stateDir, "backups")) : []).toEqual([]);
}

async function onlyBackup(stateDir: string): Promise<string> {
  const [id] = await readdir(join(stateDir, "backups"));
  if (id === undefined) throw new Error("no backup directory");
  return join(stateDir, "backups", id);
}

describe("the direct installer's undo journal", () => {
  it("saves only the files the upgrade replaces and lists only what it creates, none of the rest of the venv", async () => {
    const s = await setup();
    const v1Record = (await readFile(join(s.site, "demo-1.0.dist-info", "RECORD"), "utf8")).split("\n").filter((l) => l !== "");
    let seen: UndoManifest | undefined;
    let backupFiles: string[] = [];
    const result = await s.commitV2({
      beforePip: async () => {
        const backup = await onlyBackup(s.stateDir);
        seen = UndoManifestSchema.parse(JSON.parse(await readFile(join(backup, "undo.json"), "utf8")));
        backupFiles = await readdir(join(backup, "files"));
      },
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (seen === undefined) throw new Error("the journal was not written before the install");
    const saved = seen.saved.map((e) => relative(s.venv, e.path));
    // demo 1.0's RECORD rows (its .pyc rows included) plus the bytecode of its sources, nothing else.
    expect(saved.length).toBeGreaterThanOrEqual(v1Record.length);
    expect(saved.every((p) => /\/(demo|demo-1\.0\.dist-info)\//.test(p) || p === "bin/demo")).toBe(true);
    expect(saved.some((p) => p.endsWith("demo/old.py"))).toBe(true);
    expect(saved.some((p) => p.includes("/demo/__pycache__/old."))).toBe(true);
    expect(backupFiles).toHaveLength(saved.length);
    const created = seen.created.map((p) => relative(s.venv, p));
    expect(created.some((p) => p.endsWith("demo/sub/m119.py"))).toBe(true);
    expect(created.some((p) => p.endsWith("demo-2.0.dist-info/RECORD"))).toBe(true);
    expect(seen.createdDirs.map((p) => relative(s.site, p)).sort()).toEqual(["demo-2.0.dist-info", "demo/sub", "demo/sub/__pycache__"]);
    for (const path of [...seen.saved.map((e) => e.path), ...seen.created, ...seen.createdDirs]) expect(path).not.toContain("bulky");
    expect(seen.compiled.every((p) => p.includes("__pycache__"))).toBe(true);
    expect(await readdir(join(s.stateDir, "backups"))).toEqual([]);
    expect(await runPython(s.python, "import demo.sub.m7 as m; print(m.X)")).toBe("7");
    s.db.close();
  });

  it("restores exactly when byte-compiling fails, with an unowned file at one of the new paths", async () => {
    let s = await setup();
    await mkdir(join(s.site, "demo", "sub"));
    await writeFile(join(s.site, "demo", "sub", "m3.py"), "# a file no distribution owns\n");
    s = await snapshot(s);
    const result = await s.commitV2({
      duringCompile: () => {
        throw new Error("injected as the compiler starts");
      },
    });
    expect(result).toMatchObject({ ok: false, rolledBack: true, stage: "pip" });
    expect(!result.ok && result.error).toMatch(/injected as the compiler starts/);
    await expectUnchanged(s);
    expect(await readFile(join(s.site, "demo", "sub", "m3.py"), "utf8")).toBe("# a file no distribution owns\n");
    s.db.close();
  });

  it("refuses, untouched, a file that would replace a directory", async () => {
    let s = await setup();
    await mkdir(join(s.site, "demo", "sub", "m5.py"), { recursive: true });
    s = await snapshot(s);
    const result = await s.commitV2();
    expect(result).toMatchObject({ ok: false, rolledBack: false, stage: "backup" });
    expect(!result.ok && result.error).toMatch(/is a directory/);
    await expectUnchanged(s);
    s.db.close();
  });

  it("accepts only paths inside the venv", async () => {
    const s = await setup();
    const base: UndoManifest = {
      version: 2,
      kind: "paths",
      python: s.python,
      token: "0123456789ab",
      saved: [],
      created: [],
      createdDirs: [],
      dirs: [],
      compiled: [],
    };
    await expect(checkUndoPaths({ ...base, created: [join(s.site, "ok.py")] }, s.venv)).resolves.toBeUndefined();
    await expect(checkUndoPaths({ ...base, created: [join(dir, "elsewhere.py")] }, s.venv)).rejects.toThrow(/outside the venv/);
    await expect(checkUndoPaths({ ...base, createdDirs: [s.venv] }, s.venv)).rejects.toThrow(/outside the venv/);
    await execa("ln", ["-s", dir, join(s.site, "out")]);
    await expect(checkUndoPaths({ ...base, saved: [{ path: join(s.site, "out", "x.py"), entry: 0, link: true }] }, s.venv)).rejects.toThrow(/leads outside/);
    s.db.close();
  });
});

async function waitForMarker(path: string, child: { exitCode: number | null }): Promise<Record<string, unknown>> {
  for (;;) {
    if (existsSync(path)) {
      const text = await readFile(path, "utf8");
      if (text.length > 0) return JSON.parse(text) as Record<string, unknown>;
    }
    if (child.exitCode !== null) throw new Error(`the broker child exited (${child.exitCode}) before its kill point`);
    await sleep(20);
  }
}

const KILLS: Array<{ point: (typeof UNDO_POINTS)[number]; state: string; action: string }> = [
  { point: "after-backup", state: "preparing", action: "abandoned" },
  { point: "during-compile", state: "started", action: "rolled-back" },
  { point: "during-rollback", state: "started", action: "rolled-back" },
];

describe("a broker SIGKILLed at a point of the undo journal's life, then recovered", () => {
  it.each(KILLS)("$point: the venv hashes as before", async ({ point, state, action }) => {
    const s = await snapshot(await setup());
    const v2 = await verifiedWheel(join(dir, `w3-${counter}`), {
      name: "demo",
      version: "2.0",
      files: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`demo/sub/m${i}.py`, `X = ${i}\n`])),
    });
    const marker = join(dir, `marker-${counter}`);
    const auditId = `kill-${counter}`;
    const child = execa(
      VITE_NODE,
      [CHILD, JSON.stringify({ stateDir: s.stateDir, environment: "main", python: s.python, auditId, wheels: [v2], marker, point })],
      { reject: false },
    );
    const seen = await waitForMarker(marker, child);
    expect(seen.finished).toBeUndefined();
    child.kill("SIGKILL");
    await child;
    const row = s.db.prepare("SELECT id, state FROM commit_journal WHERE audit_id = ?").get(auditId) as { id: string; state: string };
    expect(row.state).toBe(state);
    const report = await recoverUnfinishedCommits(s.db, s.stateDir, { main: { python: s.python } });
    expect(report).toEqual([{ journalId: row.id, environment: "main", auditId, restored: true, action }]);
    if (typeof seen.compilerPid === "number")
      expect(existsSync(`/proc/${seen.compilerPid}/cmdline`) && (await readFile(`/proc/${seen.compilerPid}/cmdline`, "utf8")) !== "").toBe(false);
    await expectUnchanged(s);
    s.db.close();
  });

  it("refuses a tampered journal that names a path outside the venv, and touches nothing", async () => {
    const s = await snapshot(await setup());
    const backup = join(s.stateDir, "backups", "t-1");
    await mkdir(join(backup, "files"), { recursive: true });
    const victim = join(dir, `victim-${counter}.txt`);
    await writeFile(victim, "not pipgate's\n");
    const manifest: UndoManifest = {
      version: 2,
      kind: "paths",
      python: s.python,
      token: "0123456789ab",
      saved: [],
      created: [victim],
      createdDirs: [],
      dirs: [],
      compiled: [],
    };
    await writeFile(join(backup, "undo.json"), JSON.stringify(manifest));
    s.db
      .prepare("INSERT INTO commit_journal (id, environment, audit_id, started_at, backup_dir, state) VALUES (?, ?, ?, ?, ?, ?)")
      .run("t-1", "main", "audit-t", "2024-01-01T00:00:00Z", backup, "started");
    const report = await recoverUnfinishedCommits(s.db, s.stateDir, { main: { python: s.python } });
    expect(report).toMatchObject([{ journalId: "t-1", restored: false, error: expect.stringMatching(/outside the venv/) as unknown }]);
    expect(await readFile(victim, "utf8")).toBe("not pipgate's\n");
    expect(await hashTree(await venvRoots(s.venv))).toBe(s.before);
    s.db.close();
  });
});
