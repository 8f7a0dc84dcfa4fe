import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSdist, buildWheel, defaultSetupPy } from "../fixtures/dists.js";
import { pthWheel } from "../fixtures/hostile.js";
import { containersOf } from "../support/containers.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

// A failed build is an answer the agent must be able to act on: which step, the likely cause, and the
// last lines of pip's output, in the tool result and in the audit record.
const spec = (name: string) => ({ name, version: "1.0" });

describe("build failures say why", () => {
  let ws: Workspace;
  let broker: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    const cExtension = buildSdist({
      ...spec("fast-ext"),
      files: {
        "fast.c":
          '#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "fast"};\nPyMODINIT_FUNC PyInit_fast(void) { return PyModule_Create(&m); }\n',
      },
      setupPy: ["from setuptools import setup, Extension", "", 'setup(name="fast-ext", version="1.0", ext_modules=[Extension("fast", ["fast.c"])])', ""].join(
        "\n",
      ),
    });
    const greedy = buildSdist({ ...spec("greedy"), setupPy: ["_hog = bytearray(2 * 1024 * 1024 * 1024)", "", defaultSetupPy(spec("greedy"))].join("\n") });
    const broken = buildSdist({ ...spec("broken-build"), setupPy: ['raise SystemExit("the build of broken-build refuses on purpose")', ""].join("\n") });
    ws = await createWorkspace({
      projects: [
        { name: "fast-ext", releases: [{ version: "1.0", dists: [cExtension] }] },
        { name: "greedy", releases: [{ version: "1.0", dists: [greedy] }] },
        { name: "broken-build", releases: [{ version: "1.0", dists: [broken] }] },
        { name: "friendly-front", releases: [{ version: "1.0", dists: [buildWheel({ ...spec("friendly-front"), dependencies: ["hostile-pth"] })] }] },
        { name: "hostile-pth", releases: [{ version: "1.0", dists: [pthWheel("hostile-pth")] }] },
      ],
      environments: { default: { allowlist: { packages: { "fast-ext": "*", greedy: "*", "broken-build": "*", "friendly-front": "*", "hostile-pth": "*" } } } },
      config: { sandbox: { memory_mb: 256 } },
    });
    broker = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await broker?.close();
    await ws?.close();
  });

  async function failed(name: string): Promise<{ text: string; log: string | undefined }> {
    const before = venvDigest(ws.pythons.default!);
    const result = (await broker.client.callTool({ name: "install_package", arguments: { package_name: name } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(result.isError, resultText(result)).toBe(true);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect(await containersOf(ws.stateDir)).toEqual([]);
    const record = (await broker.broker.audit.list({ package: name })).at(-1);
    return { text: resultText(result), log: (record?.sandbox as { log?: string } | undefined)?.log };
  }

  it("a C extension without a compiler in the image gets its own message", async () => {
    const { text, log } = await failed("fast-ext");
    expect(text).toContain("the build needs a C compiler or C headers, which the sandbox image does not have");
    expect(text).toContain("Ask for a release that has a wheel for this platform");
    expect(log).toMatch(/gcc|Python\.h/);
  });

  it("a build that runs out of memory is named as such, with the limit", async () => {
    const { text } = await failed("greedy");
    expect(text).toContain("the build ran out of memory in the sandbox (sandbox.memory_mb: 256");
  });

  it("an ordinary build failure carries the last lines of pip's output", async () => {
    const { text, log } = await failed("broken-build");
    expect(text).toMatch(/failed in the sandbox \(exit 10\)/);
    expect(text).toContain("Last lines of pip's output:");
    expect(text).toContain("the build of broken-build refuses on purpose");
    expect(log).toContain("the build of broken-build refuses on purpose");
  });

  it("a refused dependency is named with the chain that pulled it in", async () => {
    const { text } = await failed("friendly-front");
    expect(text).toMatch(/friendly-front 1\.0 requires hostile-pth; hostile_pth-1\.0-py3-none-any\.whl failed inspection: .*\.pth/);
  });
});
