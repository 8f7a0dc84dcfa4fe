import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { manualClock, openGranted } from "../grants/open-granted.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

function captureIo() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (text: string) => void (out.stdout += text), stderr: (text: string) => void (out.stderr += text) } };
}

async function cli(args: string[]) {
  const { out, io } = captureIo();
  const code = await main(args, io);
  return { code, ...out };
}

describe("approvals: queued, approved from the CLI and installed; denied; expired", () => {
  let ws: Workspace;
  const clock = manualClock();
  let granted: Awaited<ReturnType<typeof openGranted>>;

  beforeAll(async () => {
    await requireDocker();
    const wheel = (name: string) => ({ name, releases: [{ version: "1.0.0", dists: [buildWheel({ name, version: "1.0.0" })] }] });
    ws = await createWorkspace({
      projects: [wheel("demo-lib"), wheel("outsider"), wheel("unwanted"), wheel("forgotten"), wheel("blocked")],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" }, deny: ["blocked"] } } },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" }, "agent-2": { environments: ["default"] } } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  expires_after_hours: 24\n');
    granted = await openGranted(ws.configPath, { identity: "agent-1", now: clock.now });
  });

  afterAll(async () => {
    await granted?.close();
    await ws?.close();
  });

  async function install(packageName: string) {
    return (await granted.client.callTool({ name: "install_package", arguments: { package_name: packageName } })) as ToolResult;
  }

  async function status(id: string) {
    return (await granted.client.callTool({ name: "install_status", arguments: { approval_id: id } })) as ToolResult;
  }

  it("queues a name off the allowlist, and the install runs once a person approves it", async () => {
    const before = venvDigest(ws.pythons.default!);
    const queued = await install("outsider==1.0.0");
    expect(queued.isError).toBeFalsy();
    expect(queued.structuredContent).toMatchObject({ status: "pending", package: "outsider" });
    const id = String(queued.structuredContent?.approval_id);
    expect(id).toMatch(/^apr_[a-z0-9]{10}$/);
    expect(resultText(queued)).toContain(`pipgate approvals approve ${id}`);
    // resolved and verified in the sandbox before it is queued: the approver sees the whole set
    expect(granted.sandbox.launches).toBe(1);
    expect(queued.structuredContent?.resolved).toEqual([{ name: "outsider", version: "1.0.0", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect((await status(id)).structuredContent).toMatchObject({ approval_id: id, id, state: "pending", requirement: "outsider==1.0.0" });
    // `id`, the earlier name, still works
    const alias = (await granted.client.callTool({ name: "install_status", arguments: { id } })) as ToolResult;
    expect(alias.structuredContent).toMatchObject({ approval_id: id, state: "pending" });

    const listed = await cli(["approvals", "list", "--config", ws.configPath]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("outsider==1.0.0");
    expect(listed.stdout).toContain("from agent-1");

    const approved = await cli(["approvals", "approve", id, "--reason", "needed for the report", "--as", "maria", "--config", ws.configPath]);
    expect(approved.stderr).toContain("resolving");
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain("installed: installed outsider 1.0.0");

    const done = await status(id);
    expect(done.structuredContent).toMatchObject({ state: "installed", decided_by: "maria", decision_reason: "needed for the report" });
    expect((done.structuredContent?.result as { installed: unknown[] }).installed).toEqual([{ name: "outsider", version: "1.0.0" }]);
    const imported = await runPython(ws.pythons.default!, "import outsider; print(outsider.__version__)");
    expect(imported.stdout.trim()).toBe("1.0.0");
    // The file on disk was not edited: the approval covered this request only; asking again finds it installed.
    expect(readFileSync(ws.allowlists.default!, "utf8")).not.toContain("outsider");
    const again = await install("outsider==1.0.0");
    expect(again.structuredContent).toMatchObject({ status: "already-satisfied" });

    const trail = (await granted.broker.audit.list({ package: "outsider" })).map((record) => `${record.outcome}:${record.identity}`);
    expect(trail.slice(0, 3)).toEqual(["pending:agent-1", "approved:maria", "installed:agent-1"]);
    // A request can be decided once.
    const twice = await cli(["approvals", "deny", id, "--reason", "too late", "--as", "maria", "--config", ws.configPath]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("is installed, not pending");
  });

  it("a denied request is never installed, and the agent reads who denied it and why", async () => {
    const before = venvDigest(ws.pythons.default!);
    const queued = await install("unwanted");
    const id = String(queued.structuredContent?.approval_id);
    const denied = await cli(["approvals", "deny", id, "--reason", "not for production", "--config", ws.configPath]);
    expect(denied.code).toBe(0);
    const answer = await status(id);
    expect(answer.structuredContent).toMatchObject({ state: "rejected", decision_reason: "not for production" });
    expect(resultText(answer)).toContain("denied unwanted: not for production");
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const record = (await granted.broker.audit.list({ outcome: "rejected" }))[0];
    expect(record).toMatchObject({ package: "unwanted", tool: "approvals deny" });
    expect(record?.approval).toMatchObject({ id, requested_by: "agent-1", reason: "not for production" });
  });

  it("an undecided request expires, and expiry is audited; deny-listed names are refused, not queued", async () => {
    const queued = await install("forgotten");
    const id = String(queued.structuredContent?.approval_id);
    clock.advance(23 * 3_600_000);
    expect((await status(id)).structuredContent).toMatchObject({ state: "pending" });
    clock.advance(3_600_000);
    const answer = await status(id);
    expect(answer.structuredContent).toMatchObject({ state: "expired" });
    expect(await granted.broker.audit.list({ outcome: "expired", package: "forgotten" })).toEqual([
      expect.objectContaining({ identity: "pipgate", tool: "approvals" }),
    ]);

    const blocked = await install("blocked");
    expect(blocked.isError).toBe(true);
    expect(blocked.structuredContent).toMatchObject({ status: "denied", refusal: { kind: "denied", audit_id: blocked.structuredContent?.audit_id } });
    // Another identity cannot read this agent's requests.
    const other = await openGranted(ws.configPath, { identity: "agent-2", now: clock.now });
    try {
      const peek = (await other.client.callTool({ name: "install_status", arguments: { approval_id: id } })) as ToolResult;
      expect(peek.isError).toBe(true);
      expect(peek.structuredContent).toMatchObject({ refusal: { kind: "unknown-approval", field: "approval_id" } });
      expect(resultText(peek)).toContain(`no approval request ${id} of yours`);
    } finally {
      await other.close();
    }
    expect((await granted.broker.audit.verify()).ok).toBe(true);
  });
});
