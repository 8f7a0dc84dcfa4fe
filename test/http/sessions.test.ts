import { Agent } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { HttpSchema, type HttpConfig } from "../../src/config/schema.js";
import { hashToken } from "../../src/grants/tokens.js";
import { openPipgate, type Pipgate } from "../../src/app.js";
import { silentLogger } from "../../src/log.js";
import { createServer } from "../../src/server/create-server.js";
import { startHttpServer, type HttpServer } from "../../src/server/http.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { oversizedPost, openStream, rawInitialize, rawPing, rawRequest } from "./raw-http.js";

const TOKENS = { alice: "alice-token-0123456789", bob: "bob-token-0123456789", carol: "carol-token-0123456789" } as const;

/** Waits for a condition the server reaches on its own (the sweep); fails with `what` if it never does. */
async function until(what: string, condition: () => boolean, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function jsonRpcError(body: string): { code: number; message: string } {
  const parsed = JSON.parse(body) as { jsonrpc: string; error: { code: number; message: string } };
  expect(parsed.jsonrpc).toBe("2.0");
  return parsed.error;
}

async function connect(url: string, token: string, sessionId?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { sessionId, requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "pipgate-sessions-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

describe("HTTP sessions: idle expiry, caps, body limit", () => {
  let ws: Workspace;
  let app: Pipgate;
  let http: HttpServer | undefined;
  /** MCP servers closed, over all servers started here: each closed session must close its server. */
  let serversClosed = 0;

  async function start(limits: Partial<HttpConfig>): Promise<HttpServer> {
    const started = await startHttpServer({
      listen: { host: "127.0.0.1", port: 0 },
      grantForToken: (token) => app.control.access.grantForToken(token),
      serverFor: (grant) => {
        const made = createServer(app.serverDeps(grant));
        return {
          server: made.server,
          close: async () => {
            serversClosed += 1;
            await made.close();
          },
        };
      },
      limits: { ...HttpSchema.parse({}), ...limits },
      log: silentLogger(),
    });
    if (!started.ok) throw new Error(started.error);
    http = started.value;
    return started.value;
  }

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: {
        grants: Object.fromEntries(Object.entries(TOKENS).map(([name, token]) => [name, { environments: ["default"], token_sha256: hashToken(token) }])),
      },
    });
    const loaded = loadConfig(ws.configPath);
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const opened = await openPipgate(loaded.config, silentLogger());
    if (!opened.ok) throw new Error(opened.issues.join("\n"));
    app = opened.value;
  });

  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  afterAll(async () => {
    app?.close();
    await ws?.close();
  });

  it("expires an idle session: its id then gets 404 with a JSON-RPC error, and the client initializes anew", async () => {
    const server = await start({ session_idle_seconds: 0.5 });
    const first = await connect(server.url, TOKENS.alice);
    expect((await first.client.listTools()).tools.length).toBeGreaterThan(0);
    const staleId = first.transport.sessionId ?? "";
    expect(staleId).not.toBe("");
    // The client goes away without ending its session (no DELETE): only the idle timer can reclaim it.
    await first.transport.close();
    const closedBefore = serversClosed;
    await until("the abandoned session expires", () => server.sessionCount() === 0);
    expect(server.sessionStats()).toMatchObject({ open: 0, opened: 1, expired: 1, evicted: 0 });
    expect(serversClosed).toBe(closedBefore + 1);

    const raw = await rawPing(server.url, TOKENS.alice, staleId);
    expect(raw.status).toBe(404);
    const error = jsonRpcError(raw.body);
    expect(error.code).toBe(-32001);
    expect(error.message).toMatch(/Session not found.*idle longer than 0\.5 s.*new initialize request without Mcp-Session-Id/);

    // An SDK client still holding the stale id is told 404 too, and a fresh session works.
    const stale = new Client({ name: "stale", version: "1.0.0" });
    const staleTransport = new StreamableHTTPClientTransport(new URL(server.url), {
      sessionId: staleId,
      requestInit: { headers: { authorization: `Bearer ${TOKENS.alice}` } },
    });
    await stale.connect(staleTransport).catch(() => undefined);
    const refused = await staleTransport.send({ jsonrpc: "2.0", id: 5, method: "ping" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(404);
    await staleTransport.close();

    const again = await connect(server.url, TOKENS.alice);
    try {
      expect(again.transport.sessionId).not.toBe(staleId);
      const envs = await again.client.callTool({ name: "list_environments", arguments: {} });
      expect(envs.isError).toBeFalsy();
    } finally {
      await again.client.close();
    }
  });

  it("never expires a session with an open stream: a connected client outlives an abandoned one", async () => {
    const server = await start({ session_idle_seconds: 0.5 });
    const live = await connect(server.url, TOKENS.alice);
    try {
      // The SDK client holds its standalone GET stream open; a raw session has nothing in flight.
      await until("the client's stream is open", () => server.sessionStats().busy === 1);
      const abandoned = await rawInitialize(server.url, TOKENS.bob);
      expect(abandoned.status).toBe(200);
      await until("the raw session expires", () => server.sessionStats().expired === 1);
      expect(server.sessionStats()).toMatchObject({ open: 1, busy: 1 });
      expect((await rawPing(server.url, TOKENS.bob, abandoned.sessionId ?? "")).status).toBe(404);
      expect((await live.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await live.client.close();
    }
  });

  it("at the per-grant cap closes that grant's least recently used idle session, refuses when all are busy, and leaves other grants alone", async () => {
    const server = await start({ session_idle_seconds: 600, max_sessions_per_grant: 2, max_sessions: 3 });
    const a1 = await rawInitialize(server.url, TOKENS.alice);
    const a2 = await rawInitialize(server.url, TOKENS.alice);
    expect([a1.status, a2.status]).toEqual([200, 200]);
    const a1Id = a1.sessionId ?? "";
    const a2Id = a2.sessionId ?? "";
    // a1 used more recently than a2: a2 is now the least recently used.
    expect((await rawPing(server.url, TOKENS.alice, a1Id)).status).toBe(200);

    const a3 = await rawInitialize(server.url, TOKENS.alice);
    expect(a3.status).toBe(200);
    const a3Id = a3.sessionId ?? "";
    expect(server.sessionStats()).toMatchObject({ open: 2, evicted: 1 });
    expect((await rawPing(server.url, TOKENS.alice, a2Id)).status).toBe(404);
    expect((await rawPing(server.url, TOKENS.alice, a1Id)).status).toBe(200);

    // Both of alice's sessions busy (an open stream each): a third is refused, naming the cap.
    const streams = [await openStream(server.url, TOKENS.alice, a1Id), await openStream(server.url, TOKENS.alice, a3Id)];
    try {
      expect(streams.map((s) => s.status)).toEqual([200, 200]);
      const refused = await rawInitialize(server.url, TOKENS.alice);
      expect(refused.status).toBe(429);
      expect(refused.sessionId).toBeUndefined();
      expect(jsonRpcError(refused.body).message).toMatch(/grant "alice" already has 2 open sessions.*http\.max_sessions_per_grant is 2.*DELETE/);
      expect(server.sessionStats()).toMatchObject({ open: 2, refused: 1 });

      // Bob is not held back by alice's cap.
      const b1 = await rawInitialize(server.url, TOKENS.bob);
      expect(b1.status).toBe(200);
      expect((await rawPing(server.url, TOKENS.bob, b1.sessionId ?? "")).status).toBe(200);
    } finally {
      for (const stream of streams) await stream.close();
    }
    // With its streams closed, alice's sessions are idle again: the next initialize takes her older one.
    const a4 = await rawInitialize(server.url, TOKENS.alice);
    expect(a4.status).toBe(200);
    expect(server.sessionCount()).toBe(3);
  });

  it("at the total cap refuses a grant with no idle session of its own (503) and never closes another grant's", async () => {
    const server = await start({ session_idle_seconds: 600, max_sessions_per_grant: 2, max_sessions: 3 });
    const a1 = await rawInitialize(server.url, TOKENS.alice);
    const a2 = await rawInitialize(server.url, TOKENS.alice);
    const b1 = await rawInitialize(server.url, TOKENS.bob);
    expect([a1.status, a2.status, b1.status]).toEqual([200, 200, 200]);

    // Carol holds nothing to give up, and the others' idle sessions are not hers to close.
    const refused = await rawInitialize(server.url, TOKENS.carol);
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("600");
    expect(jsonRpcError(refused.body).message).toMatch(/already holds 3 open sessions \(http\.max_sessions is 3\) and grant "carol" has no idle one/);
    for (const [token, id] of [
      [TOKENS.alice, a1.sessionId],
      [TOKENS.alice, a2.sessionId],
      [TOKENS.bob, b1.sessionId],
    ] as const) {
      expect((await rawPing(server.url, token, id ?? "")).status).toBe(200);
    }
    expect(server.sessionStats()).toMatchObject({ open: 3, evicted: 0, refused: 1 });

    // Bob, below his own cap but at the total one, gives up his own idle session.
    const b2 = await rawInitialize(server.url, TOKENS.bob);
    expect(b2.status).toBe(200);
    expect((await rawPing(server.url, TOKENS.bob, b1.sessionId ?? "")).status).toBe(404);
    expect((await rawPing(server.url, TOKENS.alice, a1.sessionId ?? "")).status).toBe(200);
    expect(server.sessionStats()).toMatchObject({ open: 3, evicted: 1 });
  });

  it("answers 413 to a body over the cap while it is still arriving, closes the connection, and the session lives on", async () => {
    const cap = 64 * 1024;
    const server = await start({ max_body_bytes: cap });
    const auth = { authorization: `Bearer ${TOKENS.alice}` };
    // Declared too large: refused on the headers, with only a part sent and the body never ended.
    const declared = await oversizedPost(server.url, auth, 4 * cap, 64 * 1024 * 1024);
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe("close");
    expect(jsonRpcError(declared.body).message).toMatch(/request body larger than 65536 bytes \(http\.max_body_bytes in pipgate\.yaml\)/);
    // Chunked, no length: refused as soon as the cap is passed, while the client is still sending.
    const chunked = await oversizedPost(server.url, auth, 4 * cap, undefined);
    expect(chunked.status).toBe(413);
    expect(server.sessionCount()).toBe(0);

    // On an open session: the oversized request is refused, the session still answers.
    const session = await rawInitialize(server.url, TOKENS.alice);
    expect(session.status).toBe(200);
    const onSession = await oversizedPost(server.url, { ...auth, "mcp-session-id": session.sessionId ?? "" }, 4 * cap, undefined);
    expect(onSession.status).toBe(413);
    expect((await rawPing(server.url, TOKENS.alice, session.sessionId ?? "")).status).toBe(200);
    // A body just under the cap is read and parsed as usual (here: not JSON-RPC, so 400, not 413).
    const under = await rawRequest(server.url, { headers: auth, body: JSON.stringify({ pad: "x".repeat(cap - 100) }) });
    expect(under.status).toBe(400);
  });

  it("reclaims 3,000 abandoned sessions after the idle timeout", async () => {
    const total = 3000;
    const server = await start({ session_idle_seconds: 1, max_sessions_per_grant: total, max_sessions: total });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const closedBefore = serversClosed;
    const ids = new Set<string>();
    try {
      let next = 0;
      const worker = async () => {
        while (next < total) {
          next += 1;
          const opened = await rawInitialize(server.url, TOKENS.alice, agent);
          if (opened.status === 200 && opened.sessionId !== undefined) ids.add(opened.sessionId);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      agent.destroy();
    }
    expect(ids.size).toBe(total);
    expect(server.sessionStats()).toMatchObject({ opened: total, evicted: 0, refused: 0 });
    await until("every abandoned session expires", () => server.sessionCount() === 0);
    expect(server.sessionStats()).toMatchObject({ open: 0, opened: total, expired: total });
    await until("every session's MCP server is closed", () => serversClosed - closedBefore === total);
  }, 180_000);

  it("validates the http keys", () => {
    expect(HttpSchema.parse({})).toEqual({ session_idle_seconds: 300, max_sessions_per_grant: 32, max_sessions: 256, max_body_bytes: 1024 * 1024 });
    const bad = HttpSchema.safeParse({ session_idle_seconds: 0, max_body_bytes: "big" });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((issue) => issue.path.join("."))).toEqual(["session_idle_seconds", "max_body_bytes"]);
  });
});
