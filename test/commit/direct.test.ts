import { createHash } from "node:crypto";
import { lstat, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import { formatRecord, parseRecord } from "../../src/commit/direct-record.js";
import { entryPointScript, fixScriptShebang, shebang } from "../../src/commit/direct-scripts.js";
import { uninstallDistribution } from "../../src/commit/direct-uninstall.js";
import type { VerifiedWheel } from "../../src/commit/request.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { inspectWheel } from "../../src/verify/wheel.js";
import { cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// The direct installer against the venv's own pip: the same wheels into two clones of one venv must
// leave the same files with the same bytes, and the venv's pip must treat the result as its own.
let dir: string;
let template: string;
let db: Db;

beforeAll(async () => {
  dir = await scratch("direct");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

interface Entry {
  mode: number;
  content: string;
}

/** Every file under the venv: path → mode and contents (the venv's own path replaced by VENV). */
async function snapshot(venv: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const st = await lstat(full);
        const bytes = entry.isSymbolicLink() ? Buffer.from("symlink") : await readFile(full);
        const rel = relative(venv, full).split(sep).join("/");
        out.set(rel, { mode: st.mode & 0o777, content: bytes.toString("latin1").replaceAll(venv, "VENV") });
      }
    }
  };
  await walk(venv);
  return out;
}

/** Paths only where contents legitimately differ: RECORD and INSTALLER name their installer and order, .pyc embed mtimes. */
function comparable(snap: Map<string, Entry>): Map<string, Entry> {
  return new Map(
    [...snap].map(([path, entry]) => {
      const opaque = path.endsWith("/RECORD") || path.endsWith("/INSTALLER") || path.endsWith(".pyc");
      return [path, opaque ? { mode: entry.mode, content: "" } : entry];
    }),
  );
}

async function pip(python: string, ...args: string[]): Promise<string> {
  const run = await execa(python, ["-I", "-m", "pip", "--disable-pip-version-check", ...args], { env: { PIP_CONFIG_FILE: "/dev/null" } });
  return run.stdout;
}

async function wheelsFor(at: string): Promise<{ v1: VerifiedWheel[]; v2: VerifiedWheel[] }> {
  const lib = await verifiedWheel(at, { name: "eq-lib", version: "1.0", files: { "eq_lib/util.py": "def twice(x):\n    return 2 * x\n" } });
  const app = (version: string, files: Record<string, string>) =>
    verifiedWheel(join(at, version), {
      name: "eq-app",
      version,
      dependencies: ["eq-lib"],
      entryPoints: { "eq-app": "eq_app:main", "eq-app-twice": "eq_app.cli:run" },
      files: {
        ...files,
        "eq_app/cli.py": "from eq_lib.util import twice\ndef run():\n    print(twice(21))\n",
        [`eq_app-${version}.data/scripts/eq-tool`]: "#!python -u\nprint('tool')\n",
        [`eq_app-${version}.data/scripts/eq-shell`]: "#!/bin/sh\necho shell\n",
        [`eq_app-${version}.data/data/share/eq-app/notes.txt`]: `notes ${version}\n`,
      },
    });
  return {
    v1: [await app("1.0", { "eq_app/old.py": "OLD = 1\n", "eq_app/data/table.csv": "a,b\n" }), lib],
    v2: [await app("2.0", { "eq_app/new.py": "NEW = 2\n" }), lib],
  };
}

describe("the direct installer matches the venv's own pip", () => {
  it("installs and upgrades to the same files and bytes, and pip, importlib.metadata and the scripts work on the result", async () => {
    const { v1, v2 } = await wheelsFor(join(dir, "wheels"));
    const venvs = { pip: join(dir, "by-pip"), direct: join(dir, "by-direct") };
    const python = { pip: await cloneVenv(template, venvs.pip), direct: await cloneVenv(template, venvs.direct) };
    for (const installer of ["pip", "direct"] as const) {
      for (const [step, wheels] of [
        ["1", v1],
        ["2", v2],
      ] as const) {
        const result = await commitWheels(db, {
          installer,
          environment: `eq-${installer}`,
          python: python[installer],
          wheels,
          auditId: `eq-${installer}-${step}`,
          stateDir: join(dir, `state-${installer}`),
        });
        expect(result.ok, JSON.stringify(result)).toBe(true);
      }
    }
    const byPip = await snapshot(venvs.pip);
    const byDirect = await snapshot(venvs.direct);
    // .data/scripts files are made executable by the direct installer; pip keeps the zip's (absent) bits.
    const isDataScript = (p: string) => p === "bin/eq-tool" || p === "bin/eq-shell";
    expect(byDirect.get("bin/eq-tool")?.mode).toBe(0o755);
    for (const snap of [byPip, byDirect]) for (const [p, e] of snap) if (isDataScript(p)) snap.set(p, { ...e, mode: 0 });
    expect([...byDirect.keys()].sort()).toEqual([...byPip.keys()].sort());
    expect(comparable(byDirect)).toEqual(comparable(byPip));
    const site = relative(venvs.direct, (await venvRoots(venvs.direct))[0] ?? "")
      .split(sep)
      .join("/");
    expect(byDirect.has(`${site}/eq_app/old.py`)).toBe(false);
    expect(byDirect.has(`${site}/eq_app/data/table.csv`)).toBe(false);
    expect(byDirect.has(`${site}/eq_app/__pycache__/new.cpython-311.pyc`) || [...byDirect.keys()].some((k) => k.includes("eq_app/__pycache__/new."))).toBe(
      true,
    );
    expect(byDirect.get("share/eq-app/notes.txt")?.content).toBe("notes 2.0\n");
    expect(byDirect.get("bin/eq-tool")?.content).toBe("#!VENV/bin/python\nprint('tool')\n");

    // RECORD lists every file the direct install left, with correct hashes.
    const distInfo = join((await venvRoots(venvs.direct))[0] ?? "", "eq_app-2.0.dist-info");
    const rows = parseRecord(await readFile(join(distInfo, "RECORD"), "utf8"));
    for (const row of rows) {
      const bytes = await readFile(join(distInfo, "..", row.path));
      if (row.hash !== "") {
        expect(row.hash).toBe(`sha256=${createHash("sha256").update(bytes).digest("base64url")}`);
        expect(Number(row.size)).toBe(bytes.length);
      }
    }
    expect(rows.map((r) => r.path)).toEqual(expect.arrayContaining(["../../../bin/eq-app", "../../../bin/eq-tool", "eq_app-2.0.dist-info/INSTALLER"]));
    expect(await readFile(join(distInfo, "INSTALLER"), "utf8")).toBe("pipgate\n");

    // The venv's own tools read it.
    const listed = JSON.parse(await pip(python.direct, "list", "--format=json")) as Array<{ name: string; version: string }>;
    expect(listed).toEqual(
      expect.arrayContaining([
        { name: "eq-app", version: "2.0" },
        { name: "eq-lib", version: "1.0" },
      ]),
    );
    const shown = await pip(python.direct, "show", "-f", "eq-app");
    expect(shown).toMatch(/Requires: eq-lib/);
    expect(shown).toMatch(/\.\.\/\.\.\/\.\.\/bin\/eq-app-twice/);
    expect(await pip(python.direct, "check")).toMatch(/No broken requirements/);
    expect(await runPython(python.direct, "import importlib.metadata as m, eq_app.new; print(m.version('eq-app'), len(m.files('eq-app')) > 5)")).toBe(
      "2.0 True",
    );
    expect((await execa(join(venvs.direct, "bin", "eq-app-twice"))).stdout).toBe("42");
    expect((await execa(join(venvs.direct, "bin", "eq-app"))).stdout).toBe("eq-app 2.0");
    expect((await execa(join(venvs.direct, "bin", "eq-tool"))).stdout).toBe("tool");

    // pip uninstalls both installs back to the same tree: the venv as it was made.
    for (const installer of ["pip", "direct"] as const) await pip(python[installer], "uninstall", "-y", "eq-app", "eq-lib");
    const clean = await snapshot(template);
    for (const venv of [venvs.pip, venvs.direct]) {
      const after = await snapshot(venv);
      expect([...after.keys()].filter((k) => !k.includes("__pycache__")).sort()).toEqual(
        [...clean.keys()].filter((k) => !k.includes("__pycache__") && !k.startsWith("share/")).sort(),
      );
    }
  }, 300_000);

  it("leaves no inode of the old tree written: a hardlink of every file before the commit still has the old bytes", async () => {
    const venv = join(dir, "inodes");
    const python = await cloneVenv(template, venv);
    const { v1, v2 } = await wheelsFor(join(dir, "wheels-inodes"));
    const stateDir = join(dir, "state-inodes");
    expect((await commitWheels(db, { installer: "direct", environment: "ino", python, wheels: v1, auditId: "i1", stateDir })).ok).toBe(true);
    const roots = await venvRoots(venv);
    const links = join(dir, "links");
    await mkdir(links);
    for (const [i, root] of roots.entries()) await execa("cp", ["-al", root, join(links, String(i))]);
    const before = await hashTree(roots.map((_, i) => join(links, String(i))));
    expect((await commitWheels(db, { installer: "direct", environment: "ino", python, wheels: v2, auditId: "i2", stateDir })).ok).toBe(true);
    expect(await hashTree(roots.map((_, i) => join(links, String(i))))).toBe(before);
  }, 120_000);

  it("installs the same tree from the verify stage's entry points as from its own inspection", async () => {
    const { v1 } = await wheelsFor(join(dir, "wheels-given"));
    const given = v1.map((wheel) => {
      const inspected = inspectWheel(wheel.path, { allowPth: true });
      if (!inspected.ok) throw new Error(inspected.error);
      return { ...wheel, entryPoints: inspected.inspection.entryPoints };
    });
    expect(given.some((wheel) => Object.keys(wheel.entryPoints.console_scripts).length > 0)).toBe(true);
    const trees: Array<Map<string, Entry>> = [];
    for (const [name, wheels] of [
      ["own", v1],
      ["given", given],
    ] as const) {
      const venv = join(dir, `ep-${name}`);
      const python = await cloneVenv(template, venv);
      const result = await commitWheels(db, {
        installer: "direct",
        environment: name,
        python,
        wheels,
        auditId: name,
        stateDir: join(dir, `state-ep-${name}`),
        store: false,
      });
      expect(result.ok, result.ok ? "" : result.error).toBe(true);
      trees.push(comparable(await snapshot(venv)));
    }
    const [own, fromVerify] = trees.map(
      (tree) => new Map([...(tree ?? new Map<string, Entry>())].map(([path, entry]) => [path.replace(/^lib\/[^/]+\//, ""), entry])),
    );
    expect(fromVerify).toEqual(own);
  }, 120_000);

  it("says where its time went, part by part, each part once", async () => {
    const python = await cloneVenv(template, join(dir, "timed"));
    const { v1 } = await wheelsFor(join(dir, "wheels-timed"));
    const result = await commitWheels(db, { installer: "direct", environment: "timed", python, wheels: v1, auditId: "t1", stateDir: join(dir, "state-timed") });
    if (!result.ok) throw new Error(result.error);
    const parts = result.timings ?? { stageMs: -1 };
    expect(Object.keys(parts)).toEqual(["stageMs", "lockMs", "inspectMs", "planMs", "backupMs", "writeMs", "compileMs", "finishMs"]);
    const sum = Object.values(parts).reduce((total, ms) => total + ms, 0);
    for (const ms of Object.values(parts)) expect(ms).toBeGreaterThanOrEqual(0);
    // Rounded per part: the parts add up to the whole, within a millisecond each.
    expect(Math.abs(sum - result.durationMs)).toBeLessThanOrEqual(Object.keys(parts).length);
  }, 120_000);

  it("refuses a RECORD that lists a path outside the venv, before removing anything", async () => {
    const venv = join(dir, "escape");
    await cloneVenv(template, venv);
    const site = (await venvRoots(venv))[0] ?? "";
    const distInfo = join(site, "evil-1.0.dist-info");
    await mkdir(distInfo);
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "keep me\n");
    await writeFile(join(site, "evil.py"), "X = 1\n");
    await writeFile(
      join(distInfo, "RECORD"),
      formatRecord([
        { path: "evil.py", hash: "", size: "" },
        { path: victim, hash: "", size: "" },
      ]),
    );
    await expect(uninstallDistribution(distInfo, venv, [site])).rejects.toThrow(/outside the venv/);
    expect(await readFile(victim, "utf8")).toBe("keep me\n");
    expect(await readFile(join(site, "evil.py"), "utf8")).toBe("X = 1\n");
    await writeFile(join(distInfo, "RECORD"), "../../../../../../../../tmp/x,,\n");
    await expect(uninstallDistribution(distInfo, venv, [site])).rejects.toThrow(/outside the venv/);
  });
});

describe("direct installer pieces", () => {
  it("reads and writes RECORD as csv does", () => {
    const rows = parseRecord('a.py,sha256=x,3\r\n"we,ird ""name"".py",,\n\nb/RECORD,,\n');
    expect(rows).toEqual([
      { path: "a.py", hash: "sha256=x", size: "3" },
      { path: 'we,ird "name".py', hash: "", size: "" },
      { path: "b/RECORD", hash: "", size: "" },
    ]);
    expect(parseRecord(formatRecord(rows))).toEqual([...rows].sort((x, y) => (x.path < y.path ? -1 : 1)));
    expect(() => parseRecord("a.py,only-two\n")).toThrow(/not "path,hash,size"/);
    expect(() => parseRecord('"open\n')).toThrow(/quoted/);
  });

  it("writes scripts as pip does", () => {
    expect(fixScriptShebang(Buffer.from("#!python -u\nx\n"), "/v/bin/python").toString()).toBe("#!/v/bin/python\nx\n");
    expect(fixScriptShebang(Buffer.from("#!/bin/sh\nx\n"), "/v/bin/python").toString()).toBe("#!/bin/sh\nx\n");
    expect(shebang("/with space/bin/python")).toBe(`#!/bin/sh\n'''exec' "/with space/bin/python" "$0" "$@"\n' '''`);
    expect(shebang(`/${"x".repeat(130)}/python`)).toMatch(/^#!\/bin\/sh\n/);
    expect(entryPointScript("/v/bin/python", "pkg.mod:obj.call [extra]")).toContain("from pkg.mod import obj\n");
    expect(entryPointScript("/v/bin/python", "pkg.mod:obj.call")).toContain("sys.exit(obj.call())\n");
    expect(() => entryPointScript("/v/bin/python", "pkg.mod")).toThrow(/no callable/);
  });
});
