import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

describe("transitive enforcement and verified files", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "app-a", releases: [{ version: "1.2", dists: [buildWheel({ name: "app-a", version: "1.2", dependencies: ["lib-b>=3"] })] }] },
        { name: "lib-b", releases: [{ version: "3.1", dists: [buildWheel({ name: "lib-b", version: "3.1" })] }] },
        { name: "app-c", releases: [{ version: "1.0", dists: [buildWheel({ name: "app-c", version: "1.0", dependencies: ["lib-d<2"] })] }] },
        {
          name: "lib-d",
          releases: [
            { version: "1.5", dists: [buildWheel({ name: "lib-d", version: "1.5" })] },
            { version: "2.0", dists: [buildWheel({ name: "lib-d", version: "2.0" })] },
          ],
        },
        { name: "tampered", releases: [{ version: "1.0", dists: [buildWheel({ name: "tampered", version: "1.0" })] }] },
        { name: "old-user", releases: [{ version: "1.0", dists: [buildWheel({ name: "old-user", version: "1.0", dependencies: ["shared-lib<2"] })] }] },
        {
          name: "shared-lib",
          releases: [
            { version: "1.0", dists: [buildWheel({ name: "shared-lib", version: "1.0" })] },
            { version: "2.0", dists: [buildWheel({ name: "shared-lib", version: "2.0" })] },
          ],
        },
        { name: "new-app", releases: [{ version: "1.0", dists: [buildWheel({ name: "new-app", version: "1.0", dependencies: ["shared-lib>=2"] })] }] },
        {
          name: "keeper",
          releases: [
            { version: "1.0", dists: [buildWheel({ name: "keeper", version: "1.0" })] },
            { version: "1.1", dists: [buildWheel({ name: "keeper", version: "1.1" })] },
          ],
        },
      ],
      environments: {
        default: {
          allowlist: {
            packages: { "app-a": "*", "app-c": "*", "lib-d": ">=2", tampered: "*", keeper: "*", "old-user": "*", "shared-lib": "*", "new-app": "*" },
          },
        },
      },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  it("refuses an allowed package whose dependency is not allowed, naming the chain, installing nothing", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "app-a" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/app-a 1\.2 requires lib-b>=3/);
    expect(resultText(result)).toMatch(/lib-b is not on the allowlist/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect((await server.broker.audit.list({ package: "app-a" })).at(-1)?.outcome).toBe("denied");
  });

  it("refuses when the only allowed versions of a dependency conflict with what it requires", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "app-c" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/app-c 1\.0 requires lib-d<2/);
    expect(resultText(result)).toMatch(/outside the allowed range >=2/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });

  it("refuses a file whose bytes do not match the index's sha256", async () => {
    ws.index.tamper("tampered-1.0-py3-none-any.whl");
    const before = venvDigest(ws.pythons.default!);
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "tampered" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/sha256/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });

  it("keeps a satisfying installed version without upgrade, and upgrades with it", async () => {
    const launches = server.sandbox.launches;
    const first = (await server.client.callTool({ name: "install_package", arguments: { package_name: "keeper==1.0" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect((first.structuredContent as { status: string }).status).toBe("installed");
    const again = (await server.client.callTool({ name: "install_package", arguments: { package_name: "keeper" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect((again.structuredContent as { status: string }).status).toBe("already-satisfied");
    expect(server.sandbox.launches).toBe(launches + 1);
    const upgraded = (await server.client.callTool({ name: "install_package", arguments: { package_name: "keeper", upgrade: true } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect((upgraded.structuredContent as { status: string; version: string }).version).toBe("1.1");
    const imported = await runPython(ws.pythons.default!, "import keeper; print(keeper.__version__)");
    expect(imported.stdout.trim()).toBe("1.1");
  });

  it("reports a conflict with an installed package instead of forcing it", async () => {
    const first = (await server.client.callTool({ name: "install_package", arguments: { package_name: "old-user" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect((first.structuredContent as { status: string }).status).toBe("installed");
    const before = venvDigest(ws.pythons.default!);
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "new-app" } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/old-user 1\.0 \(installed\) requires shared-lib<2, but this install would bring shared-lib 2\.0/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });
});
