import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readFile, readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processTag } from "../../src/state/process.js";
import { evictStore, openEntry, sweepStore, type HeldEntry, type LinkMode } from "../../src/commit/store.js";
import { storeKey, type StoreInterpreter } from "../../src/commit/store-manifest.js";
import { removeAll, scratch, verifiedWheel } from "./helpers.js";

// The store of unpacked, byte-compiled wheels on its own: keying, the manifest, atomic making,
// tamper detection (each entry is checked before use and remade when it fails), eviction and the sweep.
let dir: string;
let python: string;
let interpreter: StoreInterpreter;

beforeAll(async () => {
  dir = await scratch("store");
  const run = await execa("python3", [
    "-I",
    "-c",
    "import sys, importlib.util; print(sys.executable); print(sys.implementation.cache_tag); print(importlib.util.MAGIC_NUMBER.hex())",
  ]);
  const [exe = "", cacheTag = "", magic = ""] = run.stdout.trim().split("\n");
  python = exe;
  interpreter = { cacheTag, magic };
});
afterAll(() => removeAll(dir));

let counter = 0;
async function wheel(files: Record<string, string> = {}): Promise<{ file: string; sha256: string }> {
  counter += 1;
  const name = `store-demo${counter}`;
  const w = await verifiedWheel(join(dir, "wheels", String(counter)), {
    name,
    version: "1.0",
    entryPoints: { [`${name}-cli`]: `store_demo${counter}:main` },
    files: {
      [`store_demo${counter}/sub/mod.py`]: "X = 41 + 1\n",
      [`store_demo${counter}-1.0.data/data/share/demo/notes.txt`]: "notes\n",
      [`store_demo${counter}-1.0.data/scripts/tool`]: "#!python\nprint('tool')\n",
      ...files,
    },
  });
  return { file: w.path, sha256: w.sha256 };
}

async function open(storeDir: string, w: { file: string; sha256: string }, mode: LinkMode = "copy"): Promise<HeldEntry> {
  const held = await openEntry(storeDir, w, python, interpreter, mode);
  if (!held.ok) throw new Error(held.error);
  return held.value;
}

describe("the wheel store", () => {
  it("keys an entry by the wheel's sha256, the cache tag and the bytecode magic, and nothing else", () => {
    const base = storeKey("a".repeat(64), { cacheTag: "cpython-311", magic: "a70d0d0a" });
    expect(storeKey("a".repeat(64), { cacheTag: "cpython-311", magic: "a70d0d0a" })).toBe(base);
    expect(storeKey("b".repeat(64), { cacheTag: "cpython-311", magic: "a70d0d0a" })).not.toBe(base);
    expect(storeKey("a".repeat(64), { cacheTag: "cpython-312", magic: "a70d0d0a" })).not.toBe(base);
    expect(storeKey("a".repeat(64), { cacheTag: "cpython-311", magic: "a80d0d0a" })).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });

  it("makes an entry once, with a manifest of every file (size, sha256, mode) and the .pyc the interpreter writes", async () => {
    const storeDir = join(dir, "s-make");
    const w = await wheel();
    const first = await open(storeDir, w);
    expect(first.how).toBe("made");
    const { manifest } = first;
    expect(manifest.wheel.sha256).toBe(w.sha256);
    expect(manifest.entryPoints.console_scripts).toEqual({ [`store-demo${counter}-cli`]: `store_demo${counter}:main` });
    const byPath = new Map(manifest.files.map((f) => [`${f.scheme}/${f.path}`, f]));
    expect(byPath.has(`lib/store_demo${counter}/sub/mod.py`)).toBe(true);
    expect(byPath.get(`lib/store_demo${counter}/sub/__pycache__/mod.${interpreter.cacheTag}.pyc`)?.pyc).toBe(true);
    expect(byPath.get("data/share/demo/notes.txt")?.pyc).toBe(false);
    expect(byPath.get("scripts/tool")?.mode).toBe(0o755);
    expect([...byPath.keys()].some((p) => p.endsWith("/RECORD"))).toBe(false);
    for (const file of manifest.files) {
      const path = first.pathOf(file);
      const bytes = await readFile(path);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(file.sha256);
      expect(bytes.length).toBe(file.size);
      // Read-only: nothing writes into an entry once it is made.
      expect((await stat(path)).mode & 0o222).toBe(0);
    }
    expect(manifest.bytes).toBe(manifest.files.reduce((s, f) => s + f.size, 0));
    // The .pyc is valid for its source: the interpreter loads it without rewriting it.
    const pyc = byPath.get(`lib/store_demo${counter}/sub/__pycache__/mod.${interpreter.cacheTag}.pyc`);
    const src = byPath.get(`lib/store_demo${counter}/sub/mod.py`);
    if (pyc === undefined || src === undefined) throw new Error("missing");
    const check = await execa(python, [
      "-I",
      "-c",
      "import sys, importlib.util as u, importlib._bootstrap_external as b, os\n" +
        "src, pyc = sys.argv[1], sys.argv[2]\n" +
        "data = open(pyc, 'rb').read()\n" +
        "st = os.stat(src)\n" +
        "b._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, 'mod', {})\n" +
        "print(data[:4] == u.MAGIC_NUMBER)",
      first.pathOf(src),
      first.pathOf(pyc),
    ]);
    expect(check.stdout.trim()).toBe("True");
    await first.release();

    const again = await open(storeDir, w);
    expect(again.how).toBe("hit");
    expect(again.dir).toBe(first.dir);
    await again.release();
    expect(await readdir(join(storeDir, "entries"))).toHaveLength(1);
    // Nothing is left of the making: the temporary directory was renamed into place.
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);
  });

  it("refuses a wheel inspection finds a problem in, and leaves nothing behind", async () => {
    const storeDir = join(dir, "s-refuse");
    const w = await wheel({ "sitecustomize.py": "print('hi')\n" });
    const held = await openEntry(storeDir, w, python, interpreter, "copy");
    expect(held.ok).toBe(false);
    expect(!held.ok && held.error).toMatch(/sitecustomize/);
    expect(await readdir(join(storeDir, "entries")).catch(() => [])).toEqual([]);
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);
  });

  it("refuses a wheel whose bytes are not the sha256 it is keyed by", async () => {
    const storeDir = join(dir, "s-hash");
    const w = await wheel();
    const held = await openEntry(storeDir, { ...w, sha256: "0".repeat(64) }, python, interpreter, "copy");
    expect(!held.ok && held.error).toMatch(/changed since it was hashed/);
  });

  for (const mode of ["copy", "hardlink"] as const) {
    it(`detects (${mode}) a stored file changed in place with its size and mtime put back, and remakes the entry`, async () => {
      const storeDir = join(dir, `s-tamper-${mode}`);
      const w = await wheel();
      const first = await open(storeDir, w, mode);
      await first.release();
      const file = first.manifest.files.find((f) => f.path.endsWith("sub/mod.py"));
      if (file === undefined) throw new Error("no mod.py");
      const path = first.pathOf(file);
      const before = await stat(path);
      await chmod(path, 0o644);
      await writeFile(path, "X = 66 + 6\n");
      await chmod(path, 0o444);
      await utimes(path, before.atime, before.mtime);
      expect((await stat(path)).size).toBe(before.size);

      const next = await open(storeDir, w, mode);
      expect(next.how).toBe("remade");
      expect(await readFile(next.pathOf(file), "utf8")).toBe("X = 41 + 1\n");
      await next.release();
      expect(await readdir(join(storeDir, "entries"))).toHaveLength(1);
    });
  }

  it("copy mode does not trust an entry whose file another name links to", async () => {
    const storeDir = join(dir, "s-nlink");
    const w = await wheel();
    const first = await open(storeDir, w, "copy");
    await first.release();
    const file = first.manifest.files[0];
    if (file === undefined) throw new Error("empty");
    await execa("ln", [first.pathOf(file), join(dir, "s-nlink-extra-link")]);
    expect((await open(storeDir, w, "copy")).how).toBe("remade");
  });

  it("remakes an entry whose manifest is gone or unreadable", async () => {
    const storeDir = join(dir, "s-manifest");
    const w = await wheel();
    const first = await open(storeDir, w);
    await first.release();
    await chmod(join(first.dir, "manifest.json"), 0o600);
    await writeFile(join(first.dir, "manifest.json"), "{not json");
    const next = await open(storeDir, w);
    expect(next.how).toBe("remade");
    await next.release();
    await execa("rm", ["-f", join(first.dir, "manifest.json")]);
    const third = await open(storeDir, w);
    expect(third.how).toBe("made");
    await third.release();
  });

  it("evicts least recently used entries down to the cap, never one in use or one a live process marked", async () => {
    const storeDir = join(dir, "s-evict");
    const a = await open(storeDir, await wheel());
    await a.release();
    const b = await open(storeDir, await wheel());
    const c = await open(storeDir, await wheel());
    await c.release();
    // c was used after a: with room for one entry, a goes first.
    await utimes(join(a.dir, "users"), new Date(1_000_000), new Date(1_000_000));
    const room = c.manifest.bytes + b.manifest.bytes;
    const first = await evictStore(storeDir, room);
    expect(first.evicted).toEqual([a.dir.split("/").pop()]);
    // With room for nothing, b stays while it is held.
    const second = await evictStore(storeDir, 0);
    expect(second.evicted).toEqual([c.dir.split("/").pop()]);
    expect((await lstat(join(b.dir, "manifest.json"))).isFile()).toBe(true);
    await b.release();
    // A marker of a dead process does not keep an entry.
    await writeFile(join(b.dir, "users", `${processTag({ pid: 999_999_999, start: "1", host: "" })}-dead`), "");
    expect((await evictStore(storeDir, 0)).evicted).toEqual([b.dir.split("/").pop()]);
    expect(await readdir(join(storeDir, "entries"))).toEqual([]);
    expect(await readdir(join(storeDir, "trash"))).toEqual([]);
  });

  it("start-up sweeps what a dead process was making or removing, never a live one's", async () => {
    const stateDir = join(dir, "s-sweep");
    const storeDir = join(stateDir, "store");
    const dead = processTag({ pid: 999_999_999, start: "1", host: "" });
    await mkdir(join(storeDir, "tmp", `make-${dead}-abc`, "tree"), { recursive: true });
    await mkdir(join(storeDir, "trash", `evict-${dead}-abc`, "entry"), { recursive: true });
    const live = processTag({ pid: process.pid, start: null, host: "" });
    await mkdir(join(storeDir, "tmp", `make-${live}-def`), { recursive: true });
    const removed = await sweepStore(stateDir);
    expect(removed.map((p) => p.slice(storeDir.length + 1)).sort()).toEqual([`tmp/make-${dead}-abc`, `trash/evict-${dead}-abc`]);
    expect(await readdir(join(storeDir, "tmp"))).toEqual([`make-${live}-def`]);
  });
});
