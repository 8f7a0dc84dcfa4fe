import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";

type Rule = { rule: string; outcome: string; detail: string };

const payload = Buffer.from("print('owned')").toString("base64");
const blob = Buffer.alloc(4000, 9).toString("base64");

/** Content signals through the whole pipeline: a real sandbox resolves, the inspection judges, the audit record keeps it. */
describe("content signals at install", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        {
          name: "exec-lib",
          releases: [
            {
              version: "1.0",
              dists: [buildWheel({ name: "exec-lib", version: "1.0", files: { "exec_lib/boot.py": `import base64\nexec(base64.b64decode("${payload}"))\n` } })],
            },
          ],
        },
        {
          name: "blob-lib",
          releases: [{ version: "1.0", dists: [buildWheel({ name: "blob-lib", version: "1.0", files: { "blob_lib/icon.py": `ICON = "${blob}"\n` } })] }],
        },
      ],
      environments: { default: { allowlist: { packages: { "exec-lib": "*", "blob-lib": "*" } } } },
    });
    server = await openInProcess(ws.configPath);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  const contentRule = async (name: string) => {
    const record = (await server.broker.audit.list({ package: name })).at(-1);
    return { outcome: record?.outcome, rule: (record?.decision as { rules: Rule[] } | undefined)?.rules.find((rule) => rule.rule === "content") };
  };

  it("check_package lists the content rule, to be judged at install", async () => {
    const result = (await server.client.callTool({ name: "check_package", arguments: { package_name: "exec-lib" } })) as ToolResult;
    const rules = (result.structuredContent as { decision: { rules: Rule[] } }).decision.rules;
    expect(rules.find((rule) => rule.rule === "content")).toEqual({
      rule: "content",
      outcome: "skip",
      detail: "judged from the wheels' files at install (rules.content: pth_code warn, native_in_pure warn, encoded_exec deny, base64_blob warn)",
    });
  });

  it("refuses a wheel that execs decoded data at module level, the audit record's content rule saying so", async () => {
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "exec-lib" } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/exec_lib\/boot\.py: module-level exec of decoded data: .*\(rules\.content\.encoded_exec: deny\)/);
    const { outcome, rule } = await contentRule("exec-lib");
    expect(outcome).toBe("denied");
    expect(rule).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/exec_lib-1\.0-py3-none-any\.whl: exec_lib\/boot\.py: module-level exec/) });
    expect(
      (await runPython(ws.pythons.default!, "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('exec_lib') is None else 1)")).exitCode,
    ).toBe(0);
  }, 300_000);

  it("installs a wheel with a long base64 literal, warning in the result and in the audit record", async () => {
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "blob-lib" } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(resultText(result)).toMatch(
      /installed blob-lib 1\.0 into default; content warnings: blob_lib-1\.0-py3-none-any\.whl: blob_lib\/icon\.py: a \d+-character base64 literal \(rules\.content\.base64_blob: warn\)/,
    );
    const { outcome, rule } = await contentRule("blob-lib");
    expect(outcome).toBe("installed");
    expect(rule).toMatchObject({
      outcome: "pass",
      detail: expect.stringMatching(/^warn: blob_lib-1\.0-py3-none-any\.whl: blob_lib\/icon\.py: a \d+-character base64 literal/),
    });
  }, 300_000);
});
