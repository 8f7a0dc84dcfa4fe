import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { inspectWheel, parseWheelFilename, type WheelInspection } from "../../src/verify/wheel.js";
import { buildWheel, type BuiltDist } from "../fixtures/dists.js";
import { pthWheel } from "../fixtures/hostile.js";
import { recordHash } from "../fixtures/names.js";
import { readZip, writeZip, type ZipEntry } from "../fixtures/zip.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-verify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(filename: string, bytes: Buffer): string {
  const path = join(dir, filename);
  writeFileSync(path, bytes);
  return path;
}

function inspect(dist: { filename: string; bytes: Buffer }, allowPth = false): WheelInspection {
  const result = inspectWheel(save(dist.filename, dist.bytes), { allowPth });
  if (!result.ok) throw new Error(`expected a readable wheel: ${result.error}`);
  return result.inspection;
}

/**
 * Re-zips a built wheel after `edit` changed its files; with `rehash` RECORD is rewritten to match,
 * so that only the edit under test is wrong.
 */
function rezip(dist: BuiltDist, edit: (files: Map<string, Buffer>) => void, rehash: boolean, modes: Record<string, number> = {}): Buffer {
  const files = readZip(dist.bytes);
  const recordPath = [...files.keys()].find((name) => name.endsWith(".dist-info/RECORD")) ?? "";
  edit(files);
  if (rehash) {
    const lines = [...files].filter(([name]) => name !== recordPath).map(([name, data]) => `${name},${recordHash(data)},${data.length}`);
    files.set(recordPath, Buffer.from([...lines, `${recordPath},,`, ""].join("\n")));
  }
  const entries: ZipEntry[] = [...files].map(([name, data]) => {
    const entry: ZipEntry = { name, data };
    const mode = modes[name];
    if (mode !== undefined) entry.mode = mode;
    return entry;
  });
  return writeZip(entries);
}

const clean = buildWheel({
  name: "Demo.Pkg",
  version: "1.2.0",
  dependencies: ["demo-dep>=1.0", 'extra-dep; extra == "fast"'],
  requiresPython: ">=3.9",
  entryPoints: { "demo-cli": "demo_pkg:main", demo2: "demo_pkg.sub:run [fast]" },
});

describe("inspectWheel passes honest wheels", () => {
  it("passes a clean wheel and lists what it declares", () => {
    const inspection = inspect(clean);
    expect(inspection).toEqual({
      filename: "demo_pkg-1.2.0-py3-none-any.whl",
      name: "demo-pkg",
      version: "1.2.0",
      requiresDist: ["demo-dep>=1.0", 'extra-dep; extra == "fast"'],
      requiresPython: ">=3.9",
      entryPoints: { console_scripts: { "demo-cli": "demo_pkg:main", demo2: "demo_pkg.sub:run [fast]" }, gui_scripts: {} },
      pthFiles: [],
      signals: [],
      files: 5,
      uncompressedBytes: [...readZip(clean.bytes).values()].reduce((sum, data) => sum + data.length, 0),
      problems: [],
    });
  });

  it.each([
    ["pip-23.0.1-py3-none-any.whl", "pip", "23.0.1"],
    ["wheel-0.38.4-py3-none-any.whl", "wheel", "0.38.4"],
  ])("passes the real %s", (filename, name, version) => {
    const result = inspectWheel(join("/usr/share/python-wheels", filename), { allowPth: false });
    expect(result).toMatchObject({ ok: true, inspection: { name, version, problems: [], pthFiles: [] } });
    if (!result.ok) return;
    expect(Object.keys(result.inspection.entryPoints.console_scripts)).toContain(name);
    expect(result.inspection.files).toBeGreaterThan(20);
  });

  it("passes the real setuptools only when its .pth file is allowed", () => {
    const path = "/usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl";
    const refused = inspectWheel(path, { allowPth: false });
    expect(refused).toMatchObject({ ok: true, inspection: { name: "setuptools", pthFiles: ["distutils-precedence.pth"] } });
    if (refused.ok) {
      expect(refused.inspection.problems).toEqual(["distutils-precedence.pth: .pth file in site-packages runs at every interpreter start-up (not allowed)"]);
    }
    expect(inspectWheel(path, { allowPth: true })).toMatchObject({
      ok: true,
      inspection: { problems: [], pthFiles: ["distutils-precedence.pth"] },
    });
  });
});

describe("inspectWheel reports .pth files and start-up hooks", () => {
  const pth = pthWheel("pth-demo");

  it("refuses a .pth file at the root unless allowed, and lists it either way", () => {
    const refused = inspect(pth);
    expect(refused.pthFiles).toEqual(["pth-demo.pth"]);
    expect(refused.problems).toEqual(["pth-demo.pth: .pth file in site-packages runs at every interpreter start-up (not allowed)"]);
    const allowed = inspect(pth, true);
    expect(allowed.pthFiles).toEqual(["pth-demo.pth"]);
    expect(allowed.problems).toEqual([]);
  });

  it("finds .pth files that reach site-packages through .data/, and only those", () => {
    const wheel = buildWheel({
      name: "pth-data",
      version: "1.0",
      files: {
        "pth_data-1.0.data/purelib/a.pth": "import os\n",
        "pth_data-1.0.data/platlib/b.PTH": "import os\n",
        "pth_data-1.0.data/data/lib/python3.11/site-packages/c.pth": "import os\n",
        "pth_data-1.0.data/data/share/doc/not-site.pth": "plain data\n",
        "pth_data/nested.pth": "not read by site.py\n",
      },
    });
    const inspection = inspect(wheel, true);
    expect(inspection.pthFiles).toEqual([
      "pth_data-1.0.data/purelib/a.pth",
      "pth_data-1.0.data/platlib/b.PTH",
      "pth_data-1.0.data/data/lib/python3.11/site-packages/c.pth",
    ]);
    expect(inspection.problems).toEqual([]);
  });

  it("refuses sitecustomize even when .pth files are allowed", () => {
    const inspection = inspect(buildWheel({ name: "hook", version: "1.0", files: { "sitecustomize.py": "import os\n" } }), true);
    expect(inspection.problems).toEqual(["sitecustomize.py: a sitecustomize/usercustomize module runs at every interpreter start-up"]);
  });
});

describe("inspectWheel reports tampering", () => {
  it("reports a file edited after RECORD was written", () => {
    const original = readZip(clean.bytes).get("demo_pkg/__init__.py")?.length;
    const bytes = rezip(clean, (files) => files.set("demo_pkg/__init__.py", Buffer.from("import os; os.system('id')\n")), false);
    expect(inspect({ filename: clean.filename, bytes }).problems).toEqual([
      "demo_pkg/__init__.py: sha256 does not match RECORD (the file was changed)",
      `demo_pkg/__init__.py: size 27 does not match RECORD's "${original}"`,
    ]);
    const sameSize = rezip(
      clean,
      (files) => {
        const data = Buffer.from(files.get("demo_pkg/__init__.py") ?? Buffer.alloc(0));
        data[0] = data[0] === 0x23 ? 0x24 : 0x23;
        files.set("demo_pkg/__init__.py", data);
      },
      false,
    );
    expect(inspect({ filename: clean.filename, bytes: sameSize }).problems).toEqual([
      "demo_pkg/__init__.py: sha256 does not match RECORD (the file was changed)",
    ]);
  });

  it("reports a file missing from RECORD, and a RECORD line for a missing file", () => {
    const added = rezip(clean, (files) => files.set("demo_pkg/extra.py", Buffer.from("x = 1\n")), false);
    expect(inspect({ filename: clean.filename, bytes: added }).problems).toEqual(["demo_pkg/extra.py: not listed in RECORD"]);
    const removed = rezip(clean, (files) => files.delete("demo_pkg/__init__.py"), false);
    expect(inspect({ filename: clean.filename, bytes: removed }).problems).toEqual(["demo_pkg/__init__.py: listed in RECORD but not in the archive"]);
  });

  it("reports a RECORD without usable hashes", () => {
    const bytes = rezip(
      clean,
      (files) => {
        const path = "demo_pkg-1.2.0.dist-info/RECORD";
        const text = (files.get(path) ?? Buffer.alloc(0)).toString().replace(/^demo_pkg\/__init__\.py,sha256=[^,]+/m, "demo_pkg/__init__.py,md5=abc");
        files.set(path, Buffer.from(text));
      },
      false,
    );
    expect(inspect({ filename: clean.filename, bytes }).problems).toEqual(['demo_pkg/__init__.py: RECORD hash "md5=abc" is not sha256 (or stronger)']);
  });

  it("reports METADATA whose name or version differs from the filename", () => {
    const renamed = rezip(
      clean,
      (files) => {
        const path = "demo_pkg-1.2.0.dist-info/METADATA";
        files.set(path, Buffer.from((files.get(path) ?? Buffer.alloc(0)).toString().replace("Name: Demo.Pkg", "Name: requests")));
      },
      true,
    );
    expect(inspect({ filename: clean.filename, bytes: renamed }).problems).toEqual([
      'demo_pkg-1.2.0.dist-info/METADATA: Name "requests" does not match the filename\'s "demo-pkg"',
    ]);
    const other = inspect({ filename: "demo_pkg-1.3.0-py3-none-any.whl", bytes: clean.bytes });
    expect(other.problems).toEqual([
      "demo_pkg-1.2.0.dist-info/: does not match the filename's demo-pkg 1.3.0",
      'demo_pkg-1.2.0.dist-info/METADATA: Version "1.2.0" does not match the filename\'s "1.3.0"',
    ]);
  });

  it("reports a missing or wrong WHEEL file and a second .dist-info directory", () => {
    const noWheel = rezip(clean, (files) => files.delete("demo_pkg-1.2.0.dist-info/WHEEL"), true);
    expect(inspect({ filename: clean.filename, bytes: noWheel }).problems).toEqual(["demo_pkg-1.2.0.dist-info/WHEEL: missing"]);
    const wheel2 = rezip(clean, (files) => files.set("demo_pkg-1.2.0.dist-info/WHEEL", Buffer.from("Wheel-Version: 2.0\n")), true);
    expect(inspect({ filename: clean.filename, bytes: wheel2 }).problems).toEqual([
      'demo_pkg-1.2.0.dist-info/WHEEL: Wheel-Version "2.0" is not 1.x',
      'demo_pkg-1.2.0.dist-info/WHEEL: Root-Is-Purelib must be "true" or "false"',
    ]);
    const twice = rezip(clean, (files) => files.set("other-1.0.dist-info/METADATA", Buffer.from("Name: other\n")), true);
    expect(inspect({ filename: clean.filename, bytes: twice }).problems).toEqual([
      "*.dist-info/: a wheel must hold exactly one .dist-info directory (found demo_pkg-1.2.0.dist-info, other-1.0.dist-info)",
    ]);
  });
});

describe("inspectWheel reports paths that escape", () => {
  it.each([
    ["../evil.py", '../evil.py: has a ".." segment'],
    ["/etc/x", "/etc/x: is an absolute path"],
    ["C:/Windows/x.py", "C:/Windows/x.py: starts with a drive letter"],
    ["pkg\\..\\evil.py", "pkg\\..\\evil.py: contains a backslash"],
    ["pkg/\u0000.py", "pkg/\u0000.py: contains a NUL byte"],
    ["demo_pkg-1.2.0.data/../../evil.py", 'demo_pkg-1.2.0.data/../../evil.py: has a ".." segment'],
    ["demo_pkg-1.2.0.data/purelib/../../../evil.py", 'demo_pkg-1.2.0.data/purelib/../../../evil.py: has a ".." segment'],
    [
      "demo_pkg-1.2.0.data/etc/passwd",
      "demo_pkg-1.2.0.data/etc/passwd: is in demo_pkg-1.2.0.data/ but not under one of its purelib, platlib, scripts, headers, data directories",
    ],
    ["other-9.data/scripts/x", "other-9.data/scripts/x: is in other-9.data/, which is not this wheel's .data directory"],
  ])("reports %j", (path, message) => {
    const wheel = buildWheel({ name: "demo-pkg", version: "1.2.0", files: { [path]: "print('escaped')\n" } });
    expect(inspect(wheel).problems).toContain(message);
  });

  it("reports a symlink entry", () => {
    const bytes = rezip(clean, (files) => files.set("demo_pkg/link", Buffer.from("/etc/passwd")), true, {
      "demo_pkg/link": 0o120777,
    });
    expect(inspect({ filename: clean.filename, bytes }).problems).toEqual(["demo_pkg/link: is a symbolic link"]);
  });

  it("reports a script name that would escape the bin directory", () => {
    const wheel = buildWheel({ name: "demo-pkg", version: "1.2.0", entryPoints: { "../../evil": "demo_pkg:main" } });
    expect(inspect(wheel).problems).toEqual(['demo_pkg-1.2.0.dist-info/entry_points.txt line 2: script name "../../evil" is not a plain file name']);
  });
});

describe("inspectWheel on hostile archives", () => {
  it("reports a zip bomb by its compression ratio", () => {
    const wheel = buildWheel({ name: "bomb", version: "1.0", files: { "bomb/zeros.bin": Buffer.alloc(16 * 1024 * 1024) } });
    const inspection = inspect(wheel);
    expect(inspection.problems).toEqual([expect.stringMatching(/^bomb\/zeros\.bin: compression ratio \d+:1 exceeds the cap of 100:1 \(zip bomb\?\)$/)]);
  });

  it("cannot read a truncated wheel, and says so", () => {
    const result = inspectWheel(save(clean.filename, clean.bytes.subarray(0, clean.bytes.length - 40)), { allowPth: false });
    expect(result).toEqual({
      ok: false,
      error: "demo_pkg-1.2.0-py3-none-any.whl: not a zip archive, or truncated: no end-of-central-directory record at its end",
    });
  });

  it("cannot read a file that is not there", () => {
    expect(inspectWheel(join(dir, "absent-1.0-py3-none-any.whl"), { allowPth: false })).toMatchObject({
      ok: false,
      error: expect.stringContaining("absent-1.0-py3-none-any.whl: cannot read"),
    });
  });

  it("reports a filename that is not a wheel's", () => {
    expect(inspect({ filename: "demo.zip", bytes: clean.bytes }).problems).toContain(
      "demo.zip: not a valid wheel filename (name-version[-build]-python-abi-platform.whl)",
    );
  });
});

describe("parseWheelFilename", () => {
  it("parses names, versions, build tags and compressed tag sets", () => {
    expect(parseWheelFilename("Demo.Pkg-1.0-py3-none-any.whl")).toEqual({ name: "demo-pkg", version: "1.0", tags: ["py3-none-any"] });
    expect(parseWheelFilename("six-1.16.0-build1-py2.py3-none-any.whl")).toBeUndefined();
    expect(parseWheelFilename("six-1.16.0-1-py2.py3-none-any.whl")).toEqual({
      name: "six",
      version: "1.16.0",
      build: "1",
      tags: ["py2-none-any", "py3-none-any"],
    });
    expect(parseWheelFilename("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")?.tags).toEqual([
      "cp311-cp311-manylinux_2_17_x86_64",
      "cp311-cp311-manylinux2014_x86_64",
    ]);
  });

  it.each(["demo-1.0.whl", "demo-1.0-py3-none-any.zip", "demo-not a version-py3-none-any.whl", "-1.0-py3-none-any.whl", "../demo-1.0-py3-none-any.whl"])(
    "refuses %j",
    (filename) => {
      expect(parseWheelFilename(filename)).toBeUndefined();
    },
  );
});
