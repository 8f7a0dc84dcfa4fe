import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { AuditRecord } from "../../src/audit/types.js";
import { main } from "../../src/cli/main.js";
import { InstallOutputSchema } from "../../src/server/tools/install-package.js";
import { buildWheel } from "../fixtures/dists.js";
import { capture } from "../support/cli-io.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, type ToolResult } from "../support/in-process.js";

// Every way an install reaches the pipeline writes its intent before the work and one outcome after;
// a request refused before any work has its single record.
describe("intents on every install path", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    const wheel = (name: string) => ({ name, releases: [{ version: "1.0.0", dists: [buildWheel({ name, version: "1.0.0" })] }] });
    ws = await createWorkspace({
      projects: [wheel("path-mcp"), wheel("path-cli"), wheel("path-approved"), wheel("path-blocked")],
      environments: { default: { allowlist: { packages: { "path-mcp": "*", "path-cli": "*" }, deny: ["path-blocked"] } } },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  expires_after_hours: 24\n');
    server = await openInProcess(ws.configPath, { identity: "agent-1" });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  const install = async (packageName: string) =>
    (await server.client.callTool({ name: "install_package", arguments: { package_name: packageName } }, undefined, { timeout: 180_000 })) as ToolResult;
  const cli = async (args: string[]) => {
    const io = capture();
    const code = await main([...args, "--config", ws.configPath], io);
    return { code, out: io.out(), err: io.err() };
  };
  const trail = (pkg: string): Promise<AuditRecord[]> => server.broker.audit.list({ package: pkg, intents: true });

  /** The intent and the outcome of one request: same request id, the outcome naming the intent. */
  async function expectPair(records: AuditRecord[], want: { identity: string; tool: string; outcome: string }): Promise<void> {
    const [intent, outcome] = records;
    expect(records).toHaveLength(2);
    expect(intent).toMatchObject({ outcome: "intent", identity: want.identity, tool: want.tool, environment: "default", reason: "started: a sandbox run" });
    expect(intent?.broker).toMatchObject({ pid: process.pid });
    const requestId = (intent?.request as { requestId: string }).requestId;
    expect(outcome).toMatchObject({ outcome: want.outcome, identity: want.identity, tool: want.tool, request: { requestId, intent: intent?.id } });
    expect((await server.broker.audit.outcomeOf(requestId))?.id).toBe(outcome?.id);
  }

  it("install_package: an intent before the sandbox, then the outcome", async () => {
    expect((await install("path-mcp")).isError).toBeFalsy();
    await expectPair(await trail("path-mcp"), { identity: "agent-1", tool: "install_package", outcome: "installed" });
  });

  it("pipgate install: the same", async () => {
    const run = await cli(["install", "default", "path-cli", "--identity", "ops"]);
    expect(run.code).toBe(0);
    await expectPair(await trail("path-cli"), { identity: "ops", tool: "cli install", outcome: "installed" });
  });

  it("pipgate install --json: install_package's structured result, in its snake_case", async () => {
    const run = await cli(["install", "default", "path-cli", "--json"]);
    expect(run.code).toBe(0);
    const json = z.strictObject(InstallOutputSchema.shape).parse(JSON.parse(run.out));
    expect(json).toMatchObject({ status: "already-satisfied", environment: "default", package: "path-cli", entry_points: [] });
    expect(json.audit_id).toMatch(/\S/);
    expect(run.out).not.toMatch(/auditId|durationMs|entryPoints/);
  });

  it("an approved install: the requester's intent and outcome after the pending and approved records", async () => {
    const queued = await install("path-approved");
    const id = String(queued.structuredContent?.approval_id);
    // the set is resolved in the sandbox before it is queued: that request too has its intent first
    await expectPair(await trail("path-approved"), { identity: "agent-1", tool: "install_package", outcome: "pending" });
    expect((await cli(["approvals", "approve", id, "--reason", "ok", "--as", "maria"])).code).toBe(0);
    const records = await trail("path-approved");
    expect(records.slice(0, 3).map((r) => r.outcome)).toEqual(["intent", "pending", "approved"]);
    await expectPair(records.slice(3), { identity: "agent-1", tool: "install_package", outcome: "installed" });
  });

  it("a request refused before any work has one record and no intent", async () => {
    const launches = server.sandbox.launches;
    expect((await install("path-blocked")).isError).toBe(true);
    expect((await trail("path-blocked")).map((r) => r.outcome)).toEqual(["denied"]);
    expect(server.sandbox.launches).toBe(launches);
    expect(await server.broker.audit.openIntents()).toEqual([]);
  });
});
