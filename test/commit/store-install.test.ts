import { createHash } from "node:crypto";
import { chmod, lstat, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import { parseRecord } from "../../src/commit/direct-record.js";
import type { VerifiedWheel } from "../../src/commit/request.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { cloneVenv, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// One wheel installed from one store into several venvs: each is file-identical to the venv's own pip
// install, a write in place in one venv reaches neither another venv nor the store, and a store entry
// changed behind pipgate's back is caught and made again before any venv gets its bytes.
let dir: string;
let template: string;
let db: Db;
let wheel: VerifiedWheel;
const stateDir = (): string => join(dir, "state");

beforeAll(async () => {
  dir = await scratch("store-install");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
  wheel = await verifiedWheel(join(dir, "wheels"), {
    name: "shared-pkg",
    version: "1.0",
    entryPoints: { "shared-cli": "shared_pkg:main" },
    files: {
      "shared_pkg/core.py": "VALUE = 'pristine'\n",
      "shared_pkg/sub/__init__.py": "",
      "shared_pkg/sub/deep.py": "def f():\n    return 7\n",
      "shared_pkg/data.bin": Buffer.from([0, 1, 2, 3, 255]),
      "shared_pkg-1.0.data/data/share/shared/readme.txt": "readme\n",
      "shared_pkg-1.0.data/scripts/shared-tool": "#!python\nprint('tool')\n",
    },
  });
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

/** Every file under the venv: path → mode and contents, RECORD, INSTALLER and .pyc opaque (they name their installer and mtimes). */
async function snapshot(venv: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const st = await lstat(full);
        const rel = relative(venv, full).split(sep).join("/");
        const opaque = rel.endsWith("/RECORD") || rel.endsWith("/INSTALLER") || rel.endsWith(".pyc") || entry.isSymbolicLink();
        const content = opaque ? "" : (await readFile(full)).toString("latin1").replaceAll(venv, "VENV");
        out.set(rel, `${(st.mode & 0o777).toString(8)} ${content}`);
      }
    }
  };
  await walk(venv);
  return out;
}

async function install(name: string, installer: "pip" | "direct" = "direct"): Promise<{ venv: string; python: string; site: string }> {
  const venv = join(dir, name);
  const python = await cloneVenv(template, venv);
  const result = await commitWheels(db, {
    installer,
    environment: name,
    python,
    wheels: [wheel],
    auditId: `a-${name}`,
    stateDir: installer === "pip" ? join(dir, "state-pip") : stateDir(),
  });
  expect(result.ok, JSON.stringify(result)).toBe(true);
  return { venv, python, site: (await venvRoots(venv))[0] ?? "" };
}

/** The store's one entry and the path of one of its files. */
async function storeFile(endsWith: string): Promise<string> {
  const entries = await readdir(join(stateDir(), "store", "entries"));
  expect(entries).toHaveLength(1);
  const found = await findUnder(join(stateDir(), "store", "entries", entries[0] ?? ""), endsWith);
  if (found === undefined) throw new Error(`no ${endsWith} in the store`);
  return found;
}

async function findUnder(root: string, endsWith: string): Promise<string | undefined> {
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const full = join(root, entry.name);
    if (entry.isDirectory()) {
      const found = await findUnder(full, endsWith);
      if (found !== undefined) return found;
    } else if (full.endsWith(endsWith)) return full;
  }
  return undefined;
}

describe("installing from the wheel store", () => {
  let byPip: Map<string, string>;
  let a: Awaited<ReturnType<typeof install>>;
  let b: Awaited<ReturnType<typeof install>>;

  it("installs the same wheel into two venvs from one entry, each file-identical to pip's install, .pyc valid", async () => {
    const pip = await install("by-pip", "pip");
    byPip = await snapshot(pip.venv);
    a = await install("venv-a");
    b = await install("venv-b");
    expect(await readdir(join(stateDir(), "store", "entries"))).toHaveLength(1);
    for (const venv of [a, b]) {
      const snap = await snapshot(venv.venv);
      expect([...snap.keys()].sort()).toEqual([...byPip.keys()].sort());
      // pip keeps a .data script's (absent) zip mode; the direct installer makes it executable, as before the store.
      const mine = new Map([...snap].filter(([p]) => p !== "bin/shared-tool"));
      const theirs = new Map([...byPip].filter(([p]) => p !== "bin/shared-tool"));
      expect(mine).toEqual(theirs);
      expect(snap.get("bin/shared-tool")?.split(" ").slice(1).join(" ")).toBe(byPip.get("bin/shared-tool")?.split(" ").slice(1).join(" "));

      // RECORD: pip's rows, the same hashes; .pyc listed without one, as pip lists them.
      const distInfo = (v: string): string => join(v, "shared_pkg-1.0.dist-info");
      const rows = parseRecord(await readFile(join(distInfo(venv.site), "RECORD"), "utf8"));
      const pipRows = parseRecord(await readFile(join(distInfo(pip.site), "RECORD"), "utf8"));
      // Scripts name their venv's interpreter, so their hashes differ by venv (checked against the bytes below).
      const norm = (rs: typeof rows) =>
        new Map(rs.filter((r) => !r.path.endsWith("/INSTALLER")).map((r) => [r.path, r.path.startsWith("../../../bin/") ? "script" : r.hash]));
      expect(norm(rows)).toEqual(norm(pipRows));
      for (const row of rows.filter((r) => r.hash !== "")) {
        const bytes = await readFile(join(venv.site, row.path));
        expect(row.hash).toBe(`sha256=${createHash("sha256").update(bytes).digest("base64url")}`);
      }

      // The copied .pyc matches its copied source: importing reads it and writes nothing.
      const pyc = join(venv.site, "shared_pkg", "sub", "__pycache__", "deep.cpython-311.pyc");
      const before = await stat(pyc, { bigint: true });
      expect(await runPython(venv.python, "import sys; sys.dont_write_bytecode = False; import shared_pkg.sub.deep as d; print(d.f(), d.__cached__)")).toBe(
        `7 ${pyc}`,
      );
      const after = await stat(pyc, { bigint: true });
      expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
      // A private inode per venv (the default copy mode): never the store's.
      expect(before.nlink).toBe(1n);
    }
  });

  it("a write in place in one venv changes neither the other venv nor what the store gives the next install", async () => {
    const target = join(a.site, "shared_pkg", "core.py");
    await writeFile(target, "VALUE = 'tampered'\n"); // same inode, written in place
    expect(await readFile(join(b.site, "shared_pkg", "core.py"), "utf8")).toBe("VALUE = 'pristine'\n");
    expect(await readFile(await storeFile("lib/shared_pkg/core.py"), "utf8")).toBe("VALUE = 'pristine'\n");
    const c = await install("venv-c");
    expect(await readFile(join(c.site, "shared_pkg", "core.py"), "utf8")).toBe("VALUE = 'pristine'\n");
    expect(await runPython(c.python, "import shared_pkg.core as m; print(m.VALUE)")).toBe("pristine");
  });

  it("a store entry changed behind pipgate's back is detected and made again; the next venv gets the verified bytes", async () => {
    const stored = await storeFile("lib/shared_pkg/sub/deep.py");
    const entry = stored.slice(0, stored.indexOf("/tree/"));
    await chmod(stored, 0o644);
    await writeFile(stored, "def f():\n    return 666\n");
    const d = await install("venv-d");
    expect(await readFile(join(d.site, "shared_pkg", "sub", "deep.py"), "utf8")).toBe("def f():\n    return 7\n");
    expect(await runPython(d.python, "import shared_pkg.sub.deep as m; print(m.f())")).toBe("7");
    // The entry was remade: the same key, its file back to the wheel's bytes.
    expect(await readFile(await storeFile("lib/shared_pkg/sub/deep.py"), "utf8")).toBe("def f():\n    return 7\n");
    expect((await storeFile("lib/shared_pkg/sub/deep.py")).startsWith(entry)).toBe(true);
    expect(await readdir(join(stateDir(), "store", "trash"))).toEqual([]);
  });
});
