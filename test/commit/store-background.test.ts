import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import type { VerifiedWheel } from "../../src/commit/request.js";
import { createStoreBuilder } from "../../src/commit/store-background.js";
import { silentLogger } from "../../src/log.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { cloneVenv, makeTemplateVenv, removeAll, runPython, scratch, verifiedWheel } from "./helpers.js";

// A wheel's first install need not wait for its store entry: with a builder, a cold wheel is installed
// directly (the same files as the store would give) and its entry is made afterwards; the next install
// of it links from that entry.
let dir: string;
let template: string;
let db: Db;
let wheel: VerifiedWheel;
const stateDir = (): string => join(dir, "state");

beforeAll(async () => {
  dir = await scratch("store-background");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
  wheel = await verifiedWheel(join(dir, "wheels"), {
    name: "cold-pkg",
    version: "1.0",
    entryPoints: { "cold-cli": "cold_pkg:main" },
    files: { "cold_pkg/core.py": "VALUE = 'cold'\n", "cold_pkg/sub/deep.py": "def f():\n    return 7\n" },
  });
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

/** Every file under the venv but RECORD, INSTALLER and .pyc (they name their installer and mtimes): path → mode and contents. */
async function snapshot(venv: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const rel = relative(venv, full).split(sep).join("/");
        const opaque = rel.endsWith("/RECORD") || rel.endsWith("/INSTALLER") || rel.endsWith(".pyc") || entry.isSymbolicLink();
        const content = opaque ? "" : (await readFile(full)).toString("latin1").replaceAll(venv, "VENV");
        out.set(rel, `${((await lstat(full)).mode & 0o777).toString(8)} ${content}`);
      }
    }
  };
  await walk(venv);
  return out;
}

describe("a cold wheel's store entry made after its commit", () => {
  it("installs the first time directly, makes the entry afterwards, and the next install links from it", async () => {
    const builder = createStoreBuilder(silentLogger());
    const install = async (name: string, link: "copy" | "hardlink", state: string, withBuilder: boolean) => {
      const venv = join(dir, name);
      const python = await cloneVenv(template, venv);
      const result = await commitWheels(
        db,
        { installer: "direct", environment: name, python, wheels: [wheel], auditId: `a-${name}`, stateDir: state, link },
        undefined,
        withBuilder ? { storeBuilder: builder } : {},
      );
      expect(result.ok, JSON.stringify(result)).toBe(true);
      return { venv, python };
    };
    // The same wheel installed the way before this change (entry first, then linked), for comparison.
    const inline = await install("inline", "copy", join(dir, "state-inline"), false);
    const first = await install("first", "copy", stateDir(), true);
    expect(await snapshot(first.venv)).toEqual(await snapshot(inline.venv));
    expect(await runPython(first.python, "import cold_pkg.sub.deep as d; print(d.f())")).toBe("7");
    // The compiled files are there, as an install from the store would leave them.
    expect(await readdir(join(first.venv, "lib", "python3.11", "site-packages", "cold_pkg", "sub", "__pycache__"))).toEqual(["deep.cpython-311.pyc"]);

    await builder.idle();
    const entries = await readdir(join(stateDir(), "store", "entries"));
    expect(entries).toHaveLength(1);
    // The kept copy of the wheel is gone once its entry is made.
    expect(await readdir(join(stateDir(), "store", "tmp"))).toEqual([]);

    // The second install links: with hardlink mode its file is the entry's inode.
    const second = await install("second", "hardlink", stateDir(), true);
    const installed = await lstat(join(second.venv, "lib", "python3.11", "site-packages", "cold_pkg", "core.py"), { bigint: true });
    const stored = await lstat(join(stateDir(), "store", "entries", entries[0] ?? "", "tree", "lib", "cold_pkg", "core.py"), { bigint: true });
    expect(installed.ino).toBe(stored.ino);
    // Hardlinked files keep the store's read-only modes; the same files, the same bytes.
    const strip = (snap: Map<string, string>) => new Map([...snap].map(([path, value]) => [path, value.slice(value.indexOf(" ") + 1)]));
    expect(strip(await snapshot(second.venv))).toEqual(strip(await snapshot(inline.venv)));
  });
});
