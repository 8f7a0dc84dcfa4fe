import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, type CommitResult } from "../../src/commit/index.js";
import type { VerifiedWheel } from "../../src/commit/request.js";
import { openMemoryDb, type Db } from "../../src/state/db.js";
import { runPip } from "../fixtures/pip.js";
import { cloneVenv, hashTree, makeTemplateVenv, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";

// Under the environment lock the commit reads the environment again and refuses a set that no longer
// fits it, before anything is written: the pipeline's earlier check may have seen an older state.
let dir: string;
let template: string;
let db: Db;
let counter = 0;
const INSTALLERS = ["pip", "direct"] as const;

beforeAll(async () => {
  dir = await scratch("consistency");
  template = await makeTemplateVenv(dir);
  db = openMemoryDb();
});
afterAll(async () => {
  db.close();
  await removeAll(dir);
});

describe.each(INSTALLERS)("the commit's own check under the lock, with the %s installer", (installer) => {
  async function freshVenv(): Promise<{ python: string; venv: string; commit: (wheels: VerifiedWheel[]) => Promise<CommitResult> }> {
    counter += 1;
    const path = join(dir, `venv-${counter}`);
    const python = await cloneVenv(template, path);
    const stateDir = join(dir, `state-${counter}`);
    await mkdir(stateDir, { recursive: true });
    return {
      python,
      venv: path,
      commit: (wheels) => commitWheels(db, { installer, environment: "target", python, wheels, auditId: `c-${counter}`, stateDir }),
    };
  }
  const wheel = async (spec: Parameters<typeof verifiedWheel>[1]) => verifiedWheel(join(dir, `w-${installer}-${spec.name}-${spec.version}`), spec);
  // six as it is: one module file, six.py, at the top of site-packages.
  const sixLike = (version: string) => ({ name: "six", version, module: "six_meta", files: { "six.py": `__version__ = "${version}"\n` } });
  const pipCheck = async (python: string) => runPip(python, "check", []);

  it("refuses a set resolved before a conflicting commit landed, naming who requires what", async () => {
    const { python, venv, commit } = await freshVenv();
    const a = [await wheel({ name: "aud-a", version: "1.0", dependencies: ["aud-lib<2"] }), await wheel({ name: "aud-lib", version: "1.5" })];
    // Both sets were resolved against the empty venv; aud-a's commit wins the lock.
    const b = [await wheel({ name: "aud-b", version: "1.0", dependencies: ["aud-lib>=2"] }), await wheel({ name: "aud-lib", version: "2.0" })];
    expect(await commit(a)).toMatchObject({ ok: true });
    const before = await hashTree(await venvRoots(venv));
    const refused = await commit(b);
    expect(refused).toMatchObject({ ok: false, stage: "conflict", rolledBack: false });
    expect(!refused.ok && refused.error).toContain("aud-a 1.0 (installed) requires aud-lib<2, but this install would bring aud-lib 2.0");
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect((await pipCheck(python)).exitCode).toBe(0);
  });

  it("refuses incoming requirements that what stays installed breaks", async () => {
    const { venv, commit } = await freshVenv();
    expect(await commit([await wheel({ name: "aud-lib", version: "1.5" })])).toMatchObject({ ok: true });
    const before = await hashTree(await venvRoots(venv));
    // A set that relied on aud-lib 2 being there already (resolved against another state).
    const refused = await commit([await wheel({ name: "aud-b", version: "1.0", dependencies: ["aud-lib>=2"] })]);
    expect(refused).toMatchObject({ ok: false, stage: "conflict" });
    expect(!refused.ok && refused.error).toContain("aud-b 1.0 requires aud-lib>=2, but aud-lib 1.5 is installed");
    expect(await hashTree(await venvRoots(venv))).toBe(before);
  });

  it("evaluates markers against the target interpreter: a python_version-bound requirement still counts", async () => {
    const { python, venv, commit } = await freshVenv();
    const pandas = await wheel({
      name: "pandas-like",
      version: "3.0.6",
      dependencies: ['numpy-like>=1.26.0; python_version < "3.14"', 'numpy-like>=9; python_version >= "3.14"'],
    });
    expect(await commit([pandas, await wheel({ name: "numpy-like", version: "1.26.4" })])).toMatchObject({ ok: true });
    const before = await hashTree(await venvRoots(venv));
    const refused = await commit([await wheel({ name: "numpy-like", version: "1.23.5" })]);
    expect(refused).toMatchObject({ ok: false, stage: "conflict" });
    expect(!refused.ok && refused.error).toContain(
      'pandas-like 3.0.6 (installed) requires numpy-like>=1.26.0 (for python_version < "3.14"), but this install would bring numpy-like 1.23.5',
    );
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect((await pipCheck(python)).exitCode).toBe(0);
  });

  it("refuses a wheel that would overwrite another distribution's file, naming both; an upgrade of the owner is fine", async () => {
    const { python, venv, commit } = await freshVenv();
    expect(await commit([await wheel(sixLike("1.17.0"))])).toMatchObject({ ok: true });
    const before = await hashTree(await venvRoots(venv));
    const clobber = await wheel({ name: "aud-clobber", version: "1.0", files: { "six.py": "raise ImportError('clobbered')\n" } });
    const refused = await commit([clobber]);
    expect(refused).toMatchObject({ ok: false, stage: "ownership", rolledBack: false });
    expect(!refused.ok && refused.error).toMatch(/aud-clobber 1\.0 would overwrite \S+\/site-packages\/six\.py, which belongs to six 1\.17\.0/);
    expect(await hashTree(await venvRoots(venv))).toBe(before);
    expect(await runPython(python, "import six; print(six.__version__)")).toBe("1.17.0");

    expect(await commit([await wheel(sixLike("1.18.0"))])).toMatchObject({ ok: true });
    expect(await runPython(python, "import six; print(six.__version__)")).toBe("1.18.0");
  });

  it("refuses two wheels of one install that write the same file", async () => {
    const { venv, commit } = await freshVenv();
    const before = await hashTree(await venvRoots(venv));
    const refused = await commit([
      await wheel({ name: "twin-a", version: "1.0", module: "twin" }),
      await wheel({ name: "twin-b", version: "1.0", module: "twin" }),
    ]);
    expect(refused).toMatchObject({ ok: false, stage: "ownership" });
    expect(!refused.ok && refused.error).toMatch(/twin-b 1\.0 would overwrite \S+twin\S*, which belongs to twin-a, which this install also brings/);
    expect(await hashTree(await venvRoots(venv))).toBe(before);
  });
});
