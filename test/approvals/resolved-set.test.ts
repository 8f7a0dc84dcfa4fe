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

const release = (name: string, version: string, dependencies: string[] = []) => ({ version, dists: [buildWheel({ name, version, dependencies })] });

describe("an approval is for the exact resolved set: every distribution, installed as one unit, or asked again", () => {
  let ws: Workspace;
  let granted: Awaited<ReturnType<typeof openGranted>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "webapp", releases: [release("webapp", "1.0.0", ["signals>=1.0", "demo-lib>=1.0"])] },
        { name: "signals", releases: [release("signals", "1.0.0")] },
        { name: "demo-lib", releases: [release("demo-lib", "1.0.0")] },
        { name: "grower", releases: [release("grower", "1.0.0", ["leaf>=1.0"])] },
        { name: "leaf", releases: [release("leaf", "1.0.0")] },
        { name: "shady", releases: [release("shady", "1.0.0", ["blocked"])] },
        { name: "blocked", releases: [release("blocked", "1.0.0")] },
      ],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" }, deny: ["blocked"] } } },
      // metadata is revalidated on every use, so a new release is seen at once
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } }, index: { cache_ttl_seconds: 0 } },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n');
    granted = await openGranted(ws.configPath, { identity: "agent-1" });
  });

  afterAll(async () => {
    await granted?.close();
    await ws?.close();
  });

  const install = async (name: string) => (await granted.client.callTool({ name: "install_package", arguments: { package_name: name } })) as ToolResult;
  const status = async (id: string) => (await granted.client.callTool({ name: "install_status", arguments: { approval_id: id } })) as ToolResult;
  const names = (set: unknown) => (set as Array<{ name: string; version: string }>).map((dist) => `${dist.name} ${dist.version}`).sort();

  it("queues the whole tree, unlisted dependencies included, and the approved run installs exactly that set", async () => {
    const before = venvDigest(ws.pythons.default!);
    const queued = await install("webapp");
    expect(queued.structuredContent).toMatchObject({ status: "pending" });
    expect(names(queued.structuredContent?.resolved)).toEqual(["demo-lib 1.0.0", "signals 1.0.0", "webapp 1.0.0"]);
    expect(resultText(queued)).toContain("signals 1.0.0 (unlisted)");
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const id = String(queued.structuredContent?.approval_id);

    const answer = (await status(id)).structuredContent as { set: Array<Record<string, unknown>> };
    const byName = new Map(answer.set.map((dist) => [dist.name, dist]));
    expect(byName.get("signals")).toMatchObject({ needs: "unlisted", built: false, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(byName.get("demo-lib")).not.toHaveProperty("needs");
    expect(byName.get("signals")?.rules).toEqual(
      expect.arrayContaining([
        { rule: "allowlist", outcome: "fail", detail: "signals is not on the allowlist" },
        expect.objectContaining({ rule: "vulnerabilities", outcome: "pass" }),
      ]),
    );

    const shown = await cli(["approvals", "show", id, "--config", ws.configPath]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("the set (3)");
    expect(shown.stdout).toContain(`sha256 ${String(byName.get("signals")?.sha256)}`);
    expect(shown.stdout).toContain("fail allowlist: signals is not on the allowlist");
    const json = JSON.parse((await cli(["approvals", "show", id, "--json", "--config", ws.configPath])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ approval_id: id, state: "pending", set: answer.set });

    const approved = await cli(["approvals", "approve", id, "--reason", "web work", "--as", "maria", "--config", ws.configPath]);
    expect(approved.code, approved.stderr).toBe(0);
    const done = await status(id);
    expect(done.structuredContent).toMatchObject({ state: "installed", decided_by: "maria" });
    const record = (await granted.broker.audit.list({ package: "webapp", outcome: "installed" }))[0];
    // byte for byte what the approver saw
    expect(record?.resolved?.map((dist) => [dist.name, dist.sha256]).sort()).toEqual(answer.set.map((dist) => [dist.name, dist.sha256]).sort());
    const imported = await runPython(ws.pythons.default!, "import webapp, signals, demo_lib; print('ok')");
    expect(imported.stdout.trim()).toBe("ok");

    // single use: the same request is asked again, the allowlist file untouched
    const again = await install("signals==1.0.0");
    expect(again.structuredContent).toMatchObject({ status: "already-satisfied" });
  });

  it("a set that changed before the approved run is refused and queued again for the new set", async () => {
    const before = venvDigest(ws.pythons.default!);
    const queued = await install("grower");
    const first = String(queued.structuredContent?.approval_id);
    expect(names(queued.structuredContent?.resolved)).toEqual(["grower 1.0.0", "leaf 1.0.0"]);
    // a new release of the dependency: the set resolves differently now
    ws.index.addProject({ name: "leaf", releases: [release("leaf", "1.0.0"), release("leaf", "1.1.0")] });

    const approved = await cli(["approvals", "approve", first, "--reason", "ok", "--as", "maria", "--config", ws.configPath]);
    expect(approved.code).toBe(3);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const old = (await status(first)).structuredContent as { state: string; result: { superseded_by: string; message: string } };
    expect(old.state).toBe("superseded");
    expect(old.result.message).toContain("leaf 1.0.0 became 1.1.0");
    const second = old.result.superseded_by;
    expect(second).toMatch(/^apr_/);
    const renewed = (await status(second)).structuredContent as Record<string, unknown>;
    expect(renewed).toMatchObject({ state: "pending", supersedes: first });
    expect(names(renewed.set)).toEqual(["grower 1.0.0", "leaf 1.1.0"]);

    const ok = await cli(["approvals", "approve", second, "--reason", "ok again", "--as", "maria", "--config", ws.configPath]);
    expect(ok.code, ok.stderr).toBe(0);
    const imported = await runPython(ws.pythons.default!, "import importlib.metadata as m; print(m.version('leaf'))");
    expect(imported.stdout.trim()).toBe("1.1.0");
    const trail = (await granted.broker.audit.list({ package: "grower" })).map((record) => record.outcome);
    expect(trail).toEqual(["pending", "approved", "pending", "approved", "installed"]);
  });

  it("a dependency the deny list refuses is refused outright, never queued", async () => {
    const refused = await install("shady");
    expect(refused.structuredContent).toMatchObject({ status: "denied" });
    expect(resultText(refused)).toContain("blocked");
    expect((await granted.control.approvals?.list(["pending"]))?.some((approval) => approval.package === "shady")).toBe(false);
    expect((await granted.broker.audit.verify()).ok).toBe(true);
  });
});
