// rules.new_project: approval through the whole pipeline: a listed project that looks new is resolved in
// the real sandbox and queued, not refused; a person approves it from the CLI and it is installed.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { openGranted } from "../grants/open-granted.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

async function cli(args: string[]) {
  const out = { stdout: "", stderr: "" };
  const code = await main(args, { stdout: (text: string) => void (out.stdout += text), stderr: (text: string) => void (out.stderr += text) });
  return { code, ...out };
}

describe("the new-project rule's approval action", () => {
  let ws: Workspace;
  let granted: Awaited<ReturnType<typeof openGranted>>;

  beforeAll(async () => {
    await requireDocker();
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const wheel = (name: string) => ({ name, releases: [{ version: "0.1.0", dists: [buildWheel({ name, version: "0.1.0" })], uploadTime: twoDaysAgo }] });
    ws = await createWorkspace({
      projects: [wheel("fresh-lib"), wheel("fresh-denied")],
      environments: {
        default: { allowlist: { packages: { "fresh-lib": "*" }, rules: { new_project_min_age_days: 30, new_project: "approval" } } },
        strict: { allowlist: { packages: { "fresh-denied": "*" }, rules: { new_project_min_age_days: 30 } } },
      },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  expires_after_hours: 24\n');
    granted = await openGranted(ws.configPath, { identity: "agent-1" });
  });
  afterAll(async () => {
    await granted?.close();
    await ws?.close();
  });

  const install = async (name: string, environment = "default") =>
    (await granted.client.callTool({ name: "install_package", arguments: { package_name: name, environment } })) as ToolResult;

  it("queues a new-project hit, saying which signal fired, and approving it installs the project", async () => {
    const before = venvDigest(ws.pythons.default!);
    const queued = await install("fresh-lib");
    expect(queued.isError, resultText(queued)).toBeFalsy();
    expect(queued.structuredContent).toMatchObject({ status: "pending", package: "fresh-lib" });
    expect(resultText(queued)).toMatch(
      /fresh-lib looks new: its first upload was 2 days ago .*younger than new_project_min_age_days: 30 \(new_project: approval\)/,
    );
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const id = String(queued.structuredContent?.approval_id);

    const shown = await cli(["approvals", "show", id, "--config", ws.configPath]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("fresh-lib 0.1.0  needs approval: new-project");

    const approved = await cli(["approvals", "approve", id, "--reason", "reviewed the new project", "--as", "maria", "--config", ws.configPath]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain("installed: installed fresh-lib 0.1.0");
    const imported = await runPython(ws.pythons.default!, "import fresh_lib; print(fresh_lib.__version__)");
    expect(imported.stdout.trim()).toBe("0.1.0");
  });

  it("with the default action (deny) the same hit is refused outright, naming the signal, and nothing is queued", async () => {
    const refused = await install("fresh-denied", "strict");
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ status: "denied" });
    expect(resultText(refused)).toMatch(/fresh-denied is refused: its first upload was 2 days ago .*\(new-project\)/);
    expect((await granted.control.approvals?.list(["pending"])) ?? []).toEqual([]);
  });
});
