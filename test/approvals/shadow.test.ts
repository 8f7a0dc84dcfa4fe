import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "../../src/cli/main.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { openGranted } from "../grants/open-granted.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

async function cli(args: string[]) {
  const out = { stdout: "", stderr: "" };
  const code = await main(args, { stdout: (text: string) => void (out.stdout += text), stderr: (text: string) => void (out.stderr += text) });
  return { code, ...out };
}

const release = (name: string, version: string, dependencies: string[] = []) => ({ version, dists: [buildWheel({ name, version, dependencies })] });

describe("shadow mode: the policy's refusals are audited as would-deny and the install goes ahead; hard limits stay hard", () => {
  let ws: Workspace;
  let rollout: Awaited<ReturnType<typeof openGranted>>;
  let enforced: Awaited<ReturnType<typeof openGranted>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "outsider", releases: [release("outsider", "1.0.0", ["helper>=1.0"])] },
        { name: "helper", releases: [release("helper", "1.0.0")] },
        { name: "ranged", releases: [release("ranged", "1.0.0"), release("ranged", "2.0.0")] },
        { name: "blocked", releases: [release("blocked", "1.0.0")] },
      ],
      environments: {
        trial: { allowlist: { packages: { helper: "*" }, deny: ["blocked"] } },
        strict: { allowlist: { packages: { ranged: "<2" } } },
      },
      config: { grants: { "team-a": { environments: "*", mode: "shadow" }, "team-b": { environments: "*" } } },
    });
    // `trial` is in shadow mode for everyone; `strict` only for team-a's grant
    const config = parse(readFileSync(ws.configPath, "utf8")) as { environments: Record<string, Record<string, unknown>> };
    config.environments.trial!.mode = "shadow";
    writeFileSync(ws.configPath, stringify(config));
    rollout = await openGranted(ws.configPath, { identity: "team-a" });
    enforced = await openGranted(ws.configPath, { identity: "team-b" });
  });

  afterAll(async () => {
    await rollout?.close();
    await enforced?.close();
    await ws?.close();
  });

  const install = async (who: typeof rollout, name: string, environment: string) =>
    (await who.client.callTool({ name: "install_package", arguments: { package_name: name, environment } })) as ToolResult;

  it("an environment in shadow mode installs a name off the allowlist, and its record says would-deny with the rule", async () => {
    const result = await install(enforced, "outsider", "trial");
    expect(result.structuredContent).toMatchObject({ status: "installed" });
    const imported = await runPython(ws.pythons.trial!, "import outsider, helper; print('ok')");
    expect(imported.stdout.trim()).toBe("ok");
    const record = (await enforced.broker.audit.list({ package: "outsider", outcome: "installed" }))[0];
    expect(record?.shadow).toEqual({
      mode: "shadow",
      would_deny: true,
      refusals: [{ name: "outsider", rules: ["allowlist"], reason: expect.stringContaining("outsider") }],
    });
    expect(record?.reason).toContain("shadow mode: would deny outsider (allowlist");

    const listed = await cli(["audit", "list", "--package", "outsider", "--config", ws.configPath]);
    expect(listed.stdout).toContain("shadow mode: would deny");
    const csv = await cli(["audit", "export", "--format", "csv", "--config", ws.configPath]);
    expect(csv.stdout.split("\r\n")[0]).toMatch(/,would_deny$/);
    expect(csv.stdout).toContain("outsider:allowlist");
  });

  it("a grant in shadow mode gets a version outside the range; another grant is refused it", async () => {
    const refused = await install(enforced, "ranged==2.0.0", "strict");
    expect(refused.structuredContent).toMatchObject({ status: "denied" });
    const shadowed = await install(rollout, "ranged==2.0.0", "strict");
    expect(shadowed.structuredContent, resultText(shadowed)).toMatchObject({ status: "installed", version: "2.0.0" });
    const record = (await rollout.broker.audit.list({ package: "ranged", outcome: "installed" }))[0];
    expect(record?.identity).toBe("team-a");
    expect(record?.shadow).toMatchObject({ would_deny: true, refusals: [{ name: "ranged", rules: ["allowlist"] }] });
  });

  it("the deny list stays hard in shadow mode, and an install policy allows is recorded as would-deny: false", async () => {
    const denied = await install(rollout, "blocked", "trial");
    expect(denied.structuredContent).toMatchObject({ status: "denied" });
    expect(resultText(denied)).toContain("deny list");
    const allowed = await install(rollout, "helper", "trial");
    expect(allowed.structuredContent?.status).toMatch(/installed|already-satisfied/);
    const record = (await rollout.broker.audit.list({ package: "helper" })).at(-1);
    expect(record?.shadow).toEqual({ mode: "shadow", would_deny: false, refusals: [] });
    expect((await rollout.broker.audit.verify()).ok).toBe(true);
  });
});
