import { lstat, readFile, readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { cloneVenv, makeTemplateVenv, removeAll, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// pip's own marks on what it installs, against a real `pip install` of the same wheels in a twin venv:
// REQUESTED only on the distribution asked for (not on the dependency it pulled in), no
// direct_url.json (the wheels come from an index, not a URL), and INSTALLER naming the installer —
// "pip" from pip, "pipgate" from the direct installer, which is what wrote those files.
let dir: string;
let template: string;
let db: Db;

beforeAll(async () => {
  dir = await scratch("requested");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

/** Every file under the dist-info directories of site-packages, relative to it, with its contents. */
async function distInfoFiles(venv: string): Promise<Map<string, string>> {
  const [site = ""] = await venvRoots(venv);
  const out = new Map<string, string>();
  for (const entry of (await readdir(site)).filter((e) => e.endsWith(".dist-info") && !/^(pip|setuptools)-/.test(e))) {
    for (const file of await readdir(join(site, entry))) {
      const path = join(site, entry, file);
      if ((await lstat(path)).isFile()) out.set(relative(site, path), await readFile(path, "utf8"));
    }
  }
  return out;
}

describe("the direct installer marks what it installs as pip does", () => {
  it("REQUESTED only on the requested distribution, no direct_url.json, INSTALLER names the installer", async () => {
    const wheels = join(dir, "wheels");
    const lib = await verifiedWheel(wheels, { name: "rq-lib", version: "1.0" });
    const app = await verifiedWheel(wheels, { name: "rq-app", version: "1.0", dependencies: ["rq-lib"] });
    const byPip = join(dir, "by-pip");
    const pipPython = await cloneVenv(template, byPip);
    await execa(pipPython, ["-I", "-m", "pip", "--disable-pip-version-check", "install", "--no-index", "--find-links", wheels, "rq-app==1.0"], {
      env: { PIP_CONFIG_FILE: "/dev/null" },
    });
    const byDirect = join(dir, "by-direct");
    const directPython = await cloneVenv(template, byDirect);
    const result = await commitWheels(db, {
      installer: "direct",
      environment: "rq",
      python: directPython,
      wheels: [app, lib],
      requested: ["rq-app"],
      auditId: "rq",
      stateDir: join(dir, "state"),
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);

    const pipFiles = await distInfoFiles(byPip);
    const directFiles = await distInfoFiles(byDirect);
    expect([...directFiles.keys()].sort()).toEqual([...pipFiles.keys()].sort());
    for (const files of [pipFiles, directFiles]) {
      expect(files.has("rq_app-1.0.dist-info/REQUESTED")).toBe(true);
      expect(files.has("rq_lib-1.0.dist-info/REQUESTED")).toBe(false);
      expect([...files.keys()].some((k) => k.endsWith("direct_url.json"))).toBe(false);
    }
    expect(pipFiles.get("rq_lib-1.0.dist-info/INSTALLER")).toBe("pip\n");
    expect(directFiles.get("rq_lib-1.0.dist-info/INSTALLER")).toBe("pipgate\n");
    // RECORD lists REQUESTED where it exists, in both.
    expect(directFiles.get("rq_app-1.0.dist-info/RECORD")).toContain("rq_app-1.0.dist-info/REQUESTED,");
    expect(directFiles.get("rq_lib-1.0.dist-info/RECORD")).not.toContain("REQUESTED");
    expect(pipFiles.get("rq_lib-1.0.dist-info/RECORD")).not.toContain("REQUESTED");
  });

  it("byte-compiles a wheel of hundreds of modules (one process per core) to the same code objects as pip", async () => {
    const wheels = join(dir, "big-wheels");
    const files = Object.fromEntries(Array.from({ length: 450 }, (_, i) => [`rq_big/m${String(i)}.py`, `def f(x):\n    return x + ${String(i)}\n`]));
    const big = await verifiedWheel(wheels, { name: "rq-big", version: "1.0", files });
    // Names of one length: the code objects embed their source's path, length-prefixed.
    const byPip = join(dir, "big-pip");
    const pipPython = await cloneVenv(template, byPip);
    await execa(pipPython, ["-I", "-m", "pip", "--disable-pip-version-check", "install", "--no-index", "--find-links", wheels, "rq-big==1.0"], {
      env: { PIP_CONFIG_FILE: "/dev/null" },
    });
    const byDirect = join(dir, "big-dir");
    const directPython = await cloneVenv(template, byDirect);
    const result = await commitWheels(db, {
      installer: "direct",
      environment: "rq-big",
      python: directPython,
      wheels: [big],
      auditId: "rq-big",
      stateDir: join(dir, "state"),
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    // The code objects as the import system loads them: it sets each one's co_filename to the module's
    // real path (the store compiles once for every venv, so the bytes name the file relative to its
    // root, where pip's name the venv). The header's mtime differs between the twins; the code must not.
    const LOAD = [
      "import sys, os, json, marshal, _imp",
      "cache, venv = sys.argv[1], sys.argv[2]",
      "out = {}",
      "for name in sorted(os.listdir(cache)):",
      "    with open(os.path.join(cache, name), 'rb') as f: code = marshal.loads(f.read()[16:])",
      "    _imp._fix_co_filename(code, os.path.join(os.path.dirname(cache), name.split('.')[0] + '.py'))",
      "    out[name] = marshal.dumps(code).replace(venv.encode(), b'VENV').hex()",
      "print(json.dumps(out))",
    ].join("\n");
    const pycs = async (venv: string): Promise<Map<string, string>> => {
      const [site = ""] = await venvRoots(venv);
      const loaded = await execa(directPython, ["-I", "-c", LOAD, join(site, "rq_big", "__pycache__"), venv]);
      return new Map(Object.entries(JSON.parse(loaded.stdout) as Record<string, string>));
    };
    const [fromPip, fromDirect] = [await pycs(byPip), await pycs(byDirect)];
    expect(fromDirect.size).toBe(451);
    expect([...fromDirect.keys()].sort()).toEqual([...fromPip.keys()].sort());
    for (const [name, code] of fromPip) expect(fromDirect.get(name), name).toBe(code);
  });
});
