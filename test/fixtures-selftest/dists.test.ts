import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSdist, buildWheel, seedDists } from "../fixtures/dists.js";
import { pthWheel } from "../fixtures/hostile.js";
import { recordHash, sha256Hex } from "../fixtures/names.js";
import { createVenv, runPip, runPython } from "../fixtures/pip.js";
import { readTarGz } from "../fixtures/tar.js";
import { readZip } from "../fixtures/zip.js";

describe("wheel builder", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pipgate-dists-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("escapes the filename and writes METADATA, WHEEL, entry points and a RECORD that matches", () => {
    const wheel = buildWheel({
      name: "Demo.Pkg-Name",
      version: "1.2.0",
      dependencies: ["demo-dep>=1.0", 'other; python_version < "3.8"'],
      requiresPython: ">=3.8",
      license: "MIT",
      entryPoints: { "demo-run": "demo_pkg_name:main" },
      files: { "data,with comma.txt": "x" },
    });
    expect(wheel.filename).toBe("demo_pkg_name-1.2.0-py3-none-any.whl");
    expect(wheel.kind).toBe("wheel");
    expect(wheel.sha256).toBe(sha256Hex(wheel.bytes));
    const files = readZip(wheel.bytes);
    const info = "demo_pkg_name-1.2.0.dist-info";
    const metadata = files.get(`${info}/METADATA`)?.toString() ?? "";
    expect(metadata).toMatch(/^Metadata-Version: 2\.4\nName: Demo\.Pkg-Name\nVersion: 1\.2\.0\n/);
    expect(metadata).toContain("License-Expression: MIT\nRequires-Python: >=3.8\nRequires-Dist: demo-dep>=1.0\n");
    expect(files.get(`${info}/WHEEL`)?.toString()).toContain("Root-Is-Purelib: true\nTag: py3-none-any\n");
    expect(files.get(`${info}/entry_points.txt`)?.toString()).toBe("[console_scripts]\ndemo-run = demo_pkg_name:main\n");
    expect(files.get("demo_pkg_name/__init__.py")?.toString()).toContain('__version__ = "1.2.0"');

    const record = (files.get(`${info}/RECORD`)?.toString() ?? "").trim().split("\n");
    expect(record).toContain(`${info}/RECORD,,`);
    expect(record).toContain(`"data,with comma.txt",${recordHash(Buffer.from("x"))},1`);
    const listed = record.map((line) => (line.startsWith('"') ? line.slice(1, line.indexOf('"', 1)) : line.split(",")[0]));
    expect(new Set(listed)).toEqual(new Set(files.keys()));
    for (const line of record.filter((entry) => !entry.startsWith('"') && !entry.endsWith(",,"))) {
      const [path = "", hash, size] = line.split(",");
      const data = files.get(path) ?? Buffer.alloc(0);
      expect([hash, Number(size)]).toEqual([recordHash(data), data.length]);
    }
  });

  it("is deterministic: the same spec gives the same bytes", () => {
    const spec = { name: "same", version: "1.0", dependencies: ["x"] };
    expect(buildWheel(spec).sha256).toBe(buildWheel(spec).sha256);
    expect(buildSdist(spec).sha256).toBe(buildSdist(spec).sha256);
  });

  it("builds wheels that real pip installs from --find-links into a fresh venv, RECORD verified", async () => {
    const links = join(dir, "links");
    await mkdir(links);
    const wheels = [
      buildWheel({ name: "demo-app", version: "1.0", dependencies: ["demo_lib==2.*"], entryPoints: { "demo-app": "demo_app:main" } }),
      buildWheel({ name: "demo_lib", version: "2.1", license: "Apache-2.0" }),
      buildWheel({ name: "demo_lib", version: "3.0" }),
      pthWheel("evil-pth"),
    ];
    for (const wheel of wheels) await writeFile(join(links, wheel.filename), wheel.bytes);
    const python = await createVenv(join(dir, "venv"));
    const install = await runPip(python, "install", ["--no-index", "--find-links", links, "demo-app", "evil-pth"]);
    expect(install.stderr).not.toMatch(/RECORD|hash/i);
    expect(install.exitCode).toBe(0);
    expect(install.stdout).toMatch(/Successfully installed demo-app-1\.0 demo_lib-2\.1 evil-pth-1\.0/);

    const probe = await runPython(
      python,
      [
        "import importlib.metadata as md, os, subprocess, sys",
        "import demo_app, demo_lib",
        "print(demo_app.__version__, demo_lib.__version__)",
        "subprocess.run([os.path.join(os.path.dirname(sys.executable), 'demo-app')], check=True)",
        "print(sorted(str(f) for f in md.files('demo-lib')))",
        "print(md.metadata('demo-lib')['License-Expression'])",
      ].join("\n"),
    );
    expect(probe.exitCode).toBe(0);
    expect(probe.stdout.split("\n")).toEqual([
      "1.0 2.1",
      "demo-app 1.0",
      // A dependency, not requested: no REQUESTED file.
      "['demo_lib-2.1.dist-info/INSTALLER', 'demo_lib-2.1.dist-info/METADATA', 'demo_lib-2.1.dist-info/RECORD', " +
        "'demo_lib-2.1.dist-info/WHEEL', 'demo_lib/__init__.py', " +
        "'demo_lib/__pycache__/__init__.cpython-311.pyc']",
      "Apache-2.0",
    ]);
    // The .pth that pthWheel ships runs at every start-up of that environment.
    expect(probe.stderr).toContain("PIPGATE-FIXTURE pth executed");
  });
});

describe("sdist builder", () => {
  it("writes PKG-INFO, a setuptools pyproject.toml, setup.py and the module under one top directory", () => {
    const sdist = buildSdist({ name: "Demo-Sd", version: "2.0", dependencies: ["demo-lib>=1"], files: { "README.txt": "hi" } });
    expect(sdist.filename).toBe("demo_sd-2.0.tar.gz");
    expect(sdist.kind).toBe("sdist");
    const files = readTarGz(sdist.bytes);
    expect([...files.keys()].sort()).toEqual(["PKG-INFO", "README.txt", "demo_sd/__init__.py", "pyproject.toml", "setup.py"].map((f) => `demo_sd-2.0/${f}`));
    expect(files.get("demo_sd-2.0/pyproject.toml")?.toString()).toContain('build-backend = "setuptools.build_meta"');
    expect(files.get("demo_sd-2.0/setup.py")?.toString()).toContain('install_requires=["demo-lib>=1"]');
    expect(files.get("demo_sd-2.0/PKG-INFO")?.toString()).toContain("Name: Demo-Sd\nVersion: 2.0\n");
  });

  it("uses the given setup.py verbatim", () => {
    const files = readTarGz(buildSdist({ name: "x", version: "1", setupPy: "raise SystemExit(3)\n" }).bytes);
    expect(files.get("x-1/setup.py")?.toString()).toBe("raise SystemExit(3)\n");
  });
});

describe("seed dists", () => {
  it("are the real pip, setuptools and wheel wheels with their metadata", () => {
    const seeds = seedDists();
    expect(seeds.map((dist) => dist.meta?.name)).toEqual(["pip", "setuptools", "wheel"]);
    for (const dist of seeds) {
      expect(dist.filename).toBe(`${dist.meta?.name}-${dist.meta?.version}-py3-none-any.whl`);
      expect(dist.sha256).toBe(sha256Hex(dist.bytes));
    }
  });
});
