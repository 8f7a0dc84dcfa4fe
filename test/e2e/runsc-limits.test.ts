import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSdist } from "../fixtures/dists.js";
import { containersOf, engineRuntimes } from "../support/containers.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

// Under runsc the pids limit also bounds gVisor's own threads: a limit that fits runc stops gVisor
// before the build runs, and the agent must be told which limit, not a bare exit code.
const runtimes = await engineRuntimes();
if (process.env.CI === "true" && !runtimes.includes("runsc"))
  throw new Error("CI needs the runsc runtime registered with the Docker engine (scripts/setup-host.sh)");

describe.runIf(runtimes.includes("runsc") || process.env.CI === "true")("gVisor's own limits", () => {
  let ws: Workspace;
  let broker: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [{ name: "small-sd", releases: [{ version: "1.0", dists: [buildSdist({ name: "small-sd", version: "1.0" })] }] }],
      environments: { default: { allowlist: { packages: { "small-sd": "*" } } } },
      config: { sandbox: { runtime: "runsc", pids: 64 } },
    });
    broker = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await broker?.close();
    await ws?.close();
  });

  it("a pids limit too small for gVisor gets a message naming the limits to raise", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = (await broker.client.callTool({ name: "install_package", arguments: { package_name: "small-sd" } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(result.isError, resultText(result)).toBe(true);
    expect(resultText(result)).toContain("the gVisor sandbox (sandbox.runtime: runsc) stopped before the build ran");
    expect(resultText(result)).toContain("pids 64");
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect(await containersOf(ws.stateDir)).toEqual([]);
  }, 300_000);
});
