import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { commitWheels } from "../../src/commit/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildWheel } from "../fixtures/dists.js";
import { readZip } from "../fixtures/zip.js";
import { cloneVenv, makeTemplateVenv, removeAll, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// DESIGN property 7: ambient pip configuration can neither widen nor change what gets installed.
let top: string;
let template: string;
const saved = { ...process.env };

beforeAll(async () => {
  top = await scratch("isolation");
  template = await makeTemplateVenv(top);
});
// Each run poisons process.env; the next run's control pip must start from the runner's own.
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
afterAll(async () => {
  await removeAll(top);
});

describe.each(["pip", "direct"] as const)("the commit (%s installer) ignores ambient configuration", (installer) => {
  it("installs the verified bytes although env vars, pip.conf files and PYTHONPATH point elsewhere", async () => {
    const dir = join(top, installer);
    await mkdir(dir);
    const spec = { name: "demo", version: "1.0", files: { "demo/origin.py": "ORIGIN = 'verified'\n" } };
    const verified = await verifiedWheel(join(dir, "verified"), spec);

    // A different wheel of the same name and version, under the same filename and with a build tag
    // (which pip would prefer), where every ambient setting points.
    const ambient = join(dir, "ambient");
    await mkdir(ambient);
    const other = buildWheel({ ...spec, files: { "demo/origin.py": "ORIGIN = 'ambient'\n" } });
    await writeFile(join(ambient, other.filename), other.bytes);
    await writeFile(join(ambient, other.filename.replace("-py3-", "-1-py3-")), other.bytes);
    const conf = `[global]\nfind-links = ${ambient}\nno-index = true\n[install]\nno-compile = true\n`;
    const home = join(dir, "home");
    for (const sub of [".config/pip", ".pip"]) {
      await mkdir(join(home, sub), { recursive: true });
      await writeFile(join(home, sub, "pip.conf"), conf);
    }
    const hostileEnv = {
      HOME: home,
      XDG_CONFIG_HOME: join(home, ".config"),
      PIP_FIND_LINKS: ambient,
      PIP_INDEX_URL: "http://127.0.0.1:9/simple",
      PIP_EXTRA_INDEX_URL: "http://127.0.0.1:9/extra",
      PIP_NO_COMPILE: "1",
      PIP_TARGET: join(dir, "hijacked-target"),
    };

    // Control: the same settings really steer an unisolated pip to the other wheel.
    const control = join(dir, "control");
    await execa(join(template, "bin", "python"), ["-m", "pip", "install", "--no-deps", "--target", control, "demo==1.0"], {
      env: { ...hostileEnv, PIP_TARGET: undefined },
    });
    expect(await readFile(join(control, "demo", "origin.py"), "utf8")).toBe("ORIGIN = 'ambient'\n");

    // A shadowing `pip` package on PYTHONPATH would break (or replace) pip if it were honoured.
    const shadow = join(dir, "shadow");
    await mkdir(join(shadow, "pip"), { recursive: true });
    await writeFile(join(shadow, "pip", "__init__.py"), "raise SystemExit('shadow pip ran')\n");
    await writeFile(join(shadow, "pip", "__main__.py"), "raise SystemExit('shadow pip ran')\n");
    Object.assign(process.env, hostileEnv, { PYTHONPATH: shadow, PIP_CONFIG_FILE: join(home, ".pip", "pip.conf") });

    const venv = join(dir, "venv");
    const python = await cloneVenv(template, venv);
    const db = openMemoryDb();
    const result = await commitWheels(db, {
      installer,
      environment: "iso",
      python,
      wheels: [verified],
      auditId: "i-1",
      stateDir: join(dir, "state"),
    });
    db.close();
    expect(result).toMatchObject({ ok: true, installed: [{ name: "demo", version: "1.0" }] });

    const site = (await venvRoots(venv))[0] ?? "";
    const wheelFiles = readZip(await readFile(verified.path));
    for (const file of ["demo/origin.py", "demo/__init__.py"]) {
      expect(await readFile(join(site, file))).toEqual(wheelFiles.get(file));
    }
    // pip's default byte-compiling happened: PIP_NO_COMPILE and no-compile in pip.conf were ignored.
    expect((await readdir(join(site, "demo", "__pycache__"))).length).toBeGreaterThan(0);
    expect(existsSync(join(dir, "hijacked-target"))).toBe(false);
  });
});
