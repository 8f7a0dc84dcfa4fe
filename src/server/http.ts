import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { errorMessage, type Result } from "../errors.js";
import { bearerToken } from "../grants/tokens.js";
import type { Logger } from "../log.js";

/** Where `--http` listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[V6]:PORT` or a bare `PORT` (loopback). */
export function parseListenAddress(text: string): Result<ListenAddress> {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    return { ok: false, error: `--http takes HOST:PORT (e.g. 127.0.0.1:8765), not ${JSON.stringify(text)}` };
  }
  const host = (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, "");
  return { ok: true, value: { host, port } };
}

/** Whether a host name or address only ever reaches this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

export interface HttpServeOptions {
  listen: ListenAddress;
  /** Binding anything but loopback needs this, on purpose. */
  allowRemote?: boolean;
  /** Further Host header values to accept (a reverse proxy's name); loopback names are accepted for a loopback bind. */
  allowedHosts?: readonly string[];
  /** Further browser origins to accept; requests without an Origin header (non-browser clients) are accepted. */
  allowedOrigins?: readonly string[];
  /** The grant behind a bearer token, or undefined. */
  grantForToken: (token: string) => string | undefined;
  /** A fresh MCP server whose every call comes from `grant`: one per session. */
  serverFor: (grant: string) => { server: McpServer; close: () => Promise<void> };
  log: Logger;
}

export interface HttpServer {
  url: string;
  /** open sessions, for `doctor` and tests */
  sessionCount(): number;
  close(): Promise<void>;
}

interface Session {
  grant: string;
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MCP_PATH = "/mcp";

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<Result<unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false, error: `request body larger than ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown };
  } catch (error) {
    return { ok: false, error: `request body is not JSON: ${errorMessage(error)}` };
  }
}

/**
 * `pipgate serve --http`: the SDK's Streamable HTTP transport behind node:http. Before the SDK sees a
 * request, the Host header and any Origin must name this server (DNS rebinding: 403), and a bearer token
 * must open a grant (401 with `WWW-Authenticate: Bearer`). Each session gets its own MCP server and
 * transport, bound to the grant that opened it; a session id presented with another grant's token is 403.
 */
export async function startHttpServer(options: HttpServeOptions): Promise<Result<HttpServer>> {
  const { listen, log } = options;
  if (!isLoopback(listen.host) && options.allowRemote !== true) {
    return { ok: false, error: `refusing to listen on ${listen.host}, which is not a loopback address; pass --allow-remote if that is really meant (and put TLS in front)` };
  }
  const sessions = new Map<string, Session>();
  const allowedHosts = new Set<string>();
  const allowedOrigins = new Set<string>((options.allowedOrigins ?? []).map((origin) => origin.toLowerCase()));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.has(host)) return refuse(res, 403, `Host ${JSON.stringify(host)} is not this server`);
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) return refuse(res, 403, `Origin ${JSON.stringify(origin)} is not allowed`);
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== MCP_PATH) return refuse(res, 404, `the MCP endpoint is ${MCP_PATH}`);

    const token = bearerToken(req.headers.authorization);
    const grant = token === undefined ? undefined : options.grantForToken(token);
    if (grant === undefined) {
      const challenge = token === undefined ? 'Bearer realm="pipgate"' : 'Bearer realm="pipgate", error="invalid_token"';
      return refuse(res, 401, token === undefined ? "a bearer token is required" : "the bearer token opens no grant", { "www-authenticate": challenge });
    }

    const sessionHeader = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (session === undefined) return refuse(res, 404, "no such session; initialize a new one");
      if (session.grant !== grant) return refuse(res, 403, "this session belongs to another grant");
      return session.transport.handleRequest(req, res);
    }
    if (req.method !== "POST") return refuse(res, 400, "no session: send an initialize request first");
    const body = await readJson(req);
    if (!body.ok) return refuse(res, 400, body.error);
    if (!isInitializeRequest(body.value)) return refuse(res, 400, "no session: the first request must be initialize");

    const { server, close } = options.serverFor(grant);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { grant, transport, close });
        log.info({ grant, session: id }, "MCP session opened");
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && sessions.delete(id)) log.info({ grant, session: id }, "MCP session closed");
      void close().catch(() => undefined);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body.value);
  }

  const http = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: errorMessage(error) }, "HTTP request failed");
      refuse(res, 500, "internal error");
    });
  });
  const listening = await new Promise<Result<AddressInfo>>((resolve) => {
    http.once("error", (error) => resolve({ ok: false, error: `cannot listen on ${hostPort(listen.host, listen.port)}: ${errorMessage(error)}` }));
    http.listen(listen.port, listen.host, () => resolve({ ok: true, value: http.address() as AddressInfo }));
  });
  if (!listening.ok) return listening;
  const port = listening.value.port;
  const names = isLoopback(listen.host) ? ["127.0.0.1", "localhost", "::1", listen.host] : [listen.host];
  for (const name of names) {
    allowedHosts.add(hostPort(name, port).toLowerCase());
    allowedOrigins.add(`http://${hostPort(name, port)}`.toLowerCase());
  }
  for (const extra of options.allowedHosts ?? []) allowedHosts.add(extra.toLowerCase());
  const url = `http://${hostPort(listen.host, port)}${MCP_PATH}`;

  return {
    ok: true,
    value: {
      url,
      sessionCount: () => sessions.size,
      async close() {
        const open = [...sessions.values()];
        sessions.clear();
        await Promise.all(open.map((session) => session.transport.close().catch(() => undefined)));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      },
    },
  };
}
