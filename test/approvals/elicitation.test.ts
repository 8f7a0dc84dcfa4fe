import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPipgate, type Pipgate } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { createServer } from "../../src/server/create-server.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

const release = (name: string, version: string, dependencies: string[] = []) => ({ version, dists: [buildWheel({ name, version, dependencies })] });

/** pipgate as `serve` wires it, and a real SDK client that declares elicitation (or not) and answers as told. */
async function session(configPath: string, answer: ((message: string) => ElicitResult) | undefined) {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
  const opened = await openPipgate(loaded.config, silentLogger());
  if (!opened.ok) throw new Error(opened.issues.join("\n"));
  const app: Pipgate = opened.value;
  const { server } = createServer(app.serverDeps("agent-1"));
  const client = new Client({ name: "elicit-test", version: "1.0.0" }, answer === undefined ? {} : { capabilities: { elicitation: { form: {} } } });
  const asked: string[] = [];
  if (answer !== undefined)
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return answer(request.params.message);
    });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  const install = async (name: string) => (await client.callTool({ name: "install_package", arguments: { package_name: name } })) as ToolResult;
  return {
    app,
    asked,
    install,
    close: async () => {
      await client.close();
      await server.close();
      app.close();
    },
  };
}

describe("in-client confirmation of a queued set through MCP elicitation", () => {
  let ws: Workspace;
  const policy = (elicitation: boolean) =>
    writeFileSync(join(ws.dir, "policy.yaml"), `version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  elicitation: ${String(elicitation)}\n`);

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "charts", releases: [release("charts", "1.0.0", ["palette-data>=1"])] },
        { name: "palette-data", releases: [release("palette-data", "1.0.0")] },
        { name: "refused-one", releases: [release("refused-one", "1.0.0")] },
        { name: "off-default", releases: [release("off-default", "1.0.0")] },
      ],
      environments: { default: { allowlist: { packages: {} } } },
      config: { policy: "policy.yaml", grants: { "agent-1": { environments: "*" } } },
    });
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("the user confirms the set in the client: installed in the same call, audited as the grant via elicitation", async () => {
    policy(true);
    const s = await session(ws.configPath, () => ({ action: "accept", content: { approve: true } }));
    try {
      const result = await s.install("charts");
      expect(result.structuredContent, resultText(result)).toMatchObject({ status: "installed" });
      expect(s.asked).toHaveLength(1);
      expect(s.asked[0]).toContain("charts 1.0.0");
      expect(s.asked[0]).toContain("palette-data 1.0.0");
      const imported = await runPython(ws.pythons.default!, "import charts, palette_data; print('ok')");
      expect(imported.stdout.trim()).toBe("ok");
      const approved = (await s.app.broker.pipeline.audit.list({ package: "charts", outcome: "approved" }))[0];
      expect(approved?.identity).toBe("agent-1 (elicitation)");
      expect(approved?.approval).toMatchObject({ decided_by: "agent-1 (elicitation)", via: "elicitation" });
      expect((await s.app.control.approvals?.list())?.find((approval) => approval.package === "charts")).toMatchObject({ state: "installed" });
    } finally {
      await s.close();
    }
  });

  it("the user declines: the request is rejected and nothing is installed", async () => {
    policy(true);
    const s = await session(ws.configPath, () => ({ action: "decline" }));
    try {
      const before = venvDigest(ws.pythons.default!);
      const result = await s.install("refused-one");
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({ status: "rejected" });
      expect(venvDigest(ws.pythons.default!)).toBe(before);
      expect((await s.app.control.approvals?.list())?.find((approval) => approval.package === "refused-one")).toMatchObject({
        state: "rejected",
        decidedBy: "agent-1 (elicitation)",
      });
    } finally {
      await s.close();
    }
  });

  it("off by default, and never asked of a client without the capability: the set waits for the CLI", async () => {
    policy(false);
    const asking = await session(ws.configPath, () => ({ action: "accept", content: { approve: true } }));
    try {
      const result = await asking.install("off-default");
      expect(result.structuredContent).toMatchObject({ status: "pending" });
      expect(asking.asked).toHaveLength(0);
    } finally {
      await asking.close();
    }
    policy(true);
    const plain = await session(ws.configPath, undefined);
    try {
      const result = await plain.install("off-default");
      expect(result.structuredContent).toMatchObject({ status: "pending" });
    } finally {
      await plain.close();
    }
  });
});
