import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/grants/tokens.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, type Workspace } from "../support/harness.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

describe("pipgate serve --http (the real CLI process)", () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
    });
    const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(ws.configPath, stringify({ ...config, grants: { ci: { token_sha256: hashToken("ci-token") } } }));
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("serves MCP to a client holding a grant's token, and refuses a non-loopback bind", async () => {
    const bin = [join(REPO_ROOT, "node_modules", ".bin", "vite-node"), join(REPO_ROOT, "src", "cli", "bin.ts")] as const;
    const remote = await execa(bin[0], [bin[1], "serve", "--config", ws.configPath, "--http", "0.0.0.0:0"], { cwd: REPO_ROOT, reject: false });
    expect(remote.exitCode).toBe(1);
    expect(remote.stderr).toContain("--allow-remote");

    const port = await freePort();
    const server = execa(bin[0], [bin[1], "serve", "--config", ws.configPath, "--http", `127.0.0.1:${port}`], { cwd: REPO_ROOT, reject: false, env: { PIPGATE_LOG_LEVEL: "info" } });
    try {
      await new Promise<void>((resolve, reject) => {
        let seen = "";
        server.stderr?.on("data", (chunk: Buffer) => {
          seen += chunk.toString("utf8");
          if (seen.includes("pipgate serving over Streamable HTTP")) resolve();
        });
        void server.then((ended) => reject(new Error(`serve exited early: ${ended.stderr}`)));
      });
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: "Bearer ci-token" } } });
      const client = new Client({ name: "cli-http-test", version: "1.0.0" });
      await client.connect(transport);
      const result = await client.callTool({ name: "check_package", arguments: { package_name: "demo-lib" } });
      expect((result.structuredContent as { decision: { allowed: boolean; version: string } }).decision).toMatchObject({ allowed: true, version: "1.0.0" });
      await client.close();
    } finally {
      server.kill("SIGTERM");
      await server;
    }
    expect(server.exitCode).toBe(0);
  });
});
