import { mkdir, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, listInstalled } from "../../src/commit/index.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { brokenRecordWheel, cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

let dir: string;
let template: string;
let db: Db;
const INSTALLERS = ["pip", "direct"] as const;

beforeAll(async () => {
  dir = await scratch("commit");
  template = await makeTemplateVenv(dir);
  for (const installer of INSTALLERS) await mkdir(join(dir, installer));
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

function journalStates(): string[] {
  return (db.prepare("SELECT state FROM commit_journal ORDER BY rowid").all() as Array<{ state: string }>).map((r) => r.state);
}

describe.each(INSTALLERS)("commitWheels with the %s installer", (installer) => {
  const at = (name: string): string => join(dir, installer, name);
  it("installs the verified wheels, and a second identical commit changes nothing", async () => {
    const python = await cloneVenv(template, at("good"));
    const stateDir = at("state-good");
    const wheels = [
      await verifiedWheel(at("w-good"), { name: "good-app", version: "1.0", entryPoints: { "good-app": "good_app:main" } }),
      await verifiedWheel(at("w-good"), { name: "good-dep", version: "0.3" }),
    ];
    const first = await commitWheels(db, { installer, environment: "good", python, wheels, auditId: "a-1", stateDir });
    expect(first).toMatchObject({
      ok: true,
      installed: [
        { name: "good-app", version: "1.0" },
        { name: "good-dep", version: "0.3" },
      ],
      unchanged: [],
    });
    expect(await runPython(python, "import good_app, good_dep; print(good_app.__version__, good_dep.__version__)")).toBe("1.0 0.3");
    const venv = at("good");
    const script = await import("execa").then(({ execa }) => execa(join(venv, "bin", "good-app")));
    expect(script.stdout).toBe("good-app 1.0");

    const before = await hashTree(await venvRoots(venv));
    const second = await commitWheels(db, { installer, environment: "good", python, wheels, auditId: "a-2", stateDir });
    expect(second).toMatchObject({ ok: true, installed: [], unchanged: [{ name: "good-app" }, { name: "good-dep" }] });
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect(await readdir(join(stateDir, "backups"))).toEqual([]);

    const listed = await listInstalled(python);
    expect(listed.ok && listed.value).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "good-app", version: "1.0" }),
        expect.objectContaining({ name: "good-dep", version: "0.3", requires: [] }),
      ]),
    );
  });

  it("upgrades demo 1.0 to 2.0 for real", async () => {
    const venv = at("upgrade");
    const python = await cloneVenv(template, venv);
    const stateDir = at("state-upgrade");
    const v1 = await verifiedWheel(at("w-up1"), { name: "demo", version: "1.0", files: { "demo/old.py": "OLD = 1\n" } });
    const v2 = await verifiedWheel(at("w-up2"), { name: "demo", version: "2.0", files: { "demo/new.py": "NEW = 2\n" } });
    expect((await commitWheels(db, { installer, environment: "upgrade", python, wheels: [v1], auditId: "u-1", stateDir })).ok).toBe(true);
    const result = await commitWheels(db, { installer, environment: "upgrade", python, wheels: [v2], auditId: "u-2", stateDir });
    expect(result).toMatchObject({ ok: true, installed: [{ name: "demo", version: "2.0" }], unchanged: [] });
    expect(await runPython(python, "import demo, demo.new; print(demo.__version__)")).toBe("2.0");
    // The old version's files are gone, not shadowed.
    const site = (await venvRoots(venv))[0] ?? "";
    const entries = await readdir(site);
    expect(entries).toContain("demo-2.0.dist-info");
    expect(entries).not.toContain("demo-1.0.dist-info");
    expect(await readdir(join(site, "demo"))).not.toContain("old.py");
  });

  it("restores demo 1.0 exactly when the upgrade fails midway in pip (a wheel with a broken RECORD)", async () => {
    const venv = at("broken");
    const python = await cloneVenv(template, venv);
    const stateDir = at("state-broken");
    const v1 = await verifiedWheel(at("w-br1"), { name: "demo", version: "1.0", entryPoints: { demo: "demo:main" } });
    expect((await commitWheels(db, { installer, environment: "broken", python, wheels: [v1], auditId: "b-1", stateDir })).ok).toBe(true);
    const before = await hashTree(await venvRoots(venv));

    const files = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`demo/m${i}.py`, `X = ${i}\n`]));
    // pip 23 trips over the broken RECORD only after writing the new files; the direct installer
    // reads it fine, and fails as late on an entry point without a callable (pip refuses it too).
    const bad =
      installer === "pip"
        ? await brokenRecordWheel(at("w-br2"), { name: "demo", version: "2.0", files })
        : await verifiedWheel(at("w-br2"), { name: "demo", version: "2.0", files, entryPoints: { demo: "demo" } });
    const result = await commitWheels(db, { installer, environment: "broken", python, wheels: [bad], auditId: "b-2", stateDir });
    expect(result).toMatchObject({ ok: false, rolledBack: true, stage: "pip" });
    expect(!result.ok && result.error).toMatch(installer === "pip" ? /pip failed/ : /names no callable/);
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect(await runPython(python, "import demo; print(demo.__version__)")).toBe("1.0");
    expect(journalStates().slice(-2)).toEqual(["done", "rolled-back"]);
    expect(await readdir(join(stateDir, "backups"))).toEqual([]);
  });

  it("backs up the whole venv when a wheel installs data files under the prefix, and restores it", async () => {
    const venv = at("data");
    const python = await cloneVenv(template, venv);
    const stateDir = at("state-data");
    const before = await hashTree([venv]);
    const wheel = await verifiedWheel(at("w-data"), {
      name: "datapkg",
      version: "1.0",
      files: { "datapkg-1.0.data/data/share/datapkg/notes.txt": "shared data\n" },
    });
    const failed = await commitWheels(db, {
      installer,
      environment: "data",
      python,
      wheels: [wheel],
      auditId: "d-1",
      stateDir,
      faults: {
        afterPip: async () => {
          expect(await readFile(join(venv, "share", "datapkg", "notes.txt"), "utf8")).toBe("shared data\n");
          throw new Error("injected after pip");
        },
      },
    });
    expect(failed).toMatchObject({ ok: false, rolledBack: true });
    expect(await hashTree([venv])).toBe(before);
    expect((await commitWheels(db, { installer, environment: "data", python, wheels: [wheel], auditId: "d-2", stateDir })).ok).toBe(true);
    expect(await readFile(join(venv, "share", "datapkg", "notes.txt"), "utf8")).toBe("shared data\n");
  });

  it("refuses bad requests before touching anything", async () => {
    const stateDir = at("state-bad");
    const wheel = { name: "demo", version: "1.0", path: "/nowhere/demo-1.0-py3-none-any.whl", sha256: "0".repeat(64) };
    const relative = await commitWheels(db, { installer, environment: "x", python: "bin/python", wheels: [wheel], auditId: "r", stateDir });
    expect(relative).toMatchObject({ ok: false, stage: "validate", rolledBack: false });
    const traversal = await commitWheels(db, { installer, environment: "../x", python: "/usr/bin/python3", wheels: [wheel], auditId: "r", stateDir });
    expect(traversal).toMatchObject({ ok: false, stage: "validate" });
    const sdist = await commitWheels(db, {
      installer,
      environment: "x",
      python: "/usr/bin/python3",
      wheels: [{ ...wheel, path: "/nowhere/demo-1.0.tar.gz" }],
      auditId: "r",
      stateDir,
    });
    expect(!sdist.ok && sdist.error).toMatch(/only wheels/);
  });

  it("refuses an interpreter that is not a venv", async () => {
    const stateDir = at("state-system");
    const wheel = await verifiedWheel(at("w-sys"), { name: "demo", version: "1.0" });
    const system = await runPython("python3", "import sys; print(sys.executable)");
    const result = await commitWheels(db, { installer, environment: "sys", python: system, wheels: [wheel], auditId: "s", stateDir });
    expect(result).toMatchObject({ ok: false, stage: "inspect", rolledBack: false });
    expect(!result.ok && result.error).toMatch(/not a virtual environment/);
  });
});
