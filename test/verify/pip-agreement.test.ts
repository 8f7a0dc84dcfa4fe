import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { inspectWheel } from "../../src/verify/wheel.js";
import { buildWheel, type BuiltDist } from "../fixtures/dists.js";
import { HOSTILE_MARKER, pthWheel } from "../fixtures/hostile.js";
import { createVenv, runPip, runPython } from "../fixtures/pip.js";

// What inspection says must agree with what real pip does with the same file: a wheel that passes
// installs, and the .pth it refuses really runs at every start-up once pip has installed it.
let dir = "";
let python = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pipgate-verify-pip-"));
  python = await createVenv(join(dir, "venv"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(dist: BuiltDist): string {
  const path = join(dir, dist.filename);
  writeFileSync(path, dist.bytes);
  return path;
}

describe("inspection agrees with pip", () => {
  it("a wheel that passes installs with pip, and its console script is the one inspection listed", async () => {
    const path = save(buildWheel({ name: "agree-pkg", version: "2.0", entryPoints: { "agree-cli": "agree_pkg:main" } }));
    const inspected = inspectWheel(path, { allowPth: false });
    expect(inspected).toMatchObject({
      ok: true,
      inspection: { problems: [], entryPoints: { console_scripts: { "agree-cli": "agree_pkg:main" } } },
    });
    const install = await runPip(python, "install", ["--no-index", "--no-deps", path]);
    expect(install.exitCode, install.stderr).toBe(0);
    expect(existsSync(join(dir, "venv", "bin", "agree-cli"))).toBe(true);
  });

  it("the .pth file inspection refuses runs in every later interpreter once pip installs it", async () => {
    const path = save(pthWheel("pth-agree"));
    const inspected = inspectWheel(path, { allowPth: false });
    expect(inspected).toMatchObject({ ok: true, inspection: { pthFiles: ["pth-agree.pth"] } });
    if (inspected.ok) expect(inspected.inspection.problems).toHaveLength(1);

    const before = await runPython(python, "pass");
    expect(before.stderr).not.toContain(HOSTILE_MARKER);
    const install = await runPip(python, "install", ["--no-index", "--no-deps", path]);
    expect(install.exitCode, install.stderr).toBe(0);
    const after = await runPython(python, "pass");
    expect(after.stderr).toContain(`${HOSTILE_MARKER} pth executed`);
  });
});
