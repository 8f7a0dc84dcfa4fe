import { request } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { hashToken } from "../../src/grants/tokens.js";
import { openPipgate, type Pipgate } from "../../src/app.js";
import { silentLogger } from "../../src/log.js";
import { createServer } from "../../src/server/create-server.js";
import { parseListenAddress, startHttpServer, type HttpServer } from "../../src/server/http.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

const TOKEN_A = "token-for-alice-0123456789";
const TOKEN_B = "token-for-bob-9876543210";

/** A raw HTTP request, so tests can set Host and Origin exactly as a browser or an attacker would. */
function rawPost(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const target = new URL(url);
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function connect(url: string, token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "pipgate-http-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

describe("pipgate over Streamable HTTP", () => {
  let ws: Workspace;
  let app: Pipgate;
  let http: HttpServer;

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { team_a: { allowlist: { packages: { "demo-lib": "*" } } }, team_b: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: {
        policy: "policy.json",
        grants: {
          alice: { environments: ["team_a"], token_sha256: hashToken(TOKEN_A) },
          bob: { environments: ["team_b"], token_sha256: hashToken(TOKEN_B) },
        },
      },
    });
    writeFileSync(
      join(ws.dir, "policy.json"),
      JSON.stringify({
        version: "1",
        default: "allow",
        tools: { check_package: { limits: [{ counter: "checks", window: "minute", max: 2, scope: "grant" }] } },
      }),
    );
    const loaded = loadConfig(ws.configPath);
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const log = silentLogger();
    const opened = await openPipgate(loaded.config, log);
    if (!opened.ok) throw new Error(opened.issues.join("\n"));
    app = opened.value;
    const { control } = app;
    const started = await startHttpServer({
      listen: { host: "127.0.0.1", port: 0 },
      grantForToken: (token) => control.access.grantForToken(token),
      serverFor: (grant) => createServer(app.serverDeps(grant)),
      log,
    });
    if (!started.ok) throw new Error(started.error);
    http = started.value;
  });

  afterAll(async () => {
    await http?.close();
    app?.close();
    await ws?.close();
  });

  it("answers 401 with a Bearer challenge without a token or with a wrong one", async () => {
    const none = await rawPost(http.url, {});
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="pipgate"');
    const wrong = await rawPost(http.url, { authorization: "Bearer not-a-token" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(http.sessionCount()).toBe(0);
  });

  it("answers 403 to a foreign Origin or Host even with a valid token (DNS rebinding)", async () => {
    const origin = await rawPost(http.url, { authorization: `Bearer ${TOKEN_A}`, origin: "http://evil.example" });
    expect(origin.status).toBe(403);
    expect(origin.body).toContain("Origin");
    const host = await rawPost(http.url, { authorization: `Bearer ${TOKEN_A}`, host: `evil.example:${new URL(http.url).port}` });
    expect(host.status).toBe(403);
    const own = await rawPost(http.url, { authorization: `Bearer ${TOKEN_A}`, origin: new URL(http.url).origin });
    expect(own.status).toBe(200);
  });

  it("binds each session to its token's grant: alice sees and touches only her environment", async () => {
    const { client, transport } = await connect(http.url, TOKEN_A);
    try {
      const { tools } = await client.listTools();
      const advertised = tools.find((tool) => tool.name === "install_package")?.inputSchema.properties?.environment as { enum?: string[] } | undefined;
      expect(advertised?.enum).toEqual(["team_a"]);
      const envs = (await client.callTool({ name: "list_environments", arguments: {} })) as ToolResult;
      expect((envs.structuredContent as { environments: Array<{ name: string }> }).environments.map((env) => env.name)).toEqual(["team_a"]);
      const intoB = (await client.callTool({ name: "install_package", arguments: { package_name: "demo-lib", environment: "team_b" } })) as ToolResult;
      expect(intoB.isError).toBe(true);
      expect(resultText(intoB)).toContain('environment "team_b" is not configured; configured environments: "team_a"');
      const listB = (await client.callTool({ name: "list_installed_packages", arguments: { environment: "team_b" } })) as ToolResult;
      expect(listB.isError).toBe(true);
      const audit = await app.broker.audit.list({ identity: "alice", tool: "install_package" });
      expect(audit.at(-1)).toMatchObject({ outcome: "invalid" });

      // Bob's token cannot ride alice's session.
      const sessionId = transport.sessionId ?? "";
      expect(sessionId).not.toBe("");
      const hijack = await new Promise<number>((resolve, reject) => {
        const target = new URL(http.url);
        const req = request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: "POST",
            headers: {
              authorization: `Bearer ${TOKEN_B}`,
              "mcp-session-id": sessionId,
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }));
      });
      expect(hijack).toBe(403);
    } finally {
      await client.close();
    }
  });

  it("gives two clients with different tokens each their own grant's limits", async () => {
    const alice = await connect(http.url, TOKEN_A);
    const bob = await connect(http.url, TOKEN_B);
    try {
      const check = (client: Client, environment: string) =>
        client.callTool({ name: "check_package", arguments: { package_name: "demo-lib", environment } }) as Promise<ToolResult>;
      expect((await check(alice.client, "team_a")).isError).toBeFalsy();
      expect((await check(alice.client, "team_a")).isError).toBeFalsy();
      const third = await check(alice.client, "team_a");
      expect(third.isError).toBe(true);
      expect(resultText(third)).toMatch(/rate limited: checks allows 2 call\(s\) per minute for grant "alice".*retry after/);
      // Bob's calls count under his own grant.
      const bobFirst = await check(bob.client, "team_b");
      expect(bobFirst.isError).toBeFalsy();
      expect((bobFirst.structuredContent as { decision: { allowed: boolean } }).decision.allowed).toBe(true);
      expect((await check(bob.client, "team_b")).isError).toBeFalsy();
      expect((await check(bob.client, "team_b")).isError).toBe(true);
      expect((await app.broker.audit.list({ outcome: "rate-limited" })).map((record) => record.identity).sort()).toEqual(["alice", "bob"]);
    } finally {
      await alice.client.close();
      await bob.client.close();
    }
  });

  it("refuses a non-loopback bind unless asked, and parses listen addresses", async () => {
    const refused = await startHttpServer({
      listen: { host: "0.0.0.0", port: 0 },
      grantForToken: () => undefined,
      serverFor: () => {
        throw new Error("never called");
      },
      log: silentLogger(),
    });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toContain("--allow-remote");
    expect(parseListenAddress("127.0.0.1:8765")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 8765 } });
    expect(parseListenAddress("[::1]:9000")).toEqual({ ok: true, value: { host: "::1", port: 9000 } });
    expect(parseListenAddress("8080")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 8080 } });
    expect(parseListenAddress("host:99999").ok).toBe(false);
  });
});
