import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

type Session = Awaited<ReturnType<typeof openInProcess>>;
type JsonSchema = { properties?: Record<string, { default?: unknown; enum?: unknown[] }>; required?: string[] };

const ENVIRONMENT_TOOLS = ["install_package", "check_package", "list_allowed_packages", "list_installed_packages"];

/** Each tool's advertised `environment` property and whether the tool requires it, as a client lists them. */
async function advertised(session: Session) {
  const { tools } = await session.client.listTools();
  return Object.fromEntries(
    tools
      .filter((tool) => ENVIRONMENT_TOOLS.includes(tool.name))
      .map((tool) => {
        const schema = tool.inputSchema as JsonSchema;
        return [tool.name, { environment: schema.properties?.environment, required: (schema.required ?? []).includes("environment") }];
      }),
  );
}

describe("the environment a call goes to when it names none", () => {
  let ws: Workspace;
  const sessions: Session[] = [];
  const open = async (identity: string) => {
    const session = await openInProcess(ws.configPath, { identity });
    sessions.push(session);
    return session;
  };

  beforeAll(async () => {
    const allowlist = { packages: { "demo-lib": "*" } };
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { default: { allowlist }, data: { allowlist } },
    });
    const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(ws.configPath, stringify({ ...config, grants: { staff: { environments: "*" }, analyst: { environments: ["data"] } } }));
  });

  afterAll(async () => {
    for (const session of sessions) await session.close();
    await ws?.close();
  });

  it('is advertised as "default" to a grant that may use it, and a call without one goes there', async () => {
    const staff = await open("staff");
    const tools = await advertised(staff);
    expect(Object.keys(tools).sort()).toEqual([...ENVIRONMENT_TOOLS].sort());
    for (const tool of Object.values(tools)) {
      expect(tool.environment).toMatchObject({ enum: ["default", "data"], default: "default" });
      expect(tool.required).toBe(false);
    }
    const result = (await staff.client.callTool({ name: "check_package", arguments: { package_name: "demo-lib" } })) as ToolResult;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent?.environment).toBe("default");
  });

  it("is not advertised to a grant without the default environment, which must name one", async () => {
    const analyst = await open("analyst");
    const tools = await advertised(analyst);
    expect(Object.keys(tools).sort()).toEqual([...ENVIRONMENT_TOOLS].sort());
    for (const [name, tool] of Object.entries(tools)) {
      expect(tool.environment, name).toMatchObject({ enum: ["data"] });
      expect(tool.environment, name).not.toHaveProperty("default");
      expect(tool.required, name).toBe(true);
    }

    const refusal = 'environment is required here, as no environment you may use is named "default"; configured environments: "data".';
    for (const [name, args] of [
      ["check_package", { package_name: "demo-lib" }],
      ["install_package", { package_name: "demo-lib" }],
      ["list_allowed_packages", {}],
      ["list_installed_packages", {}],
    ] as const) {
      const result = (await analyst.client.callTool({ name, arguments: args })) as ToolResult;
      expect(result.isError, name).toBe(true);
      expect(resultText(result), name).toContain(refusal);
    }
    const audited = await analyst.broker.audit.list({ identity: "analyst", order: "asc" });
    expect(audited.map((record) => record.outcome)).toEqual(["invalid", "invalid", "invalid", "invalid"]);

    const named = (await analyst.client.callTool({ name: "check_package", arguments: { package_name: "demo-lib", environment: "data" } })) as ToolResult;
    expect(named.isError).toBeFalsy();
    expect(named.structuredContent?.environment).toBe("data");
  });
});
