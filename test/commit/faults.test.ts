import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, type CommitFaults, type CommitResult } from "../../src/commit/index.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// Every fault starts from demo 1.0 installed and tries to upgrade to a large demo 2.0; whatever
// happens, site-packages and bin must hash exactly as before.
let dir: string;
let template: string;
let db: Db;
let counter = 0;

beforeAll(async () => {
  dir = await scratch("faults");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

interface Setup {
  venv: string;
  python: string;
  stateDir: string;
  site: string;
  before: string;
  commitV2: (faults?: CommitFaults, signal?: AbortSignal, corrupt?: boolean) => Promise<CommitResult>;
}

async function setup(installer: "pip" | "direct"): Promise<Setup> {
  counter += 1;
  const venv = join(dir, `venv-${counter}`);
  const python = await cloneVenv(template, venv);
  const stateDir = join(dir, `state-${counter}`);
  const v1 = await verifiedWheel(join(dir, `w1-${counter}`), { name: "demo", version: "1.0", entryPoints: { demo: "demo:main" } });
  const first = await commitWheels(db, { installer, environment: "faulty", python, wheels: [v1], auditId: "f-1", stateDir });
  expect(first.ok).toBe(true);
  const roots = await venvRoots(venv);
  const before = await hashTree(roots);
  const files = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`demo/m${i}.py`, `X = ${i}\n`.repeat(50)]));
  const v2 = await verifiedWheel(join(dir, `w2-${counter}`), {
    name: "demo",
    version: "2.0",
    files,
    entryPoints: { demo: "demo:main", "demo-two": "demo:main" },
  });
  return {
    venv,
    python,
    stateDir,
    site: roots[0] ?? "",
    before,
    commitV2: async (faults, signal, corrupt) => {
      if (corrupt === true) await writeFile(v2.path, Buffer.from("not the verified bytes"), { flag: "a" });
      return commitWheels(db, { installer, environment: "faulty", python, wheels: [v2], auditId: "f-2", stateDir, faults }, signal);
    },
  };
}

async function expectUnchanged(s: Setup): Promise<void> {
  expect(await hashTree(await venvRoots(s.venv))).toBe(s.before);
  expect(await runPython(s.python, "import demo; print(demo.__version__)")).toBe("1.0");
  expect(existsSync(join(s.stateDir, "backups")) ? await readdir(join(s.stateDir, "backups")) : []).toEqual([]);
}

describe.each(["pip", "direct"] as const)("a failed commit (%s installer) leaves the environment exactly as it was", (installer) => {
  it("when a failure happens before pip runs", async () => {
    const s = await setup(installer);
    const result = await s.commitV2({
      beforePip: () => {
        throw new Error("injected before pip");
      },
    });
    expect(result).toMatchObject({ ok: false, rolledBack: true, stage: "pip" });
    expect(!result.ok && result.error).toMatch(/injected before pip/);
    await expectUnchanged(s);
  });

  if (installer === "pip")
    it("when pip is SIGKILLed while it is replacing the old version", async () => {
      const s = await setup(installer);
      let killedMidway = false;
      const result = await s.commitV2({
        duringPip: async (pid) => {
          // pip stashes the old dist-info by renaming it when it uninstalls: from then on it is writing.
          for (let i = 0; i < 60_000; i += 1) {
            if (!existsSync(join(s.site, "demo-1.0.dist-info"))) break;
            await sleep(1);
          }
          try {
            process.kill(pid, "SIGKILL");
            killedMidway = !existsSync(join(s.site, "demo-1.0.dist-info"));
          } catch {
            throw new Error("pip finished before it could be killed");
          }
        },
      });
      expect(killedMidway).toBe(true);
      expect(result).toMatchObject({ ok: false, rolledBack: true, stage: "pip" });
      expect(!result.ok && result.error).toMatch(/SIGKILL/);
      await expectUnchanged(s);
    });

  if (installer === "direct")
    it("when the direct install fails between two files while replacing the old version", async () => {
      const s = await setup(installer);
      let failedMidway = false;
      const result = await s.commitV2({
        duringDirect: (written) => {
          // The direct installer uninstalls first: from its first file on, the old version is gone.
          if (written < 200) return;
          failedMidway = !existsSync(join(s.site, "demo-1.0.dist-info")) && existsSync(join(s.site, "demo", "m100.py"));
          throw new Error("injected between two files");
        },
      });
      expect(failedMidway).toBe(true);
      expect(result).toMatchObject({ ok: false, rolledBack: true, stage: "pip" });
      expect(!result.ok && result.error).toMatch(/injected between two files/);
      await expectUnchanged(s);
    });

  it("when a failure happens after pip succeeded", async () => {
    const s = await setup(installer);
    let sawV2 = "";
    const result = await s.commitV2({
      afterPip: async () => {
        sawV2 = await runPython(s.python, "import demo; print(demo.__version__)");
        throw new Error("injected after pip");
      },
    });
    expect(sawV2).toBe("2.0");
    expect(result).toMatchObject({ ok: false, rolledBack: true });
    await expectUnchanged(s);
  });

  it("when the install is aborted while pip runs", async () => {
    const s = await setup(installer);
    const controller = new AbortController();
    const abort = (): void => controller.abort(new Error("client went away"));
    const faults: CommitFaults = installer === "pip" ? { duringPip: abort } : { duringDirect: (n) => void (n === 50 && abort()) };
    const result = await s.commitV2(faults, controller.signal);
    expect(result).toMatchObject({ ok: false, rolledBack: true });
    await expectUnchanged(s);
  });

  it("refuses a wheel whose bytes changed after verification, before pip or any backup", async () => {
    const s = await setup(installer);
    const rowsBefore = db.prepare("SELECT COUNT(*) AS n FROM commit_journal").get() as { n: number };
    let pipRan = false;
    const result = await s.commitV2({ beforePip: () => void (pipRan = true) }, undefined, true);
    expect(result).toMatchObject({ ok: false, rolledBack: false, stage: "verify" });
    expect(!result.ok && result.error).toMatch(/sha256 is [0-9a-f]{64}, but [0-9a-f]{64} was verified/);
    expect(pipRan).toBe(false);
    expect(db.prepare("SELECT COUNT(*) AS n FROM commit_journal").get()).toEqual(rowsBefore);
    await expectUnchanged(s);
  });
});
