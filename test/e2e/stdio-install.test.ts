import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, requireDocker, sandboxContainersSince, venvDigest, type Workspace } from "../support/harness.js";
import { connectStdio } from "../support/stdio-client.js";
import { runPython } from "../fixtures/pip.js";

type ToolResult = { content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

function text(result: ToolResult): string {
  return result.content.map((part) => part.text ?? "").join("\n");
}

describe("pipgate serve over stdio", () => {
  let ws: Workspace;
  let client: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        {
          name: "demo-lib",
          releases: [
            { version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] },
            { version: "2.0.0", dists: [buildWheel({ name: "demo-lib", version: "2.0.0" })] },
          ],
        },
        { name: "demo-app", releases: [{ version: "1.2.0", dists: [buildWheel({ name: "demo-app", version: "1.2.0", dependencies: ["demo-lib>=1.0"] })] }] },
        { name: "outsider", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "outsider", version: "1.0.0" })] }] },
      ],
      environments: { default: { allowlist: { packages: { "demo-app": "*", "demo-lib": ">=1,<2" } } } },
    });
    ({ client, close } = await connectStdio(ws.configPath));
  });

  afterAll(async () => {
    await close?.();
    await ws?.close();
  });

  it("lists its tools with annotations", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    expect(names).toEqual(["check_package", "install_package", "list_allowed_packages", "list_environments", "list_installed_packages"]);
    const install = tools.find((tool) => tool.name === "install_package");
    expect(install?.annotations?.readOnlyHint).toBe(false);
    expect(Object.keys(install?.inputSchema.properties ?? {}).sort()).toEqual(["environment", "package_name", "timeout", "upgrade"]);
    expect(tools.find((tool) => tool.name === "check_package")?.annotations?.readOnlyHint).toBe(true);
  });

  it("installs an allowed package with its dependency into the venv, through the sandbox", async () => {
    const progress: string[] = [];
    const since = new Date();
    const result = (await client.callTool({ name: "install_package", arguments: { package_name: "demo-app" } }, undefined, {
      onprogress: (p) => progress.push(p.message ?? ""),
      timeout: 120_000,
    })) as ToolResult;
    expect(text(result)).toContain("installed demo-app 1.2.0");
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { status: string; installed: Array<{ name: string; version: string }>; resolved: Array<{ sha256: string }> };
    expect(structured.status).toBe("installed");
    expect(structured.installed.map((d) => `${d.name}==${d.version}`).sort()).toEqual(["demo-app==1.2.0", "demo-lib==1.0.0"]);
    expect(structured.resolved.every((d) => /^[0-9a-f]{64}$/.test(d.sha256))).toBe(true);
    expect(progress.some((m) => m.includes("resolving"))).toBe(true);
    expect(progress.some((m) => m.includes("installing"))).toBe(true);
    // the count the refusals below must find at 0 sees this install's container
    expect(await sandboxContainersSince(since, ws.stateDir)).toBe(1);
    const imported = await runPython(ws.pythons.default!, "import demo_app, demo_lib; print(demo_app.__version__, demo_lib.__version__)");
    expect(imported.stdout.trim()).toBe("1.2.0 1.0.0");
    // the client checks structured content against each tool's output schema
    const listed = (await client.callTool({ name: "list_installed_packages", arguments: {} })) as ToolResult;
    expect(listed.isError).toBeFalsy();
    expect((listed.structuredContent as { packages: Array<{ name: string; version: string }> }).packages).toEqual(
      expect.arrayContaining([
        { name: "demo-app", version: "1.2.0" },
        { name: "demo-lib", version: "1.0.0" },
      ]),
    );
  });

  it("refuses a name off the allowlist and a version outside its pin, starting no container and changing nothing", async () => {
    const before = venvDigest(ws.pythons.default!);
    const since = new Date();
    const off = (await client.callTool({ name: "install_package", arguments: { package_name: "outsider" } })) as ToolResult;
    expect(off.isError).toBe(true);
    expect(text(off)).toMatch(/not on the allowlist/);
    expect(text(off)).toMatch(/demo-app|demo-lib/);
    const pinned = (await client.callTool({ name: "install_package", arguments: { package_name: "demo-lib==2.0.0" } })) as ToolResult;
    expect(pinned.isError).toBe(true);
    expect(text(pinned)).toContain(">=1,<2");
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect(await sandboxContainersSince(since, ws.stateDir)).toBe(0);
  });
});
