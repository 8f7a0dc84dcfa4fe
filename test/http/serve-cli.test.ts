import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/grants/tokens.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, type Workspace } from "../support/harness.js";
import { freePort } from "../support/serve-process.js";
import { oversizedPost, rawInitialize, rawPing } from "./raw-http.js";

describe("pipgate serve --http (the real CLI process)", () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
    });
    const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(
      ws.configPath,
      stringify({
        ...config,
        grants: { ci: { token_sha256: hashToken("ci-token") }, audit: { role: "auditor", token_sha256: hashToken("auditor-token") } },
        http: { session_idle_seconds: 1, max_body_bytes: 4096 },
      }),
    );
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("serves MCP to a client holding a grant's token with pipgate.yaml's http limits, and refuses a non-loopback bind", async () => {
    const bin = [join(REPO_ROOT, "node_modules", ".bin", "vite-node"), join(REPO_ROOT, "src", "cli", "bin.ts")] as const;
    const remote = await execa(bin[0], [bin[1], "serve", "--config", ws.configPath, "--http", "0.0.0.0:0"], { cwd: REPO_ROOT, reject: false });
    expect(remote.exitCode).toBe(1);
    expect(remote.stderr).toContain("--allow-remote");

    const port = await freePort();
    const server = execa(bin[0], [bin[1], "serve", "--config", ws.configPath, "--http", `127.0.0.1:${port}`], {
      cwd: REPO_ROOT,
      reject: false,
      env: { PIPGATE_LOG_LEVEL: "info" },
    });
    let seen = "";
    server.stderr?.on("data", (chunk: Buffer) => (seen += chunk.toString("utf8")));
    const logged = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const look = () => {
          if (!seen.includes(text)) return;
          server.stderr?.off("data", look);
          resolve();
        };
        server.stderr?.on("data", look);
        look();
        void server.then((ended) => reject(new Error(`serve exited before logging ${JSON.stringify(text)}: ${ended.stderr}`)));
      });
    try {
      await logged("pipgate serving over Streamable HTTP");
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
        requestInit: { headers: { authorization: "Bearer ci-token" } },
      });
      const client = new Client({ name: "cli-http-test", version: "1.0.0" });
      await client.connect(transport);
      const result = await client.callTool({ name: "check_package", arguments: { package_name: "demo-lib" } });
      expect((result.structuredContent as { decision: { allowed: boolean; version: string } }).decision).toMatchObject({ allowed: true, version: "1.0.0" });
      const url = `http://127.0.0.1:${port}/mcp`;
      // An auditor's valid token opens the console, not the MCP endpoint.
      const auditor = await rawInitialize(url, "auditor-token");
      expect(auditor.status).toBe(403);
      expect(auditor.body).toContain("role auditor");
      const oversized = await oversizedPost(url, { authorization: "Bearer ci-token" }, 16 * 1024, undefined);
      expect(oversized.status).toBe(413);
      expect(oversized.body).toContain("larger than 4096 bytes (http.max_body_bytes");

      // Gone without a DELETE: http.session_idle_seconds (1 s here) closes the session, then its id is 404.
      const sessionId = transport.sessionId ?? "";
      await client.close();
      await logged(`"session":"${sessionId}","msg":"MCP session expired"`);
      expect((await rawPing(url, "ci-token", sessionId)).status).toBe(404);
    } finally {
      server.kill("SIGTERM");
      await server;
    }
    expect(server.exitCode).toBe(0);
  });
});
