// Sdists build in the real sandbox with the build tools their own declarations name, fetched through
// the proxy from the fixture index (Debian's hatchling and its requirements as wheels), into a default
// `python3 -m venv` (pip and setuptools in it) whose allowlist names only the project.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectWheel } from "../../src/verify/wheel.js";
import { buildSdist } from "../fixtures/dists.js";
import { projectsFromDists } from "../fixtures/index-server.js";
import { hatchlingDists } from "../fixtures/installed-wheels.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

const BUILD_TOOLS = ["hatchling", "packaging", "pathspec", "pluggy", "editables", "wheel"];

function hatchPyproject(name: string, dependencies: string[] = []): string {
  return [
    "[build-system]",
    'requires = ["hatchling"]',
    'build-backend = "hatchling.build"',
    "",
    "[project]",
    `name = "${name}"`,
    'version = "1.0"',
    `dependencies = ${JSON.stringify(dependencies)}`,
    "",
  ].join("\n");
}

/** Normalised names of every distribution the interpreter sees. */
async function installedNames(python: string): Promise<string[]> {
  const run = await runPython(
    python,
    "import importlib.metadata as m, json; print(json.dumps(sorted({d.metadata['Name'].lower().replace('_', '-') for d in m.distributions()})))",
  );
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as string[];
}

describe("the hatchling fixture wheels", () => {
  it("are wheels the project's own inspection accepts, with Debian's metadata", () => {
    const dir = mkdtempSync(join(tmpdir(), "pipgate-backend-wheels-"));
    const dists = hatchlingDists();
    expect(dists.map((dist) => dist.meta?.name.toLowerCase()).sort()).toEqual(["editables", "hatchling", "packaging", "pathspec", "pluggy"]);
    for (const dist of dists) {
      const path = join(dir, dist.filename);
      writeFileSync(path, dist.bytes);
      const inspected = inspectWheel(path, { allowPth: false });
      expect(inspected.ok && inspected.inspection.problems, dist.filename).toEqual([]);
    }
    expect(dists.find((dist) => dist.meta?.name === "hatchling")?.meta?.dependencies).toEqual(
      expect.arrayContaining(["packaging>=21.3", "pathspec>=0.10.1", "pluggy>=1.0.0", "editables>=0.3"]),
    );
  });
});

describe("sdists build with their declared backends in the sandbox", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    const sdist = (name: string, spec: Omit<Parameters<typeof buildSdist>[0], "name" | "version"> = {}) => ({
      name,
      releases: [{ version: "1.0", dists: [buildSdist({ name, version: "1.0", ...spec })] }],
    });
    ws = await createWorkspace({
      projects: [
        ...projectsFromDists(hatchlingDists()),
        sdist("legacy-sd", { pyproject: false }),
        // Declares setuptools only: setuptools' backend then asks for wheel at build time.
        sdist("modern-sd", { pyproject: '[build-system]\nrequires = ["setuptools>=40.8.0"]\nbuild-backend = "setuptools.build_meta"\n' }),
        sdist("hatch-sd", { pyproject: hatchPyproject("hatch-sd"), noSetupPy: true }),
        sdist("hatch-greedy", { pyproject: hatchPyproject("hatch-greedy", ["packaging>=21"]), noSetupPy: true, dependencies: ["packaging>=21"] }),
      ],
      environments: { default: { allowlist: { packages: { "legacy-sd": "*", "modern-sd": "*", "hatch-sd": "*", "hatch-greedy": "*" } } } },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  async function install(name: string): Promise<ToolResult> {
    return (await server.client.callTool({ name: "install_package", arguments: { package_name: name } }, undefined, { timeout: 300_000 })) as ToolResult;
  }

  /** Files the sandbox fetched from the index since `from` (through pipgate's proxy: it has no other way out). */
  const fetched = (from: number) =>
    ws.index.requests
      .slice(from)
      .filter((request) => request.path.startsWith("/files/"))
      .map((request) => decodeURIComponent(request.path.slice("/files/".length)));

  it("a setuptools sdist without pyproject.toml installs and imports", async () => {
    const result = await install("legacy-sd");
    expect(resultText(result)).toContain("installed legacy-sd 1.0");
    const imported = await runPython(ws.pythons.default!, "import legacy_sd; print(legacy_sd.__version__)");
    expect(imported.stdout.trim()).toBe("1.0");
  });

  it("a setuptools sdist with pyproject.toml installs and imports, built with setuptools and wheel from the index", async () => {
    const from = ws.index.requests.length;
    const result = await install("modern-sd");
    expect(resultText(result)).toContain("installed modern-sd 1.0");
    expect(fetched(from)).toEqual(
      expect.arrayContaining(["modern_sd-1.0.tar.gz", expect.stringMatching(/^setuptools-.*\.whl$/), expect.stringMatching(/^wheel-.*\.whl$/)]),
    );
    const imported = await runPython(ws.pythons.default!, "import modern_sd; print(modern_sd.__version__)");
    expect(imported.stdout.trim()).toBe("1.0");
  });

  it("a hatchling sdist installs and imports, and no build tool lands in the target", async () => {
    const before = await installedNames(ws.pythons.default!);
    const from = ws.index.requests.length;
    const result = await install("hatch-sd");
    expect(resultText(result)).toContain("installed hatch-sd 1.0");
    // The backend and its requirements came from the index, though the allowlist names none of them.
    const backend = hatchlingDists().map((dist) => dist.filename);
    expect(fetched(from)).toEqual(expect.arrayContaining(["hatch_sd-1.0.tar.gz", ...backend]));
    const imported = await runPython(ws.pythons.default!, "import hatch_sd; print(hatch_sd.__version__)");
    expect(imported.stdout.trim()).toBe("1.0");
    const after = await installedNames(ws.pythons.default!);
    expect(after.filter((name) => !before.includes(name))).toEqual(["hatch-sd"]);
    for (const tool of BUILD_TOOLS) expect(after).not.toContain(tool);
    // The audit record names the build tools the run was allowed to fetch.
    const sandbox = (await server.broker.audit.list({ package: "hatch-sd" })).at(-1)?.sandbox as { buildTools?: string[] } | undefined;
    expect(sandbox?.buildTools).toEqual(expect.arrayContaining(["hatchling", "packaging", "pathspec", "pluggy", "editables"]));
  });

  it("refuses a project whose runtime dependency is one of its build tools but not on the allowlist", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = await install("hatch-greedy");
    expect(result.isError).toBe(true);
    // The proxy served packaging (a build tool of this run); verification of the resolved set refused it.
    expect(resultText(result)).toMatch(/hatch-greedy 1\.0 requires packaging>=21/);
    expect(resultText(result)).toMatch(/packaging is not on the allowlist/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect(await installedNames(ws.pythons.default!)).not.toContain("packaging");
    expect((await server.broker.audit.list({ package: "hatch-greedy" })).at(-1)?.outcome).toBe("denied");
  });
});
