import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

/**
 * Real projects publish metadata whose Name is not in canonical form (Pygments, typing_extensions), and
 * an index that serves PEP 658 metadata files lists them. The sandbox's pip (23.0.1) fails to resolve
 * such a name from a metadata file, which is why the proxy does not pass them on by default: this set,
 * through the real sandbox from an index that serves metadata, must install as it would from pip.
 */
describe("non-canonical metadata names through the real sandbox", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      indexMetadata: true,
      projects: [
        {
          name: "Fancy_Name",
          releases: [{ version: "2.1", dists: [buildWheel({ name: "Fancy_Name", version: "2.1", dependencies: ["Typing_Extras>=4"] })] }],
        },
        { name: "Typing_Extras", releases: [{ version: "4.7.1", dists: [buildWheel({ name: "Typing_Extras", version: "4.7.1" })] }] },
      ],
      environments: { default: { allowlist: { packages: { "fancy-name": "*", "typing-extras": "*" } } } },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  it("installs a set whose metadata names are not canonical, from an index that serves metadata files", async () => {
    const launches = server.sandbox.launches;
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "Fancy_Name" } }, undefined, {
      timeout: 180_000,
    })) as ToolResult;
    expect(result.isError, resultText(result)).toBeFalsy();
    expect((result.structuredContent as { status: string }).status).toBe("installed");
    expect(server.sandbox.launches).toBeGreaterThan(launches);

    const versions = await runPython(ws.pythons.default!, "import importlib.metadata as m; print(m.version('fancy-name'), m.version('typing-extras'))");
    expect(versions.stdout.trim()).toBe("2.1 4.7.1");
  });
});
