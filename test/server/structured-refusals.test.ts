import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefusalSchema } from "../../src/server/refusal.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { openInProcess, type ToolResult } from "../support/in-process.js";

type Session = Awaited<ReturnType<typeof openInProcess>>;

/**
 * Every refusal of pipgate's own tools carries structuredContent with the refusal's kind and field, valid
 * against the tool's listed output schema (the SDK client checks it: callTool throws otherwise), and
 * install_status takes the approval id under the name install_package answers with. No sandbox runs.
 */
describe("structured refusals and one name for the approval id", () => {
  let ws: Workspace;
  let session: Session;
  const call = async (name: string, args: Record<string, unknown>) => (await session.client.callTool({ name, arguments: args })) as ToolResult;
  const refusalOf = (result: ToolResult) => {
    expect(result.isError).toBe(true);
    return RefusalSchema.parse(result.structuredContent?.refusal);
  };

  beforeAll(async () => {
    const wheel = (name: string) => ({ name, releases: [{ version: "1.0.0", dists: [buildWheel({ name, version: "1.0.0" })] }] });
    ws = await createWorkspace({
      projects: [wheel("demo-lib"), wheel("outsider")],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  expires_after_hours: 24\n');
    session = await openInProcess(ws.configPath, { identity: "agent-1" });
  });

  afterAll(async () => {
    await session?.close();
    await ws?.close();
  });

  it("lists output schemas that admit a refusal beside a strict success", async () => {
    const { tools } = await session.client.listTools();
    expect(tools.length).toBeGreaterThanOrEqual(6);
    for (const tool of tools) {
      const schema = tool.outputSchema as { properties?: Record<string, unknown>; anyOf?: Array<{ required: string[] }> } | undefined;
      expect(schema?.properties?.refusal, tool.name).toBeDefined();
      expect(schema?.anyOf?.[1], tool.name).toEqual({ required: ["refusal"] });
    }
    const install = tools.find((tool) => tool.name === "install_package")?.outputSchema as unknown as { anyOf: Array<{ required: string[] }> };
    expect(install.anyOf[0]?.required).toEqual(expect.arrayContaining(["status", "audit_id", "installed"]));
  });

  it("install_package: a validation refusal says its kind and field, in install_package's own shape", async () => {
    const result = await call("install_package", { package_name: "requests --index-url http://evil.example/simple" });
    expect(refusalOf(result)).toMatchObject({ kind: "url", field: "package_name" });
    expect(result.structuredContent).toMatchObject({ status: "invalid", installed: [], resolved: [] });
    expect(result.structuredContent?.audit_id).toBe(refusalOf(result).audit_id);

    const where = await call("install_package", { package_name: "demo-lib", environment: "nowhere" });
    expect(refusalOf(where)).toMatchObject({ kind: "environment", field: "environment" });
    const extra = await call("install_package", { package_name: "demo-lib", index_url: "http://x" });
    expect(refusalOf(extra)).toMatchObject({ kind: "type", field: "index_url" });
  });

  it("check_package and the list tools: argument refusals carry kind and field", async () => {
    expect(refusalOf(await call("check_package", { package_name: "file:///etc/passwd" }))).toMatchObject({ field: "package_name" });
    expect(refusalOf(await call("check_package", { package_name: "demo-lib", environment: 7 }))).toMatchObject({ kind: "environment", field: "environment" });
    expect(refusalOf(await call("list_allowed_packages", { environment: "nowhere" }))).toMatchObject({ kind: "environment", field: "environment" });
    expect(refusalOf(await call("list_installed_packages", { environment: "nowhere" }))).toMatchObject({ kind: "environment", field: "environment" });
  });

  it("install_status takes approval_id, keeps id as an alias, and refuses with structure", async () => {
    const { tools } = await session.client.listTools();
    const input = tools.find((tool) => tool.name === "install_status")?.inputSchema as { properties: Record<string, unknown>; required: string[] };
    expect(input.required).toEqual(["approval_id"]);
    expect(Object.keys(input.properties)).toEqual(["approval_id", "id"]);

    const queued = await call("install_package", { package_name: "outsider==1.0.0" });
    expect(queued.structuredContent, JSON.stringify(queued.structuredContent)).toMatchObject({ status: "pending" });
    const approvalId = String(queued.structuredContent?.approval_id);
    const byName = await call("install_status", { approval_id: approvalId });
    expect(byName.isError).toBeFalsy();
    expect(byName.structuredContent).toMatchObject({ approval_id: approvalId, id: approvalId, state: "pending" });
    const byAlias = await call("install_status", { id: approvalId });
    expect(byAlias.structuredContent).toMatchObject({ approval_id: approvalId, state: "pending" });

    expect(refusalOf(await call("install_status", { approval_id: "apr_0000000000" }))).toMatchObject({ kind: "unknown-approval", field: "approval_id" });
    expect(refusalOf(await call("install_status", { approval_id: "nope" }))).toMatchObject({ kind: "type", field: "approval_id" });
    expect(refusalOf(await call("install_status", {}))).toMatchObject({ kind: "type" });
    expect(refusalOf(await call("install_status", { approval_id: approvalId, id: "apr_1111111111" })).message).toMatch(/different requests/);
    expect(refusalOf(await call("install_status", { approval: approvalId }))).toMatchObject({ kind: "type", field: "approval" });
  });
});
