import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import { createInspector } from "../../src/commit/inspector.js";
import { inspectOnce } from "../../src/commit/interpreter.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { cloneVenv, makeTemplateVenv, removeAll, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// A broker that stays up asks a running interpreter for its inspections: every answer must be the one
// a fresh interpreter gives, whatever the venv did in between and whatever the worker itself does.
let dir: string;
let template: string;
let db: Db;

beforeAll(async () => {
  dir = await scratch("inspector");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

const names = (info: { installed: Array<{ name: string; version: string }> }) => info.installed.map((d) => `${d.name}==${d.version}`).sort();

async function oneShot(python: string, wheels: readonly string[] = []) {
  const answer = await inspectOnce(python, wheels);
  if (!answer.ok) throw new Error(answer.error);
  return answer.value;
}

describe("the inspector of a running interpreter", () => {
  it("answers as a fresh interpreter does, before and after an install, from one process", async () => {
    const python = await cloneVenv(template, join(dir, "fresh"));
    const inspector = createInspector();
    try {
      const before = await inspector.inspect(python, []);
      expect(before.ok && before.value).toEqual(await oneShot(python));
      const wheel = await verifiedWheel(join(dir, "w1"), { name: "insp-lib", version: "1.0", files: { "insp_lib/core.py": "X = 1\n" } });
      const done = await commitWheels(db, { installer: "direct", environment: "fresh", python, wheels: [wheel], auditId: "a1", stateDir: join(dir, "s1") });
      expect(done.ok, done.ok ? "" : done.error).toBe(true);
      const after = await inspector.inspect(python, [wheel.path]);
      if (!after.ok) throw new Error(after.error);
      expect(names(after.value)).toContain("insp-lib==1.0");
      expect(after.value).toEqual(await oneShot(python, [wheel.path]));
      // the same worker answered both
      expect(inspector.workers()).toBe(1);
    } finally {
      inspector.close();
    }
    expect(inspector.workers()).toBe(0);
  }, 120_000);

  it("sees a distribution added behind its back, and restarts when a .pth file appears", async () => {
    const python = await cloneVenv(template, join(dir, "behind"));
    const site = (await venvRoots(join(dir, "behind")))[0] ?? "";
    const inspector = createInspector();
    try {
      await inspector.inspect(python, []);
      const distInfo = join(site, "sneaky-2.0.dist-info");
      await mkdir(distInfo);
      await writeFile(join(distInfo, "METADATA"), "Metadata-Version: 2.1\nName: sneaky\nVersion: 2.0\n");
      const seen = await inspector.inspect(python, []);
      expect(seen.ok && names(seen.value)).toContain("sneaky==2.0");
      // A .pth file can put another directory (with its own distributions) on a fresh interpreter's path.
      const extra = join(dir, "extra-path");
      await mkdir(join(extra, "hidden-3.0.dist-info"), { recursive: true });
      await writeFile(join(extra, "hidden-3.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: hidden\nVersion: 3.0\n");
      await writeFile(join(site, "extra.pth"), `${extra}\n`);
      const restarted = await inspector.inspect(python, []);
      if (!restarted.ok) throw new Error(restarted.error);
      expect(names(restarted.value)).toContain("hidden==3.0");
      expect(restarted.value).toEqual(await oneShot(python));
    } finally {
      inspector.close();
    }
  }, 120_000);

  it("answers inspections asked at once, one after another, each its own", async () => {
    const python = await cloneVenv(template, join(dir, "many"));
    const wheel = await verifiedWheel(join(dir, "w2"), { name: "many-lib", version: "2.0", files: { "many_lib/core.py": "Y = 2\n" } });
    const inspector = createInspector();
    try {
      const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => inspector.inspect(python, i % 2 === 0 ? [] : [wheel.path])));
      const reference = [await oneShot(python), await oneShot(python, [wheel.path])];
      answers.forEach((answer, i) => expect(answer.ok && answer.value).toEqual(reference[i % 2]));
      expect(inspector.workers()).toBe(1);
    } finally {
      inspector.close();
    }
  }, 120_000);

  // A worker is the venv's interpreter: what it prints is read as untrusted, and never changes an answer.
  it.each([
    ["prints a line that is not an answer", 'import sys\nfor line in sys.stdin:\n    print(\'{"ok": {"prefix": 1}}\', flush=True)\n'],
    ["exits at once", "raise SystemExit(0)\n"],
    ["floods its stdout without a newline", "import sys\nsys.stdin.readline()\nwhile True:\n    sys.stdout.write('x' * 65536)\n"],
    ["claims another venv", "import sys, json\nfor line in sys.stdin:\n    print(json.dumps({'ok': {'prefix': '/elsewhere'}}), flush=True)\n"],
  ])(
    "falls back to a one-shot inspection when the worker %s",
    async (_, code) => {
      const python = await cloneVenv(template, join(dir, `hostile-${code.length}`));
      const inspector = createInspector({ spawnWorker: (exe) => spawn(exe, ["-I", "-c", code], { stdio: ["pipe", "pipe", "pipe"] }) });
      try {
        const answer = await inspector.inspect(python, []);
        expect(answer.ok && answer.value).toEqual(await oneShot(python));
        expect(inspector.workers()).toBe(0);
      } finally {
        inspector.close();
      }
    },
    120_000,
  );
});
